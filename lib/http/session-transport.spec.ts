import { describe, expect, it } from 'vitest';
import { parentDomains } from './session-transport.js';

describe('parentDomains', () => {
  it.each([
    ['app.example.com', ['example.com']],
    ['app.example.com:8443', ['example.com']],
    ['APP.Example.COM.', ['example.com']],
    ['a.b.eu.example.com', ['b.eu.example.com', 'eu.example.com', 'example.com']],
    [
      'a.b.c.d.e.f.example.com',
      ['c.d.e.f.example.com', 'd.e.f.example.com', 'e.f.example.com', 'f.example.com', 'example.com'].slice(
        -4,
      ),
    ],
  ])('lists the parent domains of %s a sibling could plant cookies on', (host, parents) => {
    expect(parentDomains(host)).toEqual(parents);
  });

  it.each([
    undefined,
    '',
    'localhost',
    'localhost:3000',
    'example.com',
    '127.0.0.1',
    '127.0.0.1:80',
    '[::1]:3000',
    'a.b;c.com',
    'a..example.com',
    'x.exa mple.com',
  ])('lists none for %j', (host) => {
    expect(parentDomains(host)).toEqual([]);
  });
});

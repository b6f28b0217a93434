import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { targetPathname } from './bodyless-routes.js';

// Express routes by `parseurl(req).pathname`; the fallback must agree with it.
const parseurl = createRequire(import.meta.url)('parseurl') as (request: { url: string }) => {
  pathname: string | null;
};

describe('targetPathname', () => {
  it.each([
    '/session/refresh',
    '/session/refresh?a=1',
    '/session/refresh?a=/x#y',
    '/session/refresh#fragment',
    '/session/refresh/',
    '/Session/Refresh',
    '/session/refresh;a=1',
    '/session%2Frefresh',
    '//x/session/refresh',
    '/a/../session/refresh',
    'http://x/session/refresh',
    'http://x/session/refresh?a=1#b',
    'http://user@x:8080/session/refresh',
  ])('reads %s as parseurl does', (url) => {
    expect(targetPathname(url)).toBe(parseurl({ url }).pathname);
  });
});

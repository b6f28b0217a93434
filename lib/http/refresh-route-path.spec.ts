import { describe, expect, it } from 'vitest';
import { assertBrowserPath, cookiePathCovers, refreshCookiePath } from './refresh-route-path.js';

describe('cookiePathCovers', () => {
  it.each([
    ['/', '/v1/session/refresh', true],
    ['/v1', '/v1/session/refresh', true],
    ['/v1/session/refresh', '/v1/session/refresh', true],
    ['/v1/session/refresh/', '/v1/session/refresh', true],
    ['/v1/sess', '/v1/session/refresh', false],
    ['/v2', '/v1/session/refresh', false],
    ['/v1/session/refresh/more', '/v1/session/refresh', false],
    ['/api', '/api/:tenant/session/refresh', true],
    ['/api/acme', '/api/:tenant/session/refresh', false],
    ['/api/:tenant', '/api/:tenant/session/refresh', false],
  ])('%s covers %s: %s', (cookiePath, routePath, expected) => {
    expect(cookiePathCovers(cookiePath, routePath)).toBe(expected);
  });
});

describe('refreshCookiePath', () => {
  it('is the one literal served path', () => {
    expect(refreshCookiePath(['/api/v1/session/refresh'], undefined)).toBe('/api/v1/session/refresh');
  });

  it('is the configured cookiePath when it covers every served path', () => {
    expect(refreshCookiePath(['/v1/session/refresh', '/v2/session/refresh'], '/')).toBe('/');
  });

  it.each([
    [['/v1/session/refresh', '/v2/session/refresh'], undefined, /served at '\/v1\/session\/refresh', '\/v2/],
    [['/:tenant/session/refresh'], undefined, /whose route parameter no cookie path can express/],
    [['/{*rest}/session/refresh'], undefined, /whose route parameter/],
    [['/v1/session/refresh'], '/session/refresh', /does not cover the refresh route served at '\/v1/],
  ])('refuses %j with cookiePath %s', (served, cookiePath, message) => {
    expect(() => refreshCookiePath(served, cookiePath)).toThrow(message);
  });
});

describe('assertBrowserPath', () => {
  it.each(['/', '/session/refresh', "/a-b_c.d~e!$&'()*+,=:@/refresh", '/already%20encoded'])(
    'accepts %s, which browsers send as it is',
    (path) => {
      expect(assertBrowserPath(path, false)).toBe(path);
    },
  );

  it.each([
    ['/my api/refresh', /it sends '\/my%20api\/refresh'/],
    ['/sessão/refresh', /it sends '\/sess%C3%A3o\/refresh'/],
    ['/a/../refresh', /it sends '\/refresh'/],
    ['/a\\b', /it sends '\/a\/b'/],
    ['/a?b', /it sends '\/a'/],
    ['/a#b', /it sends '\/a'/],
    ['/a{b}', /it sends '\/a%7Bb%7D'/],
    ['/a;b', /a character a cookie Path cannot carry/],
  ])('refuses %s', (path, message) => {
    expect(() => assertBrowserPath(path, false)).toThrow(message);
  });
});

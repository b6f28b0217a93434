import { describe, expect, it } from 'vitest';
import {
  NO_TRUSTED_ORIGINS,
  isAllowedUpgradeOrigin,
  isSameOriginUpgrade,
  resolveTrustedOrigins,
} from './trusted-origins.js';
import { bareOrigin } from './wire.js';

const configError = (message: string) => new Error(message);
const resolve = (option: Parameters<typeof resolveTrustedOrigins>[0]) =>
  resolveTrustedOrigins(option, configError);
const upgrade = (origin: string | undefined, host = 'api.example.com') =>
  origin === undefined ? { host } : { host, origin };

describe('bareOrigin', () => {
  it.each([
    ['https://app.example.com', 'https://app.example.com'],
    ['HTTPS://App.EXAMPLE.com', 'https://app.example.com'],
    ['https://app.example.com:443', 'https://app.example.com'],
    ['http://app.example.com:80', 'http://app.example.com'],
    ['https://app.example.com/', 'https://app.example.com'],
    ['http://localhost:5173', 'http://localhost:5173'],
    ['https://app.example.com:8443', 'https://app.example.com:8443'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
    ['https://bücher.example', 'https://xn--bcher-kva.example'],
  ])('normalises %s to %s', (value, expected) => {
    expect(bareOrigin(value)).toBe(expected);
  });

  it.each([
    'null',
    '*',
    '',
    'app.example.com',
    'https://*.example.com',
    'https://app.example.com/path',
    'https://app.example.com?',
    'https://app.example.com#x',
    'https://user:pass@app.example.com',
    'ftp://app.example.com',
    'chrome-extension://abcdefghijklmnop',
    'file:///home/user/page.html',
    'https://app.example.com%2A',
    'https://%2A.example.com',
  ])('is not an origin: %s', (value) => {
    expect(bareOrigin(value)).toBeUndefined();
  });
});

describe('resolveTrustedOrigins', () => {
  it('trusts nothing besides the server when the option is unset', () => {
    expect(resolve(undefined)).toBe(NO_TRUSTED_ORIGINS);
  });

  it('normalises and de-duplicates exact origins and keeps functions', () => {
    const check = (origin: string) => origin.endsWith('.preview.example.com');
    expect(resolve(['HTTPS://App.Example.com:443', 'https://app.example.com', check])).toEqual({
      origins: ['https://app.example.com'],
      checks: [check],
    });
    expect(resolve(check)).toEqual({ origins: [], checks: [check] });
  });

  it("refuses '*' and says that trusting every origin reopens cross-site WebSocket hijacking", () => {
    expect(() => resolve(['https://app.example.com', '*'])).toThrow(
      /trustedOrigins\[1\] is '\*'.*cross-site WebSocket hijacking.*RFC 6455 §10\.2.*function/s,
    );
  });

  it('refuses a wildcard inside a string and suggests a function', () => {
    expect(() => resolve(['https://*.example.com'])).toThrow(/wildcards.*Pass a function/s);
  });

  it.each(['https://app.example.com/app', 'app.example.com', 'ws://app.example.com', 'null', 42])(
    'refuses the entry %s, showing what an origin looks like',
    (entry) => {
      expect(() => resolve([entry as string])).toThrow(
        /trustedOrigins\[0\] must be an origin.*no path.*'https:\/\/app\.example\.com'/s,
      );
    },
  );

  it('refuses a single string, which would be read as a list of characters', () => {
    expect(() => resolve('https://app.example.com' as never)).toThrow(/must be an array of origins/);
  });
});

describe('isAllowedUpgradeOrigin', () => {
  const trusted = resolve([
    'https://app.example.com',
    (origin) => origin === 'https://pr-7.preview.example.com',
  ]);

  it('allows no Origin, the server’s own origin and the trusted ones', () => {
    expect(isAllowedUpgradeOrigin(upgrade(undefined), NO_TRUSTED_ORIGINS)).toBe(true);
    expect(isAllowedUpgradeOrigin(upgrade('https://api.example.com'), NO_TRUSTED_ORIGINS)).toBe(true);
    expect(isAllowedUpgradeOrigin(upgrade('https://app.example.com'), trusted)).toBe(true);
    expect(isAllowedUpgradeOrigin(upgrade('https://APP.example.com:443'), trusted)).toBe(true);
    expect(isAllowedUpgradeOrigin(upgrade('https://pr-7.preview.example.com'), trusted)).toBe(true);
  });

  it.each([
    'https://evil.example',
    'http://app.example.com',
    'https://app.example.com:8443',
    'https://app.example.com.evil.example',
    'https://pr-8.preview.example.com',
    'null',
  ])('refuses %s', (origin) => {
    expect(isAllowedUpgradeOrigin(upgrade(origin), trusted)).toBe(false);
  });

  it('never asks a function about an Origin that is not an http(s) origin', () => {
    const asked: string[] = [];
    const everything = resolve((origin) => (asked.push(origin), true));
    expect(isAllowedUpgradeOrigin(upgrade('null'), everything)).toBe(false);
    expect(isAllowedUpgradeOrigin(upgrade('file:///tmp/page.html'), everything)).toBe(false);
    expect(isAllowedUpgradeOrigin(upgrade('HTTPS://Other.example:443'), everything)).toBe(true);
    expect(asked).toEqual(['https://other.example']);
  });

  it('trusts only a function answering exactly true', () => {
    const truthy = resolve((() => 'yes') as never);
    expect(isAllowedUpgradeOrigin(upgrade('https://other.example'), truthy)).toBe(false);
  });

  it.each([
    ['same-origin', 'empty'],
    ['same-origin', 'websocket'],
    ['none', 'empty'],
    [undefined, undefined],
  ])(
    'allows no Origin with sec-fetch-site %s and sec-fetch-dest %s (own fetch, not a browser)',
    (site, dest) => {
      const headers = { host: 'api.example.com', 'sec-fetch-site': site, 'sec-fetch-dest': dest };
      expect(isAllowedUpgradeOrigin(headers, trusted)).toBe(true);
    },
  );

  it.each([
    ['cross-site', 'empty'],
    ['same-site', 'empty'],
    ['cross-site', 'websocket'],
    ['same-site', 'script'],
    // A <script src> of the page's own origin is still a script: JSONP polling is refused.
    ['same-origin', 'script'],
    [undefined, 'script'],
  ])(
    'refuses no Origin with sec-fetch-site %s and sec-fetch-dest %s (another site or a script)',
    (site, dest) => {
      const headers = { host: 'api.example.com', 'sec-fetch-site': site, 'sec-fetch-dest': dest };
      expect(isAllowedUpgradeOrigin(headers, trusted)).toBe(false);
    },
  );

  it('httpsOnly: refuses an http: page on the server’s host, still allows https: and trusted origins', () => {
    expect(isAllowedUpgradeOrigin(upgrade('http://api.example.com'), trusted, true)).toBe(false);
    expect(isAllowedUpgradeOrigin(upgrade('http://api.example.com'), trusted, false)).toBe(true);
    expect(isAllowedUpgradeOrigin(upgrade('https://api.example.com'), trusted, true)).toBe(true);
    expect(isAllowedUpgradeOrigin(upgrade('https://app.example.com'), trusted, true)).toBe(true);
    expect(isAllowedUpgradeOrigin(upgrade(undefined), trusted, true)).toBe(true);
  });
});

describe('isSameOriginUpgrade', () => {
  it('compares the Origin’s host and port with Host, either scheme unless httpsOnly', () => {
    expect(isSameOriginUpgrade(upgrade('http://api.example.com'))).toBe(true);
    expect(isSameOriginUpgrade(upgrade('https://api.example.com'))).toBe(true);
    expect(isSameOriginUpgrade(upgrade('https://api.example.com:8443'))).toBe(false);
    expect(isSameOriginUpgrade(upgrade('https://app.example.com'))).toBe(false);
  });

  it('httpsOnly: an http: page is another origin, except on a loopback host (development)', () => {
    expect(isSameOriginUpgrade(upgrade('http://api.example.com'), true)).toBe(false);
    expect(isSameOriginUpgrade(upgrade('https://api.example.com'), true)).toBe(true);
    expect(isSameOriginUpgrade(upgrade('http://localhost:3000', 'localhost:3000'), true)).toBe(true);
    expect(isSameOriginUpgrade(upgrade('http://127.0.0.1:3000', '127.0.0.1:3000'), true)).toBe(true);
    expect(isSameOriginUpgrade(upgrade('http://[::1]:3000', '[::1]:3000'), true)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { SessionError } from './errors/session.error.js';
import type { SessionModuleOptions } from './interfaces/session-options.interface.js';
import { DEFAULT_SESSION_OPTIONS, resolveSessionOptions } from './session.options.js';

const secret = 'a-long-random-secret-for-the-options-spec-0123456789';

function startupError(options: Partial<SessionModuleOptions>): SessionError {
  try {
    resolveSessionOptions({ secret, ...options } as SessionModuleOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(SessionError);
    expect((error as SessionError).type).toBe('GENERAL_ERROR');
    return error as SessionError;
  }
  throw new Error('expected the configuration to be refused');
}

describe('resolveSessionOptions', () => {
  it('applies every documented default', () => {
    const resolved = resolveSessionOptions({ secret });
    expect(resolved).toEqual({ secret, ...DEFAULT_SESSION_OPTIONS, databaseTimeout: 5 });
    expect(resolved.accessToken.validity).toBe(900);
    expect(resolved.refreshToken.validity).toBe(8_640_000);
    expect(resolved.refreshToken.gracePeriod).toBe(10);
    expect(resolved.cookie).toEqual({ secure: true, sameSite: 'lax', namePrefix: '' });
    expect(resolved.antiCsrf).toBe('token');
  });

  it('deep-merges nested options without dropping sibling defaults', () => {
    const resolved = resolveSessionOptions({
      secret,
      accessToken: { validity: 60, signingKey: { updateInterval: 3600 } },
      cookie: { domain: 'example.com' },
    });
    expect(resolved.accessToken).toMatchObject({ validity: 60, algorithm: 'HS256', clockTolerance: 5 });
    expect(resolved.accessToken.signingKey).toEqual({ dynamic: true, updateInterval: 3600 });
    expect(resolved.cookie).toEqual({ domain: 'example.com', secure: true, sameSite: 'lax', namePrefix: '' });
  });

  it('refuses a missing or short secret and says how to make one', () => {
    expect(startupError({ secret: undefined }).message).toMatch(/openssl rand/);
    expect(startupError({ secret: 'short' }).message).toMatch(/at least 32/);
    expect(startupError({ secret: 'a'.repeat(40) }).message).toMatch(/placeholder/);
  });

  it('bounds database waits by half the grace period unless told otherwise', () => {
    expect(resolveSessionOptions({ secret, refreshToken: { gracePeriod: 4 } }).databaseTimeout).toBe(2);
    expect(resolveSessionOptions({ secret, refreshToken: { gracePeriod: 60 } }).databaseTimeout).toBe(5);
    expect(resolveSessionOptions({ secret, databaseTimeout: 3 }).databaseTimeout).toBe(3);
  });

  it("accepts cookie.namePrefix '__Host-' with the default secure and no domain", () => {
    expect(resolveSessionOptions({ secret, cookie: { namePrefix: '__Host-' } }).cookie.namePrefix).toBe(
      '__Host-',
    );
  });

  it.each([
    [{ refreshToken: { gracePeriod: 61 } }, /gracePeriod must be between 1 and 60/],
    [{ refreshToken: { gracePeriod: 0 } }, /gracePeriod/],
    [{ refreshToken: { path: 'session/refresh' } }, /absolute path/],
    [{ accessToken: { validity: -1 } }, /accessToken.validity must be a positive/],
    [{ accessToken: { validity: 100, clockTolerance: 100 } }, /longer than accessToken.clockTolerance/],
    [
      { accessToken: { validity: 7200 }, refreshToken: { validity: 3600 } },
      /must not exceed refreshToken.validity/,
    ],
    [{ accessToken: { algorithm: 'HS512' as never } }, /accessToken.algorithm must be one of/],
    [{ cookie: { sameSite: 'none' as const, secure: false } }, /needs cookie.secure/],
    [{ cookie: { sameSite: 'none' as const }, antiCsrf: 'none' as const }, /set antiCsrf/],
    [{ antiCsrf: 'off' as never }, /antiCsrf must be one of/],
    [{ cookie: { namePrefix: '__Secure-' as never } }, /cookie.namePrefix must be one of "", "__Host-"/],
    [
      { cookie: { namePrefix: '__Host-' as const, domain: 'example.com' } },
      /'__Host-' cannot be combined with cookie.domain \("example.com"\).*Remove cookie.domain/,
    ],
    [{ cookie: { namePrefix: '__Host-' as const, secure: false } }, /'__Host-' needs cookie.secure: true/],
    [{ sessionExpiredStatusCode: 200 }, /sessionExpiredStatusCode/],
    [{ cleanupInterval: -5 }, /cleanupInterval/],
    [{ databaseTimeout: 6 }, /databaseTimeout \(6 s\) must be at most half of refreshToken.gracePeriod/],
    [{ databaseTimeout: 0 }, /databaseTimeout must be a positive/],
  ])('refuses %j with a message that says how to fix it', (options, message) => {
    expect(startupError(options as Partial<SessionModuleOptions>).message).toMatch(message);
  });
});

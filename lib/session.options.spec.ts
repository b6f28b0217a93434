import type { JWK } from 'jose';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionError } from './errors/session.error.js';
import type { AccessTokenAlgorithm, SessionModuleOptions } from './interfaces/session-options.interface.js';
import { DEFAULT_SESSION_OPTIONS, resolveSessionOptions } from './session.options.js';

const secret = 'a-long-random-secret-for-the-options-spec-0123456789';

const hmac = (bytes: number, kid = `hmac-${bytes}`): JWK => ({
  kty: 'oct',
  k: randomBytes(bytes).toString('base64url'),
  kid,
});
const privateJwk = (type: 'ec' | 'ed25519' | 'rsa', kid: string, modulusLength = 2048): JWK => {
  const { privateKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength })
        : generateKeyPairSync('ed25519');
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid };
};
const publicPart = ({ d: _d, ...jwk }: JWK): JWK => jwk;

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

  it('normalises trustedOrigins; an empty list is harmless with antiCsrf none', () => {
    expect(
      resolveSessionOptions({ secret, trustedOrigins: ['HTTPS://App.Example.com:443'] }).trustedOrigins,
    ).toEqual({ origins: ['https://app.example.com'], checks: [] });
    expect(resolveSessionOptions({ secret, trustedOrigins: [], antiCsrf: 'none' }).trustedOrigins).toEqual({
      origins: [],
      checks: [],
    });
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
    [{ cleanupBatchSize: 0 }, /cleanupBatchSize must be a whole number of rows from 1 to 10000, got 0/],
    [{ cleanupBatchSize: 2.5 }, /cleanupBatchSize/],
    [{ cleanupBatchPause: -1 }, /cleanupBatchPause must be a non-negative number of seconds/],
    [{ databaseTimeout: 6 }, /databaseTimeout \(6 s\) must be at most half of refreshToken.gracePeriod/],
    [{ databaseTimeout: 0 }, /databaseTimeout must be a positive/],
    [{ trustedOrigins: ['*'] }, /trustedOrigins\[0\] is '\*'.*cross-site WebSocket hijacking/s],
    [{ trustedOrigins: ['https://app.example.com/app'] }, /trustedOrigins\[0\] must be an origin/],
    [
      { trustedOrigins: ['https://app.example.com'], antiCsrf: 'none' as const },
      /trustedOrigins has no effect with antiCsrf 'none'/,
    ],
  ])('refuses %j with a message that says how to fix it', (options, message) => {
    expect(startupError(options as Partial<SessionModuleOptions>).message).toMatch(message);
  });

  it('accepts static keys of each algorithm, public keys after the signing one', () => {
    const ec = privateJwk('ec', 'ec-1');
    const accepted: [SessionModuleOptions['accessToken'], JWK[]][] = [
      [{ algorithm: 'HS256' }, [hmac(32, 'a'), hmac(64, 'b')]],
      [{ algorithm: 'ES256' }, [ec, publicPart({ ...privateJwk('ec', 'ec-0') })]],
      [{ algorithm: 'EdDSA' }, [{ ...privateJwk('ed25519', 'ed-1'), alg: 'EdDSA' }]],
      [{ algorithm: 'RS256' }, [privateJwk('rsa', 'rsa-1')]],
    ];
    for (const [accessToken, keys] of accepted) {
      const resolved = resolveSessionOptions({
        secret,
        accessToken: { ...accessToken, signingKey: { keys } },
      });
      expect(resolved.accessToken.signingKey.keys).toBe(keys);
    }
  });

  it.each([
    ['an empty list', 'HS256', () => [], /signingKey.keys must be a non-empty array of JWKs/],
    ['a list that is no array', 'HS256', () => ({}), /signingKey.keys must be a non-empty array of JWKs/],
    ['a key without a kid', 'HS256', () => [{ ...hmac(32), kid: undefined }], /keys\[0\] needs a "kid"/],
    ['a key that is no object', 'HS256', () => [hmac(32), null], /keys\[1\] needs a "kid"/],
    [
      'a 16-byte HMAC key',
      'HS256',
      () => [hmac(16)],
      /keys\[0\] is an HMAC key of 16 bytes; use at least 32 random bytes.*openssl rand/,
    ],
    ['an HMAC key without material', 'HS256', () => [{ kty: 'oct', kid: 'x' }], /HMAC key of 0 bytes/],
    [
      'a 1024-bit RSA key',
      'RS256',
      () => [privateJwk('rsa', 'rsa', 1024)],
      /keys\[0\] is an RSA key of 1024 bits; use at least 2048 bits/,
    ],
    [
      'a public key first',
      'ES256',
      () => [publicPart(privateJwk('ec', 'ec'))],
      /keys\[0\] is a public key, but the first key signs: put a private JWK \(with "d"\) first/,
    ],
    [
      'a key of another alg',
      'HS256',
      () => [{ ...privateJwk('ec', 'ec'), alg: 'ES256' }],
      /keys\[0\] has alg "ES256" but accessToken.algorithm is "HS256"; make them agree/,
    ],
    [
      'a key of another type than the algorithm',
      'HS256',
      () => [privateJwk('ec', 'ec')],
      /keys\[0\] is not a usable HS256 private JWK: HS256 needs a key with kty "oct"/,
    ],
    [
      'a key on another curve',
      'ES256',
      () => [privateJwk('ed25519', 'ed')],
      /keys\[0\] is not a usable ES256 private JWK: ES256 needs a key with kty "EC" and crv "P-256"/,
    ],
    [
      'key material that is no key',
      'ES256',
      () => [{ ...privateJwk('ec', 'ec'), x: 'AAAA' }],
      /keys\[0\] is not a usable ES256 private JWK: /,
    ],
    [
      'two keys with one kid',
      'HS256',
      () => [hmac(32, 'same'), hmac(32, 'same')],
      /signingKey.keys has two keys with kid "same"/,
    ],
  ] as [string, AccessTokenAlgorithm, () => unknown, RegExp][])(
    'refuses static keys with %s, saying how to fix it',
    (_label, algorithm, keys, message) => {
      const error = startupError({ accessToken: { algorithm, signingKey: { keys: keys() as JWK[] } } });
      expect(error.message).toMatch(/^nestjs-token-session: accessToken.signingKey.keys/);
      expect(error.message).toMatch(message);
    },
  );
});

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionError, type SessionModuleOptions } from '../../lib/index.js';
import { cookieNamed } from '../support/cookies.js';
import { createHttpApp, type HttpApp, type Registration } from '../support/http-app.js';
import { ACCESS_TOKEN_COOKIE } from '../../lib/http/wire.js';

/*
 * Every bad configuration of the issue fails start-up of a real Nest app (module compiled, app
 * initialised) with a GENERAL_ERROR whose message says what is wrong and how to fix it; with
 * forRoot and with forRootAsync alike.
 */

const sqlite = { type: 'sqljs' } as const;
const REGISTRATIONS: Registration[] = ['forRoot', 'useFactory'];

const hmac = (bytes: number, kid = `hmac-${bytes}`) => ({
  kty: 'oct',
  k: randomBytes(bytes).toString('base64url'),
  kid,
});
const rsa = (bits: number) => ({
  ...(generateKeyPairSync('rsa', { modulusLength: bits }).privateKey.export({ format: 'jwk' }) as JWK),
  kid: `rsa-${bits}`,
});
const ecPrivate = () => ({
  ...(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK),
  kid: 'ec-1',
});
const ecPublicOnly = () => {
  const { d: _d, ...publicPart } = ecPrivate();
  return { ...publicPart, kid: 'ec-public' };
};

type Options = Partial<Omit<SessionModuleOptions, 'secret'>> & { secret?: unknown };

const BAD_CONFIGURATIONS: [string, () => Options, RegExp][] = [
  [
    'a missing secret',
    () => ({ secret: undefined }),
    /`secret` must be a string of at least 32 random bytes.*openssl rand/s,
  ],
  ['an empty secret', () => ({ secret: '' }), /at least 32 random bytes.*openssl rand/s],
  [
    'a 31-byte secret',
    () => ({ secret: randomBytes(31).toString('base64url').slice(0, 31) }),
    /at least 32 random bytes.*openssl rand/s,
  ],
  [
    'a secret that is a Buffer',
    () => ({ secret: randomBytes(48) }),
    /`secret` must be a string.*environment variable/s,
  ],
  ['a placeholder secret', () => ({ secret: 'changeme'.repeat(6) }), /placeholder.*openssl rand/s],
  ['a secret of one repeated character', () => ({ secret: '0'.repeat(64) }), /placeholder.*openssl rand/s],
  [
    'a 16-byte static HMAC key',
    () => ({ accessToken: { signingKey: { keys: [hmac(16)] } } }),
    /HMAC key of 16 bytes; use at least 32 random bytes.*openssl rand/s,
  ],
  [
    'a static HMAC key without key material',
    () => ({ accessToken: { signingKey: { keys: [{ kty: 'oct', kid: 'empty' }] } } }),
    /HMAC key of 0 bytes; use at least 32/,
  ],
  [
    'a 1024-bit RSA key',
    () => ({ accessToken: { algorithm: 'RS256', signingKey: { keys: [rsa(1024)] } } }),
    /RSA key of 1024 bits; use at least 2048 bits/,
  ],
  [
    'a static key without a kid',
    () => ({
      accessToken: { signingKey: { keys: [{ kty: 'oct', k: randomBytes(32).toString('base64url') }] } },
    }),
    /needs a "kid"/,
  ],
  [
    'an empty list of static keys',
    () => ({ accessToken: { signingKey: { keys: [] } } }),
    /non-empty array of JWKs/,
  ],
  [
    'two static keys with one kid',
    () => ({ accessToken: { signingKey: { keys: [hmac(32, 'same'), hmac(32, 'same')] } } }),
    /two keys with kid "same"/,
  ],
  [
    'a static key of another algorithm',
    () => ({ accessToken: { algorithm: 'HS256', signingKey: { keys: [{ ...ecPrivate(), alg: 'ES256' }] } } }),
    /has alg "ES256" but accessToken.algorithm is "HS256"; make them agree/,
  ],
  [
    'a static key that can only verify (public part only)',
    () => ({ accessToken: { algorithm: 'ES256', signingKey: { keys: [ecPublicOnly()] } } }),
    /private/i,
  ],
  [
    "sameSite 'none' without secure",
    () => ({ cookie: { sameSite: 'none', secure: false } }),
    /cookie.sameSite 'none' needs cookie.secure: true/,
  ],
  [
    "sameSite 'none' with antiCsrf 'none'",
    () => ({ cookie: { sameSite: 'none' }, antiCsrf: 'none' }),
    /sameSite 'none' sends cookies on cross-site requests: set antiCsrf to 'token' or 'custom-header'/,
  ],
  [
    'an access token outliving its session',
    () => ({ accessToken: { validity: 7200 }, refreshToken: { validity: 3600 } }),
    /accessToken.validity \(7200 s\) must not exceed refreshToken.validity \(3600 s\)/,
  ],
  [
    'an access token no longer than the clock tolerance',
    () => ({ accessToken: { validity: 5, clockTolerance: 5 } }),
    /accessToken.validity \(5 s\) must be longer than accessToken.clockTolerance \(5 s\)/,
  ],
  [
    'a grace period over 60 s',
    () => ({ refreshToken: { gracePeriod: 61 } }),
    /gracePeriod must be between 1 and 60 seconds/,
  ],
  [
    'a grace period of 0',
    () => ({ refreshToken: { gracePeriod: 0 } }),
    /gracePeriod must be between 1 and 60 seconds/,
  ],
  [
    'a database timeout over half the grace period',
    () => ({ refreshToken: { gracePeriod: 4 }, databaseTimeout: 3 }),
    /databaseTimeout \(3 s\) must be at most half of refreshToken.gracePeriod \(4 s\)/,
  ],
  [
    'a validity given as a string',
    () => ({ accessToken: { validity: '900' as never } }),
    /accessToken.validity must be a positive number of seconds, got "900"/,
  ],
  [
    'a validity of NaN',
    () => ({ refreshToken: { validity: Number.NaN } }),
    /refreshToken.validity must be a positive number of seconds/,
  ],
  [
    'an absolute lifetime of 0',
    () => ({ refreshToken: { absoluteLifetime: 0 } }),
    /refreshToken.absoluteLifetime must be a positive number/,
  ],
  [
    "algorithm 'none'",
    () => ({ accessToken: { algorithm: 'none' as never } }),
    /accessToken.algorithm must be one of "HS256", "ES256", "EdDSA", "RS256"/,
  ],
  [
    "antiCsrf 'off'",
    () => ({ antiCsrf: 'off' as never }),
    /antiCsrf must be one of "token", "custom-header", "none"/,
  ],
  [
    'a relative refresh path',
    () => ({ refreshToken: { path: 'session/refresh' } }),
    /absolute path such as '\/session\/refresh'/,
  ],
  [
    'a 200 session-expired status',
    () => ({ sessionExpiredStatusCode: 200 }),
    /sessionExpiredStatusCode must be an HTTP error status/,
  ],
  ['a cookie domain that is a URL', () => ({ cookie: { domain: 'https://example.com' } }), /cookie.domain/],
  [
    'a cookie domain with a separator',
    () => ({ cookie: { domain: 'example.com; HttpOnly' } }),
    /cookie.domain/,
  ],
  [
    "trustedOrigins '*'",
    () => ({ trustedOrigins: ['https://app.example.com', '*'] }),
    /trustedOrigins\[1\] is '\*': trusting every origin .*cross-site WebSocket hijacking.*List the origins/s,
  ],
  [
    'a trusted origin with a wildcard',
    () => ({ trustedOrigins: ['https://*.example.com'] }),
    /trustedOrigins\[0\] is "https:\/\/\*\.example\.com": wildcards are not supported.*Pass a function/s,
  ],
  [
    'a trusted origin with a path',
    () => ({ trustedOrigins: ['https://app.example.com/app'] }),
    /trustedOrigins\[0\] must be an origin: .*no path.*got "https:\/\/app\.example\.com\/app"/s,
  ],
  [
    'a trusted origin that is not http(s)',
    () => ({ trustedOrigins: ['ws://app.example.com'] }),
    /trustedOrigins\[0\] must be an origin: 'http:\/\/' or 'https:\/\/'/,
  ],
  [
    "trustedOrigins with antiCsrf 'none'",
    () => ({ trustedOrigins: ['https://app.example.com'], antiCsrf: 'none' }),
    /trustedOrigins has no effect with antiCsrf 'none'.*remove trustedOrigins/s,
  ],
];

let http: HttpApp | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
});

/** Boots the fixture app (Express, SQLite); the start-up error, or `undefined` when it started. */
async function startupError(options: Options, registration: Registration): Promise<unknown> {
  try {
    http = await createHttpApp({
      adapter: 'express',
      database: sqlite,
      registration,
      options: options as Partial<SessionModuleOptions>,
    });
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('start-up configuration checks', () => {
  it('starts with a sound configuration and serves a login (control)', async () => {
    for (const registration of REGISTRATIONS) {
      const error = await startupError(
        {
          accessToken: { validity: 60, signingKey: { keys: [hmac(32)] } },
          cookie: { domain: 'example.com' },
        },
        registration,
      );
      expect(error).toBeUndefined();
      const login = await http!.request.post('/login').send({ userId: 'ok' }).expect(200);
      expect(cookieNamed(login, ACCESS_TOKEN_COOKIE)?.domain).toBe('example.com');
      await http!.close();
      http = undefined;
    }
  });

  it.each(BAD_CONFIGURATIONS)(
    'refuses to start with %s, saying how to fix it',
    async (_, options, message) => {
      for (const registration of REGISTRATIONS) {
        const error = await startupError(options(), registration);
        expect(error, `${registration}: the app started`).toBeInstanceOf(SessionError);
        expect((error as SessionError).type).toBe('GENERAL_ERROR');
        expect((error as SessionError).message, registration).toMatch(/^nestjs-token-session: /);
        expect((error as SessionError).message, registration).toMatch(message);
      }
    },
  );
});

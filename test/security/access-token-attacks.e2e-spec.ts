import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SESSION_STORE, type SessionStore } from '../../lib/testing/index.js';
import { handlerRuns } from '../fixtures/test.controller.js';
import { CookieJar, cookieNamed } from '../support/cookies.js';
import { createTestDatabase } from '../support/databases.js';
import { FakeClock } from '../support/fake-clock.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { countQueries, expectTryRefresh, generationOf } from './support/expectations.js';
import { b64, decodeJws, hmacJwk, privateKeyOf, publicKeyAsHmacSecrets, signJws } from './support/jws.js';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
} from '../../lib/http/wire.js';

/*
 * Every attack on the access token from the issue, sent over HTTP to a guarded POST route on both
 * adapters, in both transports (Bearer header; cookie with a genuine sIdRefreshToken and anti-csrf
 * header). Each must end in 401 TRY_REFRESH_TOKEN with no Set-Cookie, no database query and the
 * handler never running. Each group has a control that the same forging code, used correctly, is
 * accepted, so a refusal is the library's doing and not a broken test.
 */

const ISSUER = 'https://auth.example.test';
const AUDIENCE = 'api.example.test';
const KID = 'hs-static-1';
const STATIC_KEY = hmacJwk(KID);
const SECRET = Buffer.from(STATIC_KEY.k, 'base64url');
const TOLERANCE = 5;

type Transport = 'bearer' | 'cookie';
const TRANSPORTS: Transport[] = ['cookie', 'bearer'];

/** A clock on a whole second, so `exp`/`nbf` boundaries are exact. */
const wholeSecondClock = () => new FakeClock(Math.floor(Date.now() / 1000) * 1000);

interface Victim {
  jar: CookieJar;
  antiCsrf: string;
  accessToken: string;
  claims: Record<string, unknown>;
}

async function signIn(http: HttpApp, userId = 'victim'): Promise<Victim> {
  const response = await http.request
    .post('/login')
    .send({ userId, payload: { role: 'reader' } })
    .expect(200);
  const accessToken = cookieNamed(response, ACCESS_TOKEN_COOKIE)!.value;
  return {
    jar: new CookieJar().store(response),
    antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
    accessToken,
    claims: decodeJws(accessToken).claims,
  };
}

function send(http: HttpApp, victim: Victim, token: string, transport: Transport) {
  const request = http.request.post('/notes');
  if (transport === 'bearer') return request.set('Authorization', `Bearer ${token}`);
  return request
    .set(
      'Cookie',
      `${ACCESS_TOKEN_COOKIE}=${token}; ${ID_REFRESH_TOKEN_COOKIE}=${victim.jar.get(ID_REFRESH_TOKEN_COOKIE)}`,
    )
    .set(ANTI_CSRF_HEADER, victim.antiCsrf);
}

/** Sends `token` both ways and expects TRY_REFRESH_TOKEN, no query and no handler run each time. */
async function expectRefused(http: HttpApp, victim: Victim, token: string, label: string): Promise<void> {
  const queries = countQueries(http.dataSource);
  try {
    for (const transport of TRANSPORTS) {
      const before = handlerRuns.notes;
      const response = await send(http, victim, token, transport);
      expectTryRefresh(response, `${label} (${transport})`);
      expect(handlerRuns.notes, `${label} (${transport}) ran the handler`).toBe(before);
    }
    expect(queries.count, `${label} queried the database`).toBe(0);
  } finally {
    queries.restore();
  }
}

async function expectAccepted(http: HttpApp, victim: Victim, token: string, label: string): Promise<void> {
  for (const transport of TRANSPORTS) {
    const before = handlerRuns.notes;
    const response: Response = await send(http, victim, token, transport);
    expect(response.status, `${label} (${transport}): ${response.text}`).toBe(201);
    expect(handlerRuns.notes).toBe(before + 1);
  }
}

describe.each(ADAPTERS)('hostile access tokens on %s (static HS256 key, iss and aud)', (adapter) => {
  let http: HttpApp;
  let victim: Victim;
  const clock = wholeSecondClock();
  const nowSec = () => Math.floor(clock.now() / 1000);

  const header = (overrides: Record<string, unknown> = {}) => ({
    alg: 'HS256',
    kid: KID,
    typ: 'at+jwt',
    ...overrides,
  });
  const claims = (overrides: Record<string, unknown> = {}) => ({
    ...victim.claims,
    iat: nowSec(),
    exp: nowSec() + 60,
    ...overrides,
  });
  /** Signed with the configured key: only what the override changes is wrong. */
  const forge = (
    headerOverrides: Record<string, unknown> = {},
    claimOverrides: Record<string, unknown> = {},
  ) => signJws(header(headerOverrides), claims(claimOverrides), SECRET);

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: database.options,
      clock,
      options: {
        accessToken: {
          validity: 60,
          clockTolerance: TOLERANCE,
          issuer: ISSUER,
          audience: AUDIENCE,
          signingKey: { keys: [STATIC_KEY] },
        },
      },
    });
    victim = await signIn(http);
  });
  afterAll(async () => {
    await http?.close();
  });

  it('accepts the genuine token and a token forged with the configured key (control)', async () => {
    // The query counter behind "no database query" does see queries.
    const queries = countQueries(http.dataSource);
    await signIn(http, 'counted');
    expect(queries.count).toBeGreaterThan(0);
    queries.restore();
    await expectAccepted(http, victim, victim.accessToken, 'genuine');
    await expectAccepted(http, victim, forge(), 'forged with the key');
    // The tolerance edges, on the accepted side.
    await expectAccepted(http, victim, forge({}, { exp: nowSec() - TOLERANCE + 1 }), 'exp inside tolerance');
    await expectAccepted(http, victim, forge({}, { nbf: nowSec() + TOLERANCE }), 'nbf at tolerance');
    await expectAccepted(http, victim, forge({}, { iat: nowSec() + TOLERANCE }), 'iat at tolerance');
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])(
    "refuses alg '%s' with no, a junk or a real signature",
    async (alg) => {
      const body = `${b64(header({ alg }))}.${b64(claims())}`;
      for (const token of [`${body}.`, `${body}.AAAA`, signJws(header({ alg }), claims(), SECRET, 'HS256')]) {
        await expectRefused(http, victim, token, `alg ${alg}`);
      }
      await expectRefused(
        http,
        victim,
        `${b64({ alg, typ: 'at+jwt' })}.${b64(claims())}.`,
        `alg ${alg}, no kid`,
      );
    },
  );

  it.each([
    ['HS384 with the same secret', { alg: 'HS384' }, 'HS384'],
    ['HS512 with the same secret', { alg: 'HS512' }, 'HS512'],
    ['lower-case hs256', { alg: 'hs256' }, 'HS256'],
    ['alg with trailing space', { alg: 'HS256 ' }, 'HS256'],
    ['ES256 header over an HMAC', { alg: 'ES256' }, 'HS256'],
    ['no alg', { alg: undefined }, 'HS256'],
    ['alg as an array', { alg: ['HS256'] }, 'HS256'],
    ['alg null', { alg: null }, 'HS256'],
  ])('refuses a header alg differing from the key: %s', async (label, overrides, signingAlg) => {
    await expectRefused(http, victim, signJws(header(overrides), claims(), SECRET, signingAlg), label);
  });

  describe('key-carrying headers (jwk, jku, x5u, x5c)', () => {
    let server: Server;
    let hits = 0;
    let origin = '';
    let attackerJwks: { keys: JWK[] };
    let attackerPrivate: JWK;

    beforeAll(async () => {
      const pair = await generateKeyPair('ES256', { extractable: true });
      attackerPrivate = await exportJWK(pair.privateKey);
      attackerJwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'attacker', alg: 'ES256' }] };
      server = createServer((request, response) => {
        hits++;
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify(attackerJwks));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
    });

    it('verifies with the configured key only and never fetches a key from a URL', async () => {
      const attackerKey = privateKeyOf(attackerPrivate);
      const attackerSecret = randomBytes(32);
      const embedded = attackerJwks.keys[0];
      const tokens: [string, string][] = [
        ['embedded jwk, our kid', signJws(header({ alg: 'ES256', jwk: embedded }), claims(), attackerKey)],
        [
          'embedded jwk, no kid',
          signJws({ alg: 'ES256', typ: 'at+jwt', jwk: embedded }, claims(), attackerKey),
        ],
        [
          'embedded oct jwk',
          signJws(
            header({ jwk: { kty: 'oct', k: attackerSecret.toString('base64url') } }),
            claims(),
            attackerSecret,
          ),
        ],
        [
          'jku, attacker kid',
          signJws(
            header({ alg: 'ES256', kid: 'attacker', jku: `${origin}/jwks.json` }),
            claims(),
            attackerKey,
          ),
        ],
        [
          'jku, our kid',
          signJws(header({ alg: 'ES256', jku: `${origin}/jwks.json` }), claims(), attackerKey),
        ],
        ['jku, HMAC', signJws(header({ jku: `${origin}/jwks.json` }), claims(), attackerSecret)],
        ['x5u', signJws(header({ alg: 'ES256', x5u: `${origin}/cert.pem` }), claims(), attackerKey)],
        [
          'x5c',
          signJws(
            header({ alg: 'ES256', x5c: [randomBytes(300).toString('base64')] }),
            claims(),
            attackerKey,
          ),
        ],
      ];
      for (const [label, token] of tokens) await expectRefused(http, victim, token, label);
      // A fetch the library started in the background would have landed by now.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(hits).toBe(0);
      // The server does answer, so zero hits means no request was made.
      await fetch(`${origin}/jwks.json`);
      expect(hits).toBe(1);
    });
  });

  it.each(['exp', 'iat', 'sub', 'sid', 'gen'])('refuses a validly signed token without %s', async (claim) => {
    await expectRefused(http, victim, forge({}, { [claim]: undefined }), `missing ${claim}`);
  });

  it.each([
    ['sub as a number', { sub: 12345 }],
    ['empty sub', { sub: '' }],
    ['sid that is no handle', { sid: "' OR '1'='1" }],
    ['upper-case sid', { sid: 'A'.repeat(32) }],
    ['sid as an object', { sid: { $ne: null } }],
    ['gen 0', { gen: 0 }],
    ['negative gen', { gen: -1 }],
    ['fractional gen', { gen: 1.5 }],
    ['gen as a string', { gen: '1' }],
    ['gen beyond 2^53', { gen: 2 ** 53 }],
    ['unknown user-id type', { uty: 'x' }],
    ['numeric user-id type with a non-numeric sub', { uty: 'n' }],
    ['exp as a string', { exp: '99999999999' }],
    ['iat as a string', { iat: 'now' }],
  ])('refuses a validly signed token with %s', async (label, overrides) => {
    await expectRefused(http, victim, forge({}, overrides), label);
  });

  it.each([
    ['no typ', { typ: undefined }],
    ['typ JWT', { typ: 'JWT' }],
    ['typ jwt', { typ: 'jwt' }],
    ['typ application/jwt', { typ: 'application/jwt' }],
    ['typ with trailing space', { typ: 'at+jwt ' }],
    ['typ of a refresh token', { typ: 'rt+jwt' }],
    ['typ as an array', { typ: ['at+jwt'] }],
  ])('refuses a validly signed token with %s', async (label, overrides) => {
    await expectRefused(http, victim, forge(overrides), label);
  });

  it.each([
    ['no iss', { iss: undefined }],
    ['another iss', { iss: 'https://evil.example.test' }],
    ['iss with a trailing slash', { iss: `${ISSUER}/` }],
    ['upper-case iss', { iss: ISSUER.toUpperCase() }],
    ['no aud', { aud: undefined }],
    ['another aud', { aud: 'other-api.example.test' }],
    ['aud list without ours', { aud: ['other-api.example.test', 'x'] }],
    ['aud as an object', { aud: { includes: AUDIENCE } }],
  ])('refuses a validly signed token with %s', async (label, overrides) => {
    await expectRefused(http, victim, forge({}, overrides), label);
  });

  it('refuses tokens expired beyond the clock tolerance, on the exact boundary', async () => {
    const now = nowSec();
    for (const exp of [now - TOLERANCE, now - TOLERANCE - 1, now - 3600, 0, -1]) {
      await expectRefused(http, victim, forge({}, { exp }), `exp now${exp - now}`);
    }
  });

  it('refuses a token once it expires, even after it was accepted (no cached verification outlives exp)', async () => {
    const token = forge({}, { exp: nowSec() + 2 });
    await expectAccepted(http, victim, token, 'fresh');
    clock.advance(2 + TOLERANCE);
    await expectRefused(http, victim, token, 'expired after acceptance');
  });

  it('refuses a not-before beyond the tolerance', async () => {
    const now = nowSec();
    for (const nbf of [now + TOLERANCE + 1, now + 86_400]) {
      await expectRefused(http, victim, forge({}, { nbf }), `nbf now+${nbf - now}`);
    }
  });

  it('refuses a token issued in the future beyond the tolerance', async () => {
    const now = nowSec();
    for (const iat of [now + TOLERANCE + 1, now + 3600, now + 10 * 365 * 86_400]) {
      await expectRefused(http, victim, forge({}, { iat }), `iat now+${iat - now}`);
    }
  });

  it.each([
    ['an unknown extension', { crit: ['x-unknown'], 'x-unknown': true }],
    ['a registered claim name', { crit: ['exp'], exp: 1 }],
    ['an empty list', { crit: [] }],
    ['a string', { crit: 'x-unknown' }],
    ['b64 false (unencoded payload)', { crit: ['b64'], b64: false }],
  ])('refuses a crit header listing %s', async (label, overrides) => {
    await expectRefused(http, victim, forge(overrides), `crit ${label}`);
  });

  it('refuses malformed encodings', async () => {
    const token = forge();
    const [h, p, s] = token.split('.');
    const standardBase64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
    let plusSlash = standardBase64(claims());
    for (let pad = ''; !/[+/]/.test(plusSlash); pad += '>?') plusSlash = standardBase64({ ...claims(), pad });
    const cases: [string, string][] = [
      ['padded base64 header', `${standardBase64(header())}==.${p}.${s}`],
      ['standard base64 with + or /', `${h}.${plusSlash}.${s}`],
      ['non-JSON header', `${b64('not json')}.${p}.${s}`],
      ['header a JSON array', signJws(JSON.stringify([header()]), claims(), SECRET)],
      ['header a JSON string', signJws(JSON.stringify('HS256'), claims(), SECRET)],
      ['non-JSON payload', signJws(header(), 'not json', SECRET)],
      ['payload a JSON array', signJws(header(), JSON.stringify([claims()]), SECRET)],
      ['payload null', signJws(header(), 'null', SECRET)],
      ['truncated signature', `${h}.${p}.${s.slice(0, -2)}`],
      ['signature with illegal characters', `${h}.${p}.${s.slice(0, -1)}!`],
      ['empty signature', `${h}.${p}.`],
      ['empty payload', `${h}..${s}`],
      ['empty header', `.${p}.${s}`],
      ['a fourth segment', `${token}.${s}`],
      ['a trailing dot', `${token}.`],
      ['a leading dot', `.${token}`],
      ['five segments (JWE shape)', `${h}.${p}.${s}.${s}.${s}`],
      ['two segments', `${h}.${p}`],
      ['one segment', h],
    ];
    for (const [label, forged] of cases) await expectRefused(http, victim, forged, label);
  });

  it('refuses 8 KB tokens, even validly signed ones, before any cryptography', async () => {
    const verify = vi.spyOn(globalThis.crypto.subtle, 'verify');
    try {
      const tokens: [string, string][] = [
        ['8 KB payload', forge({}, { pld: { blob: 'x'.repeat(8 * 1024) } })],
        ['8 KB header', forge({ pad: 'x'.repeat(8 * 1024) })],
        ['just over 4 KB', forge({}, { pld: { blob: 'x'.repeat(3500) } })],
      ];
      for (const [label, token] of tokens) {
        expect(token.length).toBeGreaterThan(4096);
        await expectRefused(http, victim, token, label);
      }
      expect(verify).not.toHaveBeenCalled();
      // The spy does see verification of a normal token (a fresh one: verified tokens are cached).
      await expectAccepted(http, victim, forge({}, { jti: randomBytes(8).toString('hex') }), 'control');
      expect(verify).toHaveBeenCalled();
    } finally {
      verify.mockRestore();
    }
  });

  it('answers 431 to a 1 MB token in a header, without running the handler', async () => {
    const huge = forge({}, { pld: { blob: 'x'.repeat(1024 * 1024) } });
    const before = handlerRuns.notes;
    for (const transport of TRANSPORTS) {
      const response = await send(http, victim, huge, transport);
      expect(response.status, transport).toBe(431);
    }
    expect(handlerRuns.notes).toBe(before);
  });

  it('ignores access tokens in the query string and the body', async () => {
    const token = victim.accessToken;
    const query = `${ACCESS_TOKEN_COOKIE}=${token}&access_token=${token}&accessToken=${token}&token=${token}`;
    const cookie = `${ID_REFRESH_TOKEN_COOKIE}=${victim.jar.get(ID_REFRESH_TOKEN_COOKIE)}`;
    const before = handlerRuns.notes;
    const json = await http.request
      .post(`/notes?${query}`)
      .set('Cookie', cookie)
      .set(ANTI_CSRF_HEADER, victim.antiCsrf)
      .send({ sAccessToken: token, access_token: token, accessToken: token });
    expectTryRefresh(json, 'query + JSON body');
    const form = await http.request
      .post(`/notes?${query}`)
      .set('Cookie', cookie)
      .set(ANTI_CSRF_HEADER, victim.antiCsrf)
      .type('form')
      .send(query);
    expectTryRefresh(form, 'query + form body');
    expectTryRefresh(await http.request.get(`/me?${query}`).set('Cookie', cookie), 'GET with query');
    expect(handlerRuns.notes).toBe(before);
  });

  it('ignores refresh tokens in the query string and the body', async () => {
    const refresh = victim.jar.get(REFRESH_TOKEN_COOKIE)!;
    const generation = await generationOf(http.dataSource, refresh);
    const response = await http.request
      .post(`/session/refresh?${REFRESH_TOKEN_COOKIE}=${refresh}&refresh_token=${refresh}`)
      .send({ sRefreshToken: refresh, refreshToken: refresh, refresh_token: refresh });
    expect(response.status).toBe(401);
    expect(response.body.type).toBe('UNAUTHORISED');
    expect(await generationOf(http.dataSource, refresh), 'rotated').toBe(generation);
  });

  it('refuses tokens with whitespace inside, in the cookie and in the Bearer header alike', async () => {
    const token = forge();
    const [h, p, s] = token.split('.');
    const cases: [string, string][] = [
      ['a space inside the payload', `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`],
      ['a space after a dot', `${h}. ${p}.${s}`],
      ['a tab inside', `${h}.${p}\t.${s}`],
      ['a word after the token', `${token} extra`],
    ];
    for (const [label, forged] of cases) await expectRefused(http, victim, forged, label);
  });
});

describe.each(ADAPTERS)('algorithm confusion with asymmetric keys on %s', (adapter) => {
  const keys: Record<'ES256' | 'RS256' | 'EdDSA', JWK> = {} as never;

  beforeAll(async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      keys[alg] = { ...(await exportJWK(privateKey)), kid: `${alg}-static`, alg };
    }
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys.RS256 = { ...(rsa.privateKey.export({ format: 'jwk' }) as JWK), kid: 'RS256-static', alg: 'RS256' };
  });

  // Same algorithm, a different way to sign with the very same key: must still be refused.
  const substitutes = { ES256: 'ES384', RS256: 'PS256', EdDSA: 'Ed25519' };

  it.each(['ES256', 'RS256', 'EdDSA'] as const)(
    'accepts only %s signatures by the configured key: no HS256 with the public key, no substitute alg, no none',
    async (alg) => {
      const database = await createTestDatabase('sqlite');
      const http = await createHttpApp({
        adapter,
        database: database.options,
        options: { accessToken: { algorithm: alg, signingKey: { keys: [keys[alg]] } } },
      });
      try {
        const victim = await signIn(http);
        const kid = keys[alg].kid!;
        const privateKey = privateKeyOf(keys[alg]);
        const claims = victim.claims;
        await expectAccepted(
          http,
          victim,
          signJws({ alg, kid, typ: 'at+jwt' }, claims, privateKey),
          'control',
        );

        // The public key as an attacker gets it: from the JWKS endpoint.
        const jwks = await http.request.get('/.well-known/jwks.json').expect(200);
        const [published] = jwks.body.keys as JWK[];
        expect(published.kid).toBe(kid);
        expect(published).not.toHaveProperty('d');
        for (const [index, secret] of publicKeyAsHmacSecrets(published).entries()) {
          const token = signJws({ alg: 'HS256', kid, typ: 'at+jwt' }, claims, secret);
          await expectRefused(http, victim, token, `HS256 with public key form ${index}`);
        }

        const substitute = substitutes[alg];
        const substituted = signJws({ alg: substitute, kid, typ: 'at+jwt' }, claims, privateKey);
        await expectRefused(http, victim, substituted, `alg ${substitute} with the ${alg} key`);
        await expectRefused(
          http,
          victim,
          `${b64({ alg: 'none', kid, typ: 'at+jwt' })}.${b64(claims)}.`,
          'none',
        );
      } finally {
        await http.close();
      }
    },
  );
});

describe.each(ADAPTERS)('hostile key ids against the database key ring on %s', (adapter) => {
  let http: HttpApp;
  let victim: Victim;
  let store: SessionStore;

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    http = await createHttpApp({ adapter, database: database.options });
    victim = await signIn(http);
    store = http.app.get<SessionStore>(SESSION_STORE);
  });
  afterAll(async () => {
    await http?.close();
  });

  const forgeWithKid = (kid: unknown) =>
    signJws({ alg: 'HS256', kid, typ: 'at+jwt' }, victim.claims, randomBytes(32));

  it('refuses hostile kids without any database query', async () => {
    const loads = vi.spyOn(store, 'loadSigningKeys');
    try {
      const kids: [string, unknown][] = [
        ['single quotes', "' OR '1'='1"],
        ['double quotes', '" OR ""="'],
        ['SQL comment', "x'; DROP TABLE session_signing_keys; --"],
        ['path traversal', '../../../../etc/passwd'],
        ['URL', 'http://127.0.0.1:1/key'],
        ['NUL', 'abc\u0000def'],
        ['an object', { $ne: null }],
        ['an array', ['a', 'b']],
        ['a number', 1],
        ['null', null],
        ['empty', ''],
        ['__proto__', '__proto__'],
        ['constructor', 'constructor'],
        ['upper-case hex', 'A'.repeat(32)],
        ['129 characters', 'k'.repeat(129)],
        ['10 KB', 'k'.repeat(10 * 1024)],
      ];
      for (const [label, kid] of kids) await expectRefused(http, victim, forgeWithKid(kid), `kid ${label}`);
      expect(loads).not.toHaveBeenCalled();
    } finally {
      loads.mockRestore();
    }
  });

  it('never reloads the key ring for a storm of forged kids', async () => {
    const loads = vi.spyOn(store, 'loadSigningKeys');
    const randomKid = () => randomBytes(16).toString('hex');
    const storm = async (count: number) => {
      const responses = await Promise.all(
        Array.from({ length: count }, () =>
          http.request.post('/notes').set('Authorization', `Bearer ${forgeWithKid(randomKid())}`),
        ),
      );
      for (const response of responses) expectTryRefresh(response, 'unknown kid');
    };
    try {
      const before = handlerRuns.notes;
      await storm(60);
      http.clock.advance(11); // past any cooldown
      await storm(60);
      // Ring key ids carry an HMAC tag: ids without it are refused before any lookup.
      expect(loads).toHaveBeenCalledTimes(0);
      expect(handlerRuns.notes).toBe(before);
      // The genuine token still works throughout.
      await http.request.post('/notes').set('Authorization', `Bearer ${victim.accessToken}`).expect(201);
    } finally {
      loads.mockRestore();
    }
  });
});

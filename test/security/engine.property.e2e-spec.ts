import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SessionError, type CreatedSession, type SessionEngine } from '../../lib/index.js';
import { readSessionCookies } from '../../lib/http/request-credentials.js';
import { SESSION_STORE, type SessionStore } from '../../lib/testing/index.js';
import { handlerRuns } from '../fixtures/test.controller.js';
import { CookieJar } from '../support/cookies.js';
import { createTestDatabase } from '../support/databases.js';
import { createEngineApp, type EngineApp } from '../support/engine-app.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { generationOf } from './support/expectations.js';
import { decodeJws, hmacJwk, signJws } from './support/jws.js';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
} from '../../lib/http/wire.js';

/*
 * Property-based tests through the engine and over HTTP: arbitrary strings as access, refresh and
 * anti-csrf tokens, arbitrary JSON in validly signed tokens, and arbitrary request headers. The
 * only outcomes allowed are success or the documented SessionError; never another exception,
 * never a 5xx, never a handler run without a session.
 */

const KID = 'prop-static';
const STATIC_KEY = hmacJwk(KID);
const SECRET = Buffer.from(STATIC_KEY.k, 'base64url');
const HANDLE = /^[0-9a-f]{32}$/;

const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const anyString = (maxLength = 300) => fc.string({ unit: anyUnit, maxLength });
const jwtish = fc.string({ unit: fc.constantFrom(...'abcdefXYZ0123456789-_.=+/ %"'), maxLength: 400 });
const EDITS = ['replace', 'insert', 'delete', 'truncate', 'append'] as const;
const edit = fc.record({
  kind: fc.constantFrom(...EDITS),
  at: fc.nat(),
  char: fc.oneof(fc.constantFrom(...'AQgw_-.=+/ '), anyUnit),
});

function applyEdit(
  token: string,
  { kind, at, char }: { kind: (typeof EDITS)[number]; at: number; char: string },
) {
  const i = at % token.length;
  return {
    replace: token.slice(0, i) + char + token.slice(i + 1),
    insert: token.slice(0, i) + char + token.slice(i),
    delete: token.slice(0, i) + token.slice(i + 1),
    truncate: token.slice(0, i),
    append: token + char,
  }[kind];
}

/** Awaits `promise`: resolved, or a SessionError of `type`; anything else fails the property. */
async function settle<T>(promise: Promise<T>, type: string): Promise<T | SessionError> {
  try {
    return await promise;
  } catch (error) {
    expect(error, `not a SessionError: ${String(error)}`).toBeInstanceOf(SessionError);
    expect((error as SessionError).type).toBe(type);
    return error as SessionError;
  }
}

describe('SessionEngine under arbitrary input (SQLite, static key)', () => {
  let ctx: EngineApp;
  let engine: SessionEngine;
  let store: SessionStore;
  let genuine: CreatedSession;

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    ctx = await createEngineApp(database.options, {
      accessToken: { validity: 60, signingKey: { keys: [STATIC_KEY] } },
    });
    engine = ctx.engine;
    store = ctx.app.get<SessionStore>(SESSION_STORE);
    genuine = await engine.createNewSession('genuine', { role: 'user' });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('answers TRY_REFRESH_TOKEN to any string as an access token, with any anti-csrf value', async () => {
    const antiCsrf = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      anyString(60),
      fc.constant(genuine.antiCsrfToken!),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyString(), jwtish, fc.anything()), antiCsrf, async (token, csrf) => {
        const outcome = await settle(engine.getSession(token as string, csrf), 'TRY_REFRESH_TOKEN');
        expect(outcome).toBeInstanceOf(SessionError);
      }),
      { numRuns: 300 },
    );
  });

  it('answers a validly signed token with any JSON header and claims with a well-formed session or TRY_REFRESH_TOKEN', async () => {
    const { claims: base } = decodeJws(genuine.accessToken.value);
    const json = fc.jsonValue({ maxDepth: 2 });
    // Mostly the genuine value, sometimes any JSON, sometimes absent: enough runs pass verification.
    const field = (genuineValue: unknown) =>
      fc.oneof(
        { weight: 6, arbitrary: fc.constant(genuineValue) },
        { weight: 1, arbitrary: json },
        { weight: 1, arbitrary: fc.constant(undefined) },
      );
    const extra = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: json });
    const header = fc.record({
      alg: fc.oneof(field('HS256'), fc.constantFrom('none', 'HS512', 'RS256', 'hs256')),
      kid: field(KID),
      typ: fc.oneof(field('at+jwt'), fc.constantFrom('JWT', 'application/at+jwt', 'AT+JWT')),
      crit: extra,
      b64: extra,
      jwk: extra,
    });
    const claims = fc.record({
      sub: field(base.sub),
      sid: field(base.sid),
      gen: field(base.gen),
      iat: field(base.iat),
      exp: field(base.exp),
      uty: extra,
      pld: extra,
      nbf: fc.oneof(extra, fc.integer()),
      aud: extra,
    });
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(header, claims, async (h, c) => {
        const token = signJws(h, c, SECRET, 'HS256');
        const outcome = await settle(engine.getSession(token, null), 'TRY_REFRESH_TOKEN');
        if (!(outcome instanceof SessionError)) {
          accepted++;
          const { session } = outcome;
          expect(session.handle).toMatch(HANDLE);
          expect(
            (typeof session.userId === 'string' && session.userId.length > 0) ||
              (typeof session.userId === 'number' && Number.isFinite(session.userId)),
          ).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
    // Some runs did get past verification, so the property looked at accepted tokens too.
    expect(accepted).toBeGreaterThan(0);
  });

  it('answers any one-character edit of a genuine access token with the same session or TRY_REFRESH_TOKEN', async () => {
    const token = genuine.accessToken.value;
    await fc.assert(
      fc.asyncProperty(edit, async (change) => {
        const edited = applyEdit(token, change);
        const outcome = await settle(engine.getSession(edited, null), 'TRY_REFRESH_TOKEN');
        // A few edits only change unused bits of the last base64url character of the signature.
        if (!(outcome instanceof SessionError)) expect(outcome.session).toEqual(genuine.session);
      }),
      { numRuns: 300 },
    );
  });

  it('answers UNAUTHORISED to any string or edited token as a refresh token, without reading storage', async () => {
    const findSession = vi.spyOn(store, 'findSessionWithClock');
    const token = genuine.refreshToken.value;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            anyString(),
            jwtish,
            fc.anything(),
            edit.map((change) => applyEdit(token, change)),
          ),
          async (candidate) => {
            fc.pre(candidate !== token);
            const outcome = await settle(engine.refreshSession(candidate as string), 'UNAUTHORISED');
            expect(outcome).toBeInstanceOf(SessionError);
          },
        ),
        { numRuns: 300 },
      );
      expect(findSession).not.toHaveBeenCalled();
    } finally {
      findSession.mockRestore();
    }
    // The genuine token was never rotated by any of it.
    expect(await generationOf(ctx.dataSource, token)).toBe(1);
  });

  it('round-trips any user id it accepts exactly, and refuses the rest with GENERAL_ERROR naming userId', async () => {
    const userId = fc.oneof(
      anyString(260),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      fc.double(),
      fc.integer(),
      fc.anything(),
    );
    await fc.assert(
      fc.asyncProperty(userId, async (value) => {
        const created = await settle(engine.createNewSession(value as never), 'GENERAL_ERROR');
        if (created instanceof SessionError) {
          expect(created.message).toContain('userId');
          return;
        }
        // === rather than Object.is: -0 comes back as 0, like any JSON number.
        expect(created.session.userId === value, `created ${String(value)}`).toBe(true);
        const verified = await engine.getSession(created.accessToken.value, created.antiCsrfToken!);
        expect(verified.session.userId === value, `verified ${String(value)}`).toBe(true);
        const refreshed = await engine.refreshSession(created.refreshToken.value);
        expect(refreshed.session.userId === value, `refreshed ${String(value)}`).toBe(true);
        expect(await engine.getAllSessionHandlesForUser(value as never)).toEqual([created.session.handle]);
        await engine.revokeSessionUsingSessionHandle(created.session.handle);
      }),
      { numRuns: 100 },
    );
  });
});

describe.each(ADAPTERS)('arbitrary session headers over HTTP on %s', (adapter) => {
  let http: HttpApp;
  let jar: CookieJar;
  let antiCsrf: string;

  /** What a client can put in a header: tab, visible ASCII, Latin-1. */
  const headerChar = fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }),
    fc.integer({ min: 0x80, max: 0xff }),
    fc.constant(0x09),
  );
  const headerText = (maxLength = 120) =>
    fc.string({ unit: headerChar.map((code) => String.fromCharCode(code)), maxLength });

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    http = await createHttpApp({ adapter, database: database.options });
    const login = await http.request.post('/login').send({ userId: 'fuzzed' }).expect(200);
    jar = new CookieJar().store(login);
    antiCsrf = login.headers[ANTI_CSRF_HEADER] as string;
  });
  afterAll(async () => {
    await http?.close();
  });

  const rows = async () =>
    Number((await http.dataSource.query('SELECT COUNT(*) AS n FROM session_info'))[0].n);

  it('never runs a guarded handler or answers 5xx, whatever the Cookie, Authorization and anti-csrf headers', async () => {
    // Fragments of real credentials make the fuzzer reach the verification steps, not just the parser.
    const fragment = fc.oneof(
      headerText(40),
      fc.constantFrom(
        `${ACCESS_TOKEN_COOKIE}=${jar.get(ACCESS_TOKEN_COOKIE)!.slice(0, -1)}`,
        `${ID_REFRESH_TOKEN_COOKIE}=${jar.get(ID_REFRESH_TOKEN_COOKIE)}`,
        `${ACCESS_TOKEN_COOKIE}=${jar.get(ACCESS_TOKEN_COOKIE)!.split('.').slice(0, 2).join('.')}.`,
        'sAccessToken=',
        '; ',
        '=',
        '"',
        '%',
      ),
    );
    const cookie = fc.array(fragment, { maxLength: 6 }).map((parts) => parts.join(''));
    const authorization = fc.option(
      fc.oneof(
        headerText(),
        fc.tuple(fc.mixedCase(fc.constant('bearer ')), headerText()).map(([a, b]) => a + b),
      ),
      { nil: undefined },
    );
    const csrf = fc.option(fc.oneof(headerText(60), fc.constant(antiCsrf.slice(1))), { nil: undefined });
    const before = handlerRuns.notes;
    await fc.assert(
      fc.asyncProperty(cookie, authorization, csrf, async (cookieHeader, authorizationHeader, csrfHeader) => {
        const request = http.request.post('/notes').set('Cookie', cookieHeader);
        if (authorizationHeader !== undefined) request.set('Authorization', authorizationHeader);
        if (csrfHeader !== undefined) request.set(ANTI_CSRF_HEADER, csrfHeader);
        const response = await request;
        expect(response.status, response.text).toBe(401);
        expect(['TRY_REFRESH_TOKEN', 'UNAUTHORISED']).toContain(response.body.type);
      }),
      { numRuns: 150 },
    );
    expect(handlerRuns.notes).toBe(before);
    // The genuine credentials do pass (the guard was reachable all along).
    await http.request.post('/notes').set('Cookie', jar.header()).set(ANTI_CSRF_HEADER, antiCsrf).expect(201);
  });

  it('answers 401 to any refresh request it cannot authenticate and writes no row', async () => {
    const refresh = jar.get(REFRESH_TOKEN_COOKIE)!;
    const cookie = fc.oneof(
      headerText(),
      fc
        .record({ kind: fc.constantFrom(...EDITS), at: fc.nat(), char: headerText(1).filter(Boolean) })
        .map((change) => `${REFRESH_TOKEN_COOKIE}=${applyEdit(refresh, change)}`),
      fc
        .tuple(headerText(20), headerText(20))
        .map(([a, b]) => `${REFRESH_TOKEN_COOKIE}=${a}; ${REFRESH_TOKEN_COOKIE}=${b}`),
    );
    const count = await rows();
    const generation = await generationOf(http.dataSource, refresh);
    await fc.assert(
      fc.asyncProperty(
        cookie,
        fc.option(headerText(), { nil: undefined }),
        async (cookieHeader, authorizationHeader) => {
          // An edit that replaces a character with itself gives back the genuine token.
          fc.pre(readSessionCookies(cookieHeader).refreshToken.value !== refresh);
          const request = http.request.post('/session/refresh').set('Cookie', cookieHeader);
          if (authorizationHeader !== undefined) request.set('Authorization', authorizationHeader);
          const response = await request;
          expect(response.status, response.text).toBe(401);
          expect(response.body.type).toBe('UNAUTHORISED');
        },
      ),
      { numRuns: 150 },
    );
    expect(await rows()).toBe(count);
    expect(await generationOf(http.dataSource, refresh), 'rotated').toBe(generation);
  });
});

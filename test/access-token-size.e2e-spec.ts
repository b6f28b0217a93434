import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionEngine, type AccessTokenAlgorithm, type SessionModuleOptions } from '../lib/index.js';
import { maxAccessTokenLength } from '../lib/session.constants.js';
import { resolveSessionOptions } from '../lib/session.options.js';
import { rejectsWith } from './support/assertions.js';
import { CookieJar, cookieNamed } from './support/cookies.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { TEST_SECRET, createEngineApp, type EngineApp } from './support/engine-app.js';
import { ADAPTERS, createHttpApp, type HttpApp } from './support/http-app.js';
import { ACCESS_TOKEN_COOKIE } from '../lib/http/wire.js';

const databases = await reachableDatabases(['sqlite', 'mariadb']);

/** The documented maximum user id: 255 characters, each 3 bytes in UTF-8. */
const CJK_USER_ID = '漢'.repeat(255);
/** 255 control characters: each is 6 bytes (`\u0001`) in the token's JSON. */
const CONTROL_USER_ID = '\u0001'.repeat(255);
/** A jwtPayload of `bytes` bytes as JSON. */
const payloadOf = (bytes: number) => ({ p: 'x'.repeat(bytes - 8) });

/**
 * The largest `payloadOf` a session of `userId` is created with, found through createNewSession
 * itself: every size up to it is accepted and the next one refused.
 */
async function largestPayloadBytes(engine: SessionEngine, userId: string): Promise<number> {
  let accepted = 8;
  let refused = 2048 + 1; // over MAX_JWT_PAYLOAD_BYTES: refused whatever the token size
  while (refused - accepted > 1) {
    const bytes = Math.floor((accepted + refused) / 2);
    const ok = await engine.createNewSession(userId, payloadOf(bytes)).then(
      () => true,
      () => false,
    );
    if (ok) accepted = bytes;
    else refused = bytes;
  }
  return accepted;
}

describe.each(databases)('access-token size on %s', (kind) => {
  let database: TestDatabase;
  let ctx: EngineApp | undefined;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterEach(async () => {
    if (ctx) {
      await ctx.dataSource.query('DELETE FROM session_info');
      await ctx.dataSource.query('DELETE FROM session_signing_keys');
      await ctx.close();
    }
    ctx = undefined;
  });
  afterAll(async () => {
    await database?.drop();
  });

  const boot = async (algorithm: AccessTokenAlgorithm, options: Partial<SessionModuleOptions> = {}) => {
    ctx = await createEngineApp(database.options, { ...options, accessToken: { algorithm } });
    return ctx;
  };

  it.each([
    ['RS256', CJK_USER_ID],
    ['HS256', CONTROL_USER_ID],
  ] as [AccessTokenAlgorithm, string][])(
    'refuses a %s session whose token would not fit, with GENERAL_ERROR naming the argument and no row',
    async (algorithm, userId) => {
      const { engine, countSessions } = await boot(algorithm);
      const error = await rejectsWith(engine.createNewSession(userId, payloadOf(2048)), 'GENERAL_ERROR');
      expect(error.getStatus()).toBe(500);
      expect(error.message).toMatch(
        /^jwtPayload \(2048 bytes as JSON\) and userId \(\d+ bytes in the token\) make a \w+ access token of \d+ characters; the limit is 3997 .*: shorten jwtPayload by at least \d+ bytes\.$/,
      );
      expect(await countSessions()).toBe(0);
      expect(await engine.listSessionsForUser(userId)).toEqual([]);
    },
  );

  it.each(['HS256', 'ES256', 'EdDSA', 'RS256'] as AccessTokenAlgorithm[])(
    'verifies and refreshes the largest %s session it accepts, and refuses one byte more',
    async (algorithm) => {
      const { engine } = await boot(algorithm);
      const limit = maxAccessTokenLength(resolveSessionOptions({ secret: TEST_SECRET }).cookie);
      const bytes = await largestPayloadBytes(engine, CJK_USER_ID);
      expect(bytes).toBeLessThan(2048); // the token, not the payload cap, is what limits it
      const created = await engine.createNewSession(CJK_USER_ID, payloadOf(bytes));
      // Room is kept for every future refresh generation, so the first token is a little shorter.
      expect(created.accessToken.value.length).toBeLessThanOrEqual(limit);
      expect(created.accessToken.value.length).toBeGreaterThan(limit - 40);
      await expect(engine.getSession(created.accessToken.value, null)).resolves.toMatchObject({
        session: { userId: CJK_USER_ID, jwtPayload: payloadOf(bytes) },
      });
      const refreshed = await engine.refreshSession(created.refreshToken.value);
      await expect(engine.getSession(refreshed.newAccessToken.value, null)).resolves.toBeDefined();
      await rejectsWith(engine.createNewSession(CJK_USER_ID, payloadOf(bytes + 1)), 'GENERAL_ERROR');
    },
  );

  it('counts the cookie attributes: a long cookie domain lowers the limit', async () => {
    const { engine } = await boot('HS256');
    const plain = await largestPayloadBytes(engine, CJK_USER_ID);
    await ctx!.close();
    const domain = `${'sub.'.repeat(30)}example.com`;
    const { engine: withDomain } = await boot('HS256', { cookie: { domain } });
    // Each 4 characters of the cookie's Domain cost 3 bytes of payload.
    const expected = plain - Math.floor(((domain.length + '; Domain='.length) * 3) / 4);
    expect(Math.abs((await largestPayloadBytes(withDomain, CJK_USER_ID)) - expected)).toBeLessThanOrEqual(1);
  });

  it('refuses to refresh a stored session whose token would not fit, without rotating it', async () => {
    const { engine, dataSource } = await boot('RS256');
    const created = await engine.createNewSession(CJK_USER_ID, { small: true });
    // As an older version (with no size check) stored it: the payload cannot change after creation.
    await dataSource.query('UPDATE session_info SET jwt_payload = ? WHERE handle = ?', [
      JSON.stringify(payloadOf(2048)),
      created.session.handle,
    ]);
    const before = await dataSource.query('SELECT generation, refresh_hash FROM session_info');
    const error = await rejectsWith(engine.refreshSession(created.refreshToken.value), 'UNAUTHORISED');
    expect(error.message).toMatch(
      /^This session cannot be refreshed: .* the limit is 3997 .*Sign in again\.$/,
    );
    expect(await dataSource.query('SELECT generation, refresh_hash FROM session_info')).toEqual(before);
  });
});

describe.each(databases.flatMap((kind) => ADAPTERS.map((adapter) => [adapter, kind] as const)))(
  'access-token size over HTTP on %s (%s)',
  (adapter, kind) => {
    let database: TestDatabase;
    let http: HttpApp;
    const cookie = { domain: 'sessions.example.com', sameSite: 'strict' as const };

    beforeAll(async () => {
      database = await createTestDatabase(kind);
      http = await createHttpApp({
        adapter,
        database: database.options,
        options: { accessToken: { algorithm: 'RS256' }, cookie },
      });
    });
    afterAll(async () => {
      await http?.close();
      await database?.drop();
    });

    const rows = async () =>
      Number((await http.dataSource.query('SELECT COUNT(*) AS n FROM session_info'))[0].n);

    it('sets a cookie of at most 4096 bytes at the limit, which the next requests accept', async () => {
      const bytes = await largestPayloadBytes(http.app.get(SessionEngine), CJK_USER_ID);
      const login = await http.request
        .post('/login')
        .send({ userId: CJK_USER_ID, payload: payloadOf(bytes) })
        .expect(200);
      const access = cookieNamed(login, ACCESS_TOKEN_COOKIE)!;
      expect(access.domain).toBe(cookie.domain);
      expect(Buffer.byteLength(access.raw)).toBeLessThanOrEqual(4096);
      // Within one Expires-width of the bound, with room for a __Host- prefix (7) and later generations.
      expect(Buffer.byteLength(access.raw)).toBeGreaterThan(4096 - 7 - 40);
      const jar = new CookieJar().store(login);
      await http.request
        .get('/me')
        .set('Cookie', jar.header())
        .expect(200)
        .expect((response) => expect(response.body.userId).toBe(CJK_USER_ID));

      const refreshed = await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
      expect(Buffer.byteLength(cookieNamed(refreshed, ACCESS_TOKEN_COOKIE)!.raw)).toBeLessThanOrEqual(4096);
      await http.request.get('/me').set('Cookie', jar.store(refreshed).header()).expect(200);

      const before = await rows();
      const refused = await http.request
        .post('/login')
        .send({ userId: CJK_USER_ID, payload: payloadOf(bytes + 1) })
        .expect(500);
      expect(refused.body).toMatchObject({ type: 'GENERAL_ERROR' });
      expect(refused.headers['set-cookie']).toBeUndefined();
      expect(await rows()).toBe(before);
    });
  },
);

import { SignJWT, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionEngine } from '../lib/index.js';
import { DEFAULT_RING_RELOAD_INTERVAL_MS } from '../lib/tokens/key-ring.js';
import { deriveSubKeys, open } from '../lib/tokens/secrets.js';
import { rejectsWith } from './support/assertions.js';
import { CookieJar, cookieNamed } from './support/cookies.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { TEST_SECRET, engineAppsOn } from './support/engine-app.js';
import { FakeClock } from './support/fake-clock.js';
import { ADAPTERS, createHttpApp, type HttpApp } from './support/http-app.js';
import { ACCESS_TOKEN_COOKIE } from '../lib/http/wire.js';

const databases = await reachableDatabases(['sqlite', 'mariadb']);
const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;
const RELOAD_SECONDS = DEFAULT_RING_RELOAD_INTERVAL_MS / 1000;

/**
 * What an attacker holding the leaked key of `token` makes: a token of the same session under
 * that key, for the victim's live session with a payload of their choosing (so it passes
 * `checkDatabase` too, which ties the token's user to the session row).
 */
async function forgeWithLeakedKey(dataSource: DataSource, token: string, now: number): Promise<string> {
  const kid = kidOf(token);
  const [row] = await dataSource.query('SELECT algorithm, material FROM session_signing_keys WHERE kid = ?', [
    kid,
  ]);
  const jwk = JSON.parse(
    open(deriveSubKeys(TEST_SECRET).keyRing, row.material, `${kid}.${row.algorithm}`)!,
  ) as JWK;
  const key = jwk.kty === 'oct' ? Buffer.from(jwk.k!, 'base64url') : await importJWK(jwk, row.algorithm);
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  return new SignJWT({ ...claims, pld: { role: 'admin' } })
    .setProtectedHeader({ alg: row.algorithm, kid, typ: 'at+jwt' })
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor(now / 1000) + 600)
    .sign(key);
}

describe.each(databases)('a leaked signing key on %s', (kind) => {
  const { boot } = engineAppsOn(kind);

  it('stops verifying at once after rotateSigningKeys({ immediately: true }), cached tokens and checkDatabase included', async () => {
    const ctx = await boot({ accessToken: { algorithm: 'ES256' } });
    const created = await ctx.engine.createNewSession('victim', { role: 'reader' });
    const forged = await forgeWithLeakedKey(ctx.dataSource, created.accessToken.value, ctx.clock.now());
    // The leak is real: the forgery passes, and both tokens are now in the verified-token cache.
    await expect(ctx.engine.getSession(forged, null)).resolves.toMatchObject({
      session: { userId: 'victim', jwtPayload: { role: 'admin' } },
    });
    await expect(ctx.engine.getSession(forged, null, { checkDatabase: true })).resolves.toBeDefined();
    await expect(ctx.engine.getSession(created.accessToken.value, null)).resolves.toBeDefined();

    const leakedKid = kidOf(created.accessToken.value);
    const newKid = await ctx.engine.rotateSigningKeys({ immediately: true });

    for (const token of [forged, created.accessToken.value]) {
      await rejectsWith(ctx.engine.getSession(token, null), 'TRY_REFRESH_TOKEN');
      await rejectsWith(ctx.engine.getSession(token, null, { checkDatabase: true }), 'TRY_REFRESH_TOKEN');
    }
    expect(ctx.engine.getJwks().keys.map((key) => key.kid)).toEqual([newKid]);
    expect(newKid).not.toBe(leakedKid);
    // The genuine holder refreshes: the refresh token does not depend on the signing key.
    const refreshed = await ctx.engine.refreshSession(created.refreshToken.value);
    expect(kidOf(refreshed.newAccessToken.value)).toBe(newKid);
    await expect(
      ctx.engine.getSession(refreshed.newAccessToken.value, null, { checkDatabase: true }),
    ).resolves.toMatchObject({ session: { userId: 'victim' } });
    // Well past every margin of a normal retirement, the key stays gone.
    ctx.clock.advance(2000);
    await rejectsWith(ctx.engine.getSession(forged, null), 'TRY_REFRESH_TOKEN');
  });

  it('keeps the old key verifying until its tokens expire after a normal rotation', async () => {
    const ctx = await boot({ accessToken: { validity: 300 } });
    const created = await ctx.engine.createNewSession('steady-user');
    const newKid = await ctx.engine.rotateSigningKeys();
    ctx.clock.advance(RELOAD_SECONDS + 1);
    expect(kidOf((await ctx.engine.createNewSession('u')).accessToken.value)).toBe(newKid);
    await expect(ctx.engine.getSession(created.accessToken.value, null)).resolves.toBeDefined();
  });

  // An in-memory sql.js database belongs to one instance: sharing one needs a server.
  const shared = kind === 'sqlite' ? () => undefined : it;

  shared(
    'stops the leaked key on another instance at its next ring reload, and drops it from its JWKS',
    async () => {
      const clock = new FakeClock();
      const options = { accessToken: { algorithm: 'ES256' as const } };
      const first = await boot(options, clock);
      const second = await boot(options, clock);
      const created = await first.engine.createNewSession('victim');
      const forged = await forgeWithLeakedKey(first.dataSource, created.accessToken.value, clock.now());
      await expect(second.engine.getSession(forged, null)).resolves.toBeDefined();
      const leakedKid = kidOf(forged);

      const newKid = await first.engine.rotateSigningKeys({ immediately: true });
      // Documented bound: the second instance learns of it at its next reload, not before.
      clock.advance(RELOAD_SECONDS - 1);
      await expect(second.engine.getSession(forged, null)).resolves.toBeDefined();
      clock.advance(1);
      await rejectsWith(second.engine.getSession(forged, null), 'TRY_REFRESH_TOKEN');
      await rejectsWith(second.engine.getSession(created.accessToken.value, null), 'TRY_REFRESH_TOKEN');
      expect(second.engine.getJwks().keys.map((key) => key.kid)).toEqual([newKid]);
      expect(second.engine.getJwks().keys.map((key) => key.kid)).not.toContain(leakedKid);
      // The second instance signs with the new key and refreshes the victim onto it.
      const refreshed = await second.engine.refreshSession(created.refreshToken.value);
      expect(kidOf(refreshed.newAccessToken.value)).toBe(newKid);
      await expect(first.engine.getSession(refreshed.newAccessToken.value, null)).resolves.toBeDefined();
    },
  );

  shared(
    'stops the leaked key on an instance whose clock lags two minutes, which then signs with the new key',
    async () => {
      const options = { accessToken: { algorithm: 'ES256' as const } };
      const firstClock = new FakeClock();
      const laggingClock = new FakeClock(firstClock.now() - 120_000);
      const first = await boot(options, firstClock);
      const lagging = await boot(options, laggingClock);
      const created = await lagging.engine.createNewSession('victim');
      const forged = await forgeWithLeakedKey(
        first.dataSource,
        created.accessToken.value,
        laggingClock.now(),
      );
      await expect(lagging.engine.getSession(forged, null)).resolves.toBeDefined();

      const newKid = await first.engine.rotateSigningKeys({ immediately: true });
      for (const clock of [firstClock, laggingClock]) clock.advance(RELOAD_SECONDS + 1);
      await rejectsWith(lagging.engine.getSession(forged, null), 'TRY_REFRESH_TOKEN');
      // Its new sessions are signed with the new key at once, never with a retired one.
      const later = await lagging.engine.createNewSession('someone');
      expect(kidOf(later.accessToken.value)).toBe(newKid);
      await expect(first.engine.getSession(later.accessToken.value, null)).resolves.toBeDefined();
      expect(lagging.engine.getJwks().keys.map((key) => key.kid)).toEqual([newKid]);
    },
  );
});

describe.each(databases.flatMap((kind) => ADAPTERS.map((adapter) => [adapter, kind] as const)))(
  'a leaked signing key over HTTP on %s (%s)',
  (adapter, kind) => {
    let database: TestDatabase;
    let http: HttpApp;

    beforeAll(async () => {
      database = await createTestDatabase(kind);
      http = await createHttpApp({
        adapter,
        database: database.options,
        options: { accessToken: { algorithm: 'ES256' } },
      });
    });
    afterAll(async () => {
      await http?.close();
      await database?.drop();
    });

    it('answers TRY_REFRESH_TOKEN for tokens of the retired key, refreshes onto the new key, and unpublishes it', async () => {
      const login = await http.request.post('/login').send({ userId: 'victim', payload: {} }).expect(200);
      const jar = new CookieJar().store(login);
      const token = jar.get(ACCESS_TOKEN_COOKIE)!;
      const forged = await forgeWithLeakedKey(http.dataSource, token, http.clock.now());
      await http.request.get('/me').set('Authorization', `Bearer ${forged}`).expect(200);
      await http.request.get('/me').set('Cookie', jar.header()).expect(200);

      const newKid = await http.app.get(SessionEngine).rotateSigningKeys({ immediately: true });

      const bearer = await http.request.get('/me').set('Authorization', `Bearer ${forged}`).expect(401);
      expect(bearer.body).toMatchObject({ type: 'TRY_REFRESH_TOKEN' });
      const cookie = await http.request.get('/me').set('Cookie', jar.header()).expect(401);
      expect(cookie.body).toMatchObject({ type: 'TRY_REFRESH_TOKEN' });
      expect(cookie.headers['set-cookie']).toBeUndefined();

      const refreshed = await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
      expect(kidOf(cookieNamed(refreshed, ACCESS_TOKEN_COOKIE)!.value)).toBe(newKid);
      await http.request.get('/me').set('Cookie', jar.store(refreshed).header()).expect(200);

      const jwks = await http.request.get('/.well-known/jwks.json').expect(200);
      expect(jwks.body.keys.map((key: { kid: string }) => key.kid)).toEqual([newKid]);
      expect(newKid).not.toBe(kidOf(token));
    });
  },
);

import { SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AccessTokenAlgorithm } from '../lib/index.js';
import { SESSION_STORE, type SessionStore } from '../lib/testing/index.js';
import { deriveSubKeys } from '../lib/tokens/secrets.js';
import { rejectsWith } from './support/assertions.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { TEST_SECRET, createEngineApp, engineAppsOn, type EngineApp } from './support/engine-app.js';
import { FakeClock } from './support/fake-clock.js';

const databases = await reachableDatabases();

const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;

describe.each(databases)('signing keys and revocation on %s', (kind) => {
  const { boot, release } = engineAppsOn(kind);

  describe('the key ring', () => {
    it('never rejects an outstanding token while keys rotate', async () => {
      const ctx = await boot({ accessToken: { validity: 300 } });
      const before = await ctx.engine.createNewSession('rotation-user');
      const newKid = await ctx.engine.rotateSigningKeys();
      // Published first: the old key signs until every instance has had time to load the new one.
      expect(kidOf((await ctx.engine.createNewSession('u')).accessToken.value)).toBe(
        kidOf(before.accessToken.value),
      );
      ctx.clock.advance(61);
      const after = await ctx.engine.createNewSession('rotation-user');
      expect(kidOf(after.accessToken.value)).toBe(newKid);
      await expect(ctx.engine.getSession(before.accessToken.value, null)).resolves.toBeDefined();
      await expect(ctx.engine.getSession(after.accessToken.value, null)).resolves.toBeDefined();
      // The retired key verifies until its last token expires, then no longer.
      ctx.clock.advance(300);
      await rejectsWith(ctx.engine.getSession(before.accessToken.value, null), 'TRY_REFRESH_TOKEN');
    });

    // An in-memory sql.js database belongs to one instance: sharing one needs a server.
    const shared = kind === 'sqlite' ? () => undefined : it;

    shared('lets two instances on one database agree on keys and pick up a rotation', async () => {
      const clock = new FakeClock();
      const first = await boot({}, clock);
      const second = await boot({}, clock);
      const fromFirst = await first.engine.createNewSession('shared-user');
      const fromSecond = await second.engine.createNewSession('shared-user');
      expect(kidOf(fromFirst.accessToken.value)).toBe(kidOf(fromSecond.accessToken.value));
      await expect(second.engine.getSession(fromFirst.accessToken.value, null)).resolves.toBeDefined();

      const newKid = await first.engine.rotateSigningKeys();
      clock.advance(61);
      const signedByFirst = await first.engine.createNewSession('shared-user');
      const signedBySecond = await second.engine.createNewSession('shared-user');
      expect(kidOf(signedByFirst.accessToken.value)).toBe(newKid);
      expect(kidOf(signedBySecond.accessToken.value)).toBe(newKid);
      for (const token of [fromFirst, fromSecond, signedByFirst, signedBySecond]) {
        await expect(first.engine.getSession(token.accessToken.value, null)).resolves.toBeDefined();
        await expect(second.engine.getSession(token.accessToken.value, null)).resolves.toBeDefined();
      }
    });

    shared(
      'verifies a key rotated in immediately on another instance through an unknown-kid reload',
      async () => {
        const clock = new FakeClock();
        const first = await boot({}, clock);
        const second = await boot({}, clock);
        await second.engine.createNewSession('warm-up');
        await first.engine.rotateSigningKeys({ immediately: true });
        const token = await first.engine.createNewSession('immediate-user');
        await expect(second.engine.getSession(token.accessToken.value, null)).resolves.toBeDefined();
      },
    );

    it('never reloads for forged kids, and reloads for a genuine unknown kid once per cooldown', async () => {
      const ctx = await boot();
      const store = ctx.app.get<SessionStore>(SESSION_STORE);
      const loads = vi.spyOn(store, 'loadSigningKeys');
      const valid = await ctx.engine.createNewSession('storm-user');
      const [, payload, signature] = valid.accessToken.value.split('.');
      const forge = (kid: unknown) =>
        `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid })).toString('base64url')}.${payload}.${signature}`;
      // Ids of the ring's shape without its tag, and hostile ones, never reach the database.
      for (let i = 0; i < 200; i++) {
        await rejectsWith(
          ctx.engine.getSession(forge(randomBytes(16).toString('hex')), null),
          'TRY_REFRESH_TOKEN',
        );
      }
      for (const kid of ["' OR 1=1 --", '../../etc/passwd', { $ne: 1 }, 'k'.repeat(10_000), '"quoted"']) {
        await rejectsWith(ctx.engine.getSession(forge(kid), null), 'TRY_REFRESH_TOKEN');
      }
      expect(loads).toHaveBeenCalledTimes(0);
      // A genuine id (made with the secret) of a key this instance does not know: one reload per cooldown.
      const random = randomBytes(8).toString('hex');
      const tag = createHmac('sha256', deriveSubKeys(TEST_SECRET).keyId)
        .update(random)
        .digest('hex')
        .slice(0, 16);
      for (let i = 0; i < 50; i++) {
        await rejectsWith(ctx.engine.getSession(forge(random + tag), null), 'TRY_REFRESH_TOKEN');
      }
      expect(loads).toHaveBeenCalledTimes(1);
      ctx.clock.advance(11);
      await rejectsWith(ctx.engine.getSession(forge(random + tag), null), 'TRY_REFRESH_TOKEN');
      expect(loads.mock.calls.length).toBeGreaterThanOrEqual(2);
      expect(loads.mock.calls.length).toBeLessThanOrEqual(3); // plus, at most, the periodic reload
    });

    it('keeps key material in the table unusable without the secret', async () => {
      const ctx = await boot();
      const valid = await ctx.engine.createNewSession('dump-user');
      const rows: { kid: string; material: string }[] = await ctx.dataSource.query(
        'SELECT kid, material FROM session_signing_keys',
      );
      expect(rows.length).toBeGreaterThan(0);
      const claims = JSON.parse(Buffer.from(valid.accessToken.value.split('.')[1], 'base64url').toString());
      for (const row of rows) {
        expect(row.material).not.toMatch(/kty|"k"/);
        for (const guess of [Buffer.from(row.material), Buffer.from(row.material, 'base64url')]) {
          const forged = await new SignJWT({ ...claims, sub: 'attacker' })
            .setProtectedHeader({ alg: 'HS256', kid: row.kid, typ: 'at+jwt' })
            .sign(guess);
          await rejectsWith(ctx.engine.getSession(forged, null), 'TRY_REFRESH_TOKEN');
        }
      }
    });
  });

  describe('revocation checks', () => {
    it('refuses a revoked session at once with checkDatabase; stateless checks accept it until expiry', async () => {
      const ctx = await boot();
      const created = await ctx.engine.createNewSession('revoked-user');
      await ctx.engine.revokeSessionUsingSessionHandle(created.session.handle);
      await expect(ctx.engine.getSession(created.accessToken.value, null)).resolves.toBeDefined();
      await rejectsWith(
        ctx.engine.getSession(created.accessToken.value, null, { checkDatabase: true }),
        'UNAUTHORISED',
      );
    });

    it('checks every request against the database with blacklisting', async () => {
      const ctx = await boot({ accessToken: { blacklisting: true } });
      const created = await ctx.engine.createNewSession('blacklisted-user');
      await expect(ctx.engine.getSession(created.accessToken.value, null)).resolves.toBeDefined();
      await ctx.engine.revokeAllSessionsForUser('blacklisted-user');
      await rejectsWith(ctx.engine.getSession(created.accessToken.value, null), 'UNAUTHORISED');
      await expect(
        ctx.engine.getSession(created.accessToken.value, null, { checkDatabase: false }),
      ).resolves.toBeDefined();
    });

    it('answers TRY_REFRESH_TOKEN for a stale generation once the grace period is over', async () => {
      const ctx = await boot();
      const created = await ctx.engine.createNewSession('stale-user');
      const refreshed = await ctx.engine.refreshSession(created.refreshToken.value);
      await expect(
        ctx.engine.getSession(created.accessToken.value, null, { checkDatabase: true }),
      ).resolves.toBeDefined();
      ctx.clock.advance(11); // past the 10 s grace period
      await rejectsWith(
        ctx.engine.getSession(created.accessToken.value, null, { checkDatabase: true }),
        'TRY_REFRESH_TOKEN',
      );
      await expect(
        ctx.engine.getSession(refreshed.newAccessToken.value, null, { checkDatabase: true }),
      ).resolves.toBeDefined();
    });
  });

  describe('sessions over time', () => {
    it("lists a user's sessions with created, last-refreshed and expiry times", async () => {
      const ctx = await boot({ refreshToken: { validity: 1000 } });
      const start = ctx.clock.now();
      const first = await ctx.engine.createNewSession('listed-user');
      ctx.clock.advance(10);
      const second = await ctx.engine.createNewSession('listed-user');
      ctx.clock.advance(10);
      await ctx.engine.refreshSession(first.refreshToken.value);
      await ctx.engine.createNewSession('someone-else');
      expect(await ctx.engine.listSessionsForUser('listed-user')).toEqual([
        expect.objectContaining({
          handle: first.session.handle,
          createdAt: start,
          lastRefreshedAt: start + 20_000,
          expiresAt: start + 1_020_000,
        }),
        expect.objectContaining({
          handle: second.session.handle,
          createdAt: start + 10_000,
          lastRefreshedAt: start + 10_000,
          expiresAt: start + 1_010_000,
        }),
      ]);
    });

    it('never slides a session past its absolute lifetime', async () => {
      const ctx = await boot({ refreshToken: { validity: 3600, absoluteLifetime: 100 } });
      const start = ctx.clock.now();
      const created = await ctx.engine.createNewSession('bounded-user');
      expect(created.refreshToken.expires).toBe(start + 100_000);
      ctx.clock.advance(60);
      const refreshed = await ctx.engine.refreshSession(created.refreshToken.value);
      expect(refreshed.newRefreshToken.expires).toBe(start + 100_000);
      expect(refreshed.newAccessToken.expires).toBeLessThanOrEqual(start + 100_000);
      ctx.clock.advance(41);
      await rejectsWith(ctx.engine.refreshSession(refreshed.newRefreshToken.value), 'UNAUTHORISED');
    });

    it('removes expired sessions and spent seals, and keeps live ones', async () => {
      const ctx = await boot({
        refreshToken: { validity: 100 },
        accessToken: { validity: 60 },
      });
      const expiring = await ctx.engine.createNewSession('cleanup-user');
      ctx.clock.advance(50);
      const live = await ctx.engine.createNewSession('cleanup-user');
      await ctx.engine.refreshSession(live.refreshToken.value);
      ctx.clock.advance(51);
      expect(await ctx.engine.removeExpiredSessions()).toBe(1);
      expect(await ctx.engine.getAllSessionHandlesForUser('cleanup-user')).toEqual([live.session.handle]);
      const [row] = await ctx.dataSource.query('SELECT sealed_live_token FROM session_info');
      expect(row.sealed_live_token).toBeNull();
      await rejectsWith(ctx.engine.getSessionData(expiring.session.handle), 'UNAUTHORISED');
    });

    it('runs the cleanup on its timer and stops it when the module is destroyed', async () => {
      const ctx = await boot({
        refreshToken: { validity: 100 },
        accessToken: { validity: 60 },
        cleanupInterval: 0.2,
      });
      const cleanup = vi.spyOn(ctx.engine, 'removeExpiredSessions');
      await ctx.engine.createNewSession('timer-user');
      ctx.clock.advance(101);
      await vi.waitFor(async () => expect(await ctx.countSessions()).toBe(0), {
        timeout: 3000,
        interval: 50,
      });
      await ctx.close();
      release(ctx);
      const calls = cleanup.mock.calls.length;
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(cleanup.mock.calls.length).toBe(calls);
    });

    it('lets a cleanup in flight finish before the database closes, logging no store failure', async () => {
      const ctx = await boot({ cleanupInterval: 0.2 });
      const store = ctx.app.get<SessionStore>(SESSION_STORE);
      const deleteExpired = store.deleteExpired.bind(store);
      let started!: () => void;
      const inFlight = new Promise<void>((resolve) => (started = resolve));
      vi.spyOn(store, 'deleteExpired').mockImplementation(async (...args) => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 300));
        return deleteExpired(...args);
      });
      const cleanup = vi.spyOn(ctx.engine, 'removeExpiredSessions');
      await inFlight;
      await ctx.close();
      release(ctx);
      await Promise.allSettled(cleanup.mock.results.map((result) => result.value));
      expect(ctx.logs.take('ERROR')).toEqual([]);
    });
  });
});

describe.each(databases.filter((kind) => kind !== 'postgres'))('signing algorithms on %s', (kind) => {
  let database: TestDatabase;
  let ctx: EngineApp | undefined;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterEach(async () => {
    if (ctx) {
      await ctx.dataSource.query('DELETE FROM session_signing_keys');
      await ctx.close();
    }
    ctx = undefined;
  });
  afterAll(async () => {
    await database?.drop();
  });

  it.each(['HS256', 'ES256', 'EdDSA', 'RS256'] as AccessTokenAlgorithm[])(
    'round-trips %s tokens from the ring',
    async (algorithm) => {
      ctx = await createEngineApp(database.options, { accessToken: { algorithm } });
      const created = await ctx.engine.createNewSession('alg-user', { alg: algorithm });
      expect(decodeProtectedHeader(created.accessToken.value).alg).toBe(algorithm);
      await expect(ctx.engine.getSession(created.accessToken.value, null)).resolves.toMatchObject({
        session: { jwtPayload: { alg: algorithm } },
      });
      const jwks = ctx.engine.getJwks();
      if (algorithm === 'HS256') {
        expect(jwks.keys).toEqual([]);
      } else {
        expect(jwks.keys).toHaveLength(1);
        expect(jwks.keys[0]).toMatchObject({
          kid: kidOf(created.accessToken.value),
          alg: algorithm,
          use: 'sig',
        });
        expect(jwks.keys[0]).not.toHaveProperty('d');
      }
    },
  );

  it.each(['ES256', 'RS256', 'EdDSA'] as AccessTokenAlgorithm[])(
    'refuses an HS256 token signed with the %s public key',
    async (algorithm) => {
      ctx = await createEngineApp(database.options, { accessToken: { algorithm } });
      const created = await ctx.engine.createNewSession('confused-user');
      const claims = JSON.parse(Buffer.from(created.accessToken.value.split('.')[1], 'base64url').toString());
      const [publicJwk] = ctx.engine.getJwks().keys;
      for (const secret of [JSON.stringify(publicJwk), String(publicJwk.x ?? publicJwk.n)]) {
        const forged = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid: publicJwk.kid as string, typ: 'at+jwt' })
          .sign(Buffer.from(secret));
        await rejectsWith(ctx.engine.getSession(forged, null), 'TRY_REFRESH_TOKEN');
      }
    },
  );

  it('lists exactly the verifying public keys in the JWKS', async () => {
    ctx = await createEngineApp(database.options, { accessToken: { algorithm: 'ES256', validity: 60 } });
    const [original] = ctx.engine.getJwks().keys;
    const next = await ctx.engine.rotateSigningKeys();
    expect(
      ctx.engine
        .getJwks()
        .keys.map((key) => key.kid)
        .sort(),
    ).toEqual([original.kid, next].sort());
    ctx.clock.advance(60 + 60 + 5 + 60 + 1); // publish delay + token lifetime + tolerance + reload margin
    await ctx.engine.createNewSession('reload');
    expect(ctx.engine.getJwks().keys.map((key) => key.kid)).toEqual([next]);
  });
});

describe('static signing keys', () => {
  let ctx: EngineApp | undefined;
  afterEach(async () => {
    await ctx?.close();
    ctx = undefined;
  });

  const sqlite = { type: 'sqljs' } as const;

  it('signs with the first static key and verifies with all of them, without the ring', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'static-1', alg: 'ES256' };
    const older = {
      ...(await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey)),
      kid: 'static-0',
    };
    ctx = await createEngineApp(sqlite, {
      accessToken: { algorithm: 'ES256', signingKey: { keys: [jwk, older] } },
    });
    const created = await ctx.engine.createNewSession('static-user');
    expect(kidOf(created.accessToken.value)).toBe('static-1');
    await expect(ctx.engine.getSession(created.accessToken.value, null)).resolves.toBeDefined();
    expect(ctx.engine.getJwks().keys.map((key) => key.kid)).toEqual(['static-1', 'static-0']);
    const [{ n }] = await ctx.dataSource.query('SELECT COUNT(*) AS n FROM session_signing_keys');
    expect(Number(n)).toBe(0);
    await rejectsWith(ctx.engine.rotateSigningKeys(), 'GENERAL_ERROR');
  });

  it('fails start-up on an HMAC key under 32 bytes', async () => {
    const weak = { kty: 'oct', k: randomBytes(16).toString('base64url'), kid: 'weak' };
    await expect(createEngineApp(sqlite, { accessToken: { signingKey: { keys: [weak] } } })).rejects.toThrow(
      /HMAC key of 16 bytes; use at least 32/,
    );
  });

  it('fails start-up on an RSA key under 2048 bits', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weak = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: 'rsa-1024' };
    await expect(
      createEngineApp(sqlite, { accessToken: { algorithm: 'RS256', signingKey: { keys: [weak] } } }),
    ).rejects.toThrow(/RSA key of 1024 bits; use at least 2048/);
  });

  it('fails start-up on a static key without a kid', async () => {
    const key = { kty: 'oct', k: randomBytes(32).toString('base64url') };
    await expect(createEngineApp(sqlite, { accessToken: { signingKey: { keys: [key] } } })).rejects.toThrow(
      /needs a "kid"/,
    );
  });
});

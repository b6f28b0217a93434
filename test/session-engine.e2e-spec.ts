import { SignJWT, decodeProtectedHeader } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isErrorFromAuth, type SessionEngine } from '../lib/index.js';
import { rejectsWith } from './support/assertions.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { createEngineApp, type EngineApp } from './support/engine-app.js';
import { ANTI_CSRF_HEADER } from '../lib/http/wire.js';

const databases = await reachableDatabases();

/** Changes one character in the middle (the last one may only carry base64 padding bits). */
function flipMiddleChar(value: string): string {
  const middle = Math.floor(value.length / 2);
  return value.slice(0, middle) + (value[middle] === 'A' ? 'B' : 'A') + value.slice(middle + 1);
}

describe.each(databases)('SessionEngine on %s', (kind) => {
  let database: TestDatabase;
  let ctx: EngineApp;
  let engine: SessionEngine;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    ctx = await createEngineApp(database.options, {
      accessToken: { validity: 60, clockTolerance: 0 },
      refreshToken: { validity: 3600 },
    });
    engine = ctx.engine;
  });

  afterAll(async () => {
    await ctx?.close();
    await database?.drop();
  });

  describe('creating and verifying sessions', () => {
    it('returns the user id, payload and data unchanged, with their types', async () => {
      const payloads: unknown[] = [
        { role: 'admin', nested: { list: [1, 'two', null] } },
        [1, 2],
        42,
        'text',
        true,
        null,
      ];
      for (const [index, payload] of payloads.entries()) {
        const userId = index % 2 === 0 ? `user-${index}-Ünïcødé-😀` : index * 1000 + 0.5;
        const data = { index, emoji: '😀', deep: { a: [{ b: null }] } };
        const created = await engine.createNewSession(userId, payload, data);
        expect(created.session.userId).toBe(userId);
        expect(created.session.jwtPayload).toEqual(payload);
        const verified = await engine.getSession(created.accessToken.value, created.antiCsrfToken!);
        expect(verified.session).toEqual({ handle: created.session.handle, userId, jwtPayload: payload });
        expect(verified.newAccessToken).toBeUndefined();
        expect(await engine.getSessionData(created.session.handle)).toEqual(data);
        const refreshed = await engine.refreshSession(created.refreshToken.value);
        expect(refreshed.session).toEqual(verified.session);
      }
    });

    it('issues tokens of the documented shape and lifetimes', async () => {
      const now = ctx.clock.now();
      const created = await engine.createNewSession('shape-user');
      expect(created.session.handle).toMatch(/^[0-9a-f]{32}$/);
      expect(created.refreshToken.value.split('.')).toHaveLength(4);
      expect(created.refreshToken.value.split('.')[2].length).toBeGreaterThanOrEqual(43); // 256 bits
      expect(created.accessToken.expires).toBeGreaterThan(now + 55_000);
      expect(created.accessToken.expires).toBeLessThanOrEqual(now + 60_000);
      expect(created.refreshToken.expires).toBe(now + 3_600_000);
      expect(created.idRefreshToken.expires).toBe(created.refreshToken.expires);
      expect(created.antiCsrfToken).toEqual(expect.any(String));
      const header = decodeProtectedHeader(created.accessToken.value);
      expect(header).toMatchObject({ alg: 'HS256', typ: 'at+jwt', kid: expect.any(String) });
    });

    it('keeps user ids byte-exact: José, jose, "jose ", JOSE, 42 and "42" are six users', async () => {
      const users: (string | number)[] = ['José', 'jose', 'jose ', 'JOSE', 42, '42'];
      const handles = new Map<string | number, string>();
      for (const user of users) handles.set(user, (await engine.createNewSession(user)).session.handle);
      for (const user of users) {
        expect(await engine.getAllSessionHandlesForUser(user)).toEqual([handles.get(user)]);
      }
      expect(await engine.revokeAllSessionsForUser('jose')).toBe(1);
      expect(await engine.revokeAllSessionsForUser(42)).toBe(1);
      expect(await engine.getAllSessionHandlesForUser('jose')).toEqual([]);
      for (const user of ['José', 'jose ', 'JOSE', '42']) {
        expect(await engine.getAllSessionHandlesForUser(user)).toEqual([handles.get(user)]);
      }
    });
  });

  describe('access tokens', () => {
    let created: Awaited<ReturnType<SessionEngine['createNewSession']>>;
    beforeAll(async () => {
      created = await engine.createNewSession('token-user', { scope: 'read' });
    });

    it('refuses an expired token with TRY_REFRESH_TOKEN', async () => {
      const local = await engine.createNewSession('expiring-user');
      ctx.clock.advance(61);
      await rejectsWith(engine.getSession(local.accessToken.value, null), 'TRY_REFRESH_TOKEN');
    });

    it('keeps checking expiry and anti-csrf for a token it verified before', async () => {
      const local = await engine.createNewSession('cached-user');
      for (let i = 0; i < 3; i++) {
        await expect(engine.getSession(local.accessToken.value, local.antiCsrfToken!)).resolves.toBeDefined();
      }
      await rejectsWith(engine.getSession(local.accessToken.value, 'wrong'), 'TRY_REFRESH_TOKEN');
      await rejectsWith(engine.getSession(local.accessToken.value, undefined), 'TRY_REFRESH_TOKEN');
      ctx.clock.advance(59);
      await expect(engine.getSession(local.accessToken.value, null)).resolves.toBeDefined();
      ctx.clock.advance(2);
      await rejectsWith(engine.getSession(local.accessToken.value, null), 'TRY_REFRESH_TOKEN');
    });

    it('hands every request the same payload, frozen, so no handler can change it for the next', async () => {
      const local = await engine.createNewSession('frozen-user', { roles: ['reader'], nested: { level: 1 } });
      const first = await engine.getSession(local.accessToken.value, null);
      const payload = first.session.jwtPayload as { roles: string[]; nested: { level: number } };
      expect(() => payload.roles.push('admin')).toThrow(TypeError);
      expect(() => {
        payload.nested.level = 2;
      }).toThrow(TypeError);
      const second = await engine.getSession(local.accessToken.value, null);
      expect(second.session.jwtPayload).toEqual({ roles: ['reader'], nested: { level: 1 } });
    });

    it('refuses a missing token with TRY_REFRESH_TOKEN', async () => {
      await rejectsWith(engine.getSession(undefined, null), 'TRY_REFRESH_TOKEN');
      await rejectsWith(engine.getSession('', null), 'TRY_REFRESH_TOKEN');
    });

    it('refuses tampered payloads and signatures', async () => {
      const fresh = await engine.createNewSession('tamper-user', { role: 'user' });
      const [header, payload, signature] = fresh.accessToken.value.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const elevated = Buffer.from(JSON.stringify({ ...claims, pld: { role: 'admin' } })).toString(
        'base64url',
      );
      await rejectsWith(engine.getSession(`${header}.${elevated}.${signature}`, null), 'TRY_REFRESH_TOKEN');
      await rejectsWith(
        engine.getSession(`${header}.${payload}.${flipMiddleChar(signature)}`, null),
        'TRY_REFRESH_TOKEN',
      );
    });

    it('refuses a token signed with another key under our kid', async () => {
      const fresh = await engine.createNewSession('forger-target');
      const { kid } = decodeProtectedHeader(fresh.accessToken.value);
      const claims = JSON.parse(Buffer.from(fresh.accessToken.value.split('.')[1], 'base64url').toString());
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
        .sign(randomBytes(32));
      await rejectsWith(engine.getSession(forged, null), 'TRY_REFRESH_TOKEN');
    });

    it("refuses alg 'none' in any casing", async () => {
      const [, payload] = created.accessToken.value.split('.');
      const { kid } = decodeProtectedHeader(created.accessToken.value);
      for (const alg of ['none', 'None', 'NONE']) {
        const header = Buffer.from(JSON.stringify({ alg, kid, typ: 'at+jwt' })).toString('base64url');
        await rejectsWith(engine.getSession(`${header}.${payload}.`, null), 'TRY_REFRESH_TOKEN');
        await rejectsWith(engine.getSession(`${header}.${payload}.AAAA`, null), 'TRY_REFRESH_TOKEN');
      }
    });

    it('refuses malformed and oversized tokens', async () => {
      for (const token of ['abc', 'a.b', 'a.b.c.d', `${created.accessToken.value} `, 'x'.repeat(9000)]) {
        await rejectsWith(engine.getSession(token, null), 'TRY_REFRESH_TOKEN');
      }
    });
  });

  describe(ANTI_CSRF_HEADER, () => {
    it('requires the token of the session: a missing or wrong one fails, only null skips', async () => {
      const first = await engine.createNewSession('csrf-user');
      const second = await engine.createNewSession('csrf-other');
      await rejectsWith(engine.getSession(first.accessToken.value, undefined), 'TRY_REFRESH_TOKEN');
      await rejectsWith(engine.getSession(first.accessToken.value, ''), 'TRY_REFRESH_TOKEN');
      await rejectsWith(
        engine.getSession(first.accessToken.value, second.antiCsrfToken!),
        'TRY_REFRESH_TOKEN',
      );
      await rejectsWith(engine.getSession(first.accessToken.value, 'é'.repeat(43)), 'TRY_REFRESH_TOKEN');
      await expect(engine.getSession(first.accessToken.value, first.antiCsrfToken!)).resolves.toBeDefined();
      await expect(engine.getSession(first.accessToken.value, null)).resolves.toBeDefined();
    });

    it('binds the anti-csrf token to the refresh generation', async () => {
      const created = await engine.createNewSession('csrf-rotation');
      const refreshed = await engine.refreshSession(created.refreshToken.value);
      expect(refreshed.newAntiCsrfToken).not.toBe(created.antiCsrfToken);
      await rejectsWith(
        engine.getSession(refreshed.newAccessToken.value, created.antiCsrfToken!),
        'TRY_REFRESH_TOKEN',
      );
      await expect(
        engine.getSession(refreshed.newAccessToken.value, refreshed.newAntiCsrfToken!),
      ).resolves.toBeDefined();
    });
  });

  describe('refresh-token rotation and theft detection', () => {
    it('rotates the refresh token, the idRefreshToken and the anti-csrf token', async () => {
      const created = await engine.createNewSession('rotating-user', { p: 1 });
      const refreshed = await engine.refreshSession(created.refreshToken.value);
      expect(refreshed.newRefreshToken.value).not.toBe(created.refreshToken.value);
      expect(refreshed.newIdRefreshToken.value).not.toBe(created.idRefreshToken.value);
      expect(refreshed.session.handle).toBe(created.session.handle);
      await expect(engine.getSession(refreshed.newAccessToken.value, null)).resolves.toMatchObject({
        session: { userId: 'rotating-user', jwtPayload: { p: 1 } },
      });
      const again = await engine.refreshSession(refreshed.newRefreshToken.value);
      expect(again.newRefreshToken.value).not.toBe(refreshed.newRefreshToken.value);
    });

    it('gives 10 parallel refreshes with one token one identical successor and no theft', async () => {
      const created = await engine.createNewSession('parallel-user');
      const results = await Promise.all(
        Array.from({ length: 10 }, () => engine.refreshSession(created.refreshToken.value)),
      );
      const successors = new Set(results.map((result) => result.newRefreshToken.value));
      expect(successors.size).toBe(1);
      expect(new Set(results.map((result) => result.newAntiCsrfToken)).size).toBe(1);
      const [successor] = successors;
      await expect(engine.refreshSession(successor)).resolves.toBeDefined();
      expect(await engine.getAllSessionHandlesForUser('parallel-user')).toEqual([created.session.handle]);
    });

    it('answers a retry after a lost response, inside the grace period, with the live token', async () => {
      const created = await engine.createNewSession('retry-user');
      const first = await engine.refreshSession(created.refreshToken.value);
      const retry = await engine.refreshSession(created.refreshToken.value);
      expect(retry.newRefreshToken.value).toBe(first.newRefreshToken.value);
      expect(retry.newIdRefreshToken.value).toBe(first.newIdRefreshToken.value);
      expect(retry.newAntiCsrfToken).toBe(first.newAntiCsrfToken);
      await expect(
        engine.getSession(retry.newAccessToken.value, retry.newAntiCsrfToken!),
      ).resolves.toBeDefined();
    });

    it('answers a token two rotations old, inside the grace period, with the live token', async () => {
      const created = await engine.createNewSession('slow-user');
      const first = await engine.refreshSession(created.refreshToken.value);
      const second = await engine.refreshSession(first.newRefreshToken.value);
      const late = await engine.refreshSession(created.refreshToken.value);
      expect(late.newRefreshToken.value).toBe(second.newRefreshToken.value);
    });

    it('treats reuse after the grace period as theft and revokes the session', async () => {
      const created = await engine.createNewSession('victim', { role: 'user' });
      const refreshed = await engine.refreshSession(created.refreshToken.value);
      ctx.clock.advance(11); // past the 10 s grace period
      const error = await rejectsWith(
        engine.refreshSession(created.refreshToken.value),
        'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED',
      );
      expect(error.theft).toEqual({ sessionHandle: created.session.handle, userId: 'victim' });
      expect(JSON.stringify(error.getResponse())).not.toContain(created.session.handle);
      expect(JSON.stringify(error.getResponse())).not.toContain('victim');
      await rejectsWith(engine.refreshSession(refreshed.newRefreshToken.value), 'UNAUTHORISED');
      await rejectsWith(engine.getSessionData(created.session.handle), 'UNAUTHORISED');
      await rejectsWith(
        engine.getSession(refreshed.newAccessToken.value, null, { checkDatabase: true }),
        'UNAUTHORISED',
      );
    });

    it('refuses a forged token naming a real handle without touching the session', async () => {
      const created = await engine.createNewSession('forgery-target');
      const [handle, generation] = created.refreshToken.value.split('.');
      const forged = `${handle}.${generation}.${randomBytes(32).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
      const before = await ctx.countSessions();
      await rejectsWith(engine.refreshSession(forged), 'UNAUTHORISED');
      await rejectsWith(
        engine.refreshSession(`${handle}.9.${created.refreshToken.value.split('.').slice(2).join('.')}`),
        'UNAUTHORISED',
      );
      expect(await ctx.countSessions()).toBe(before);
      await expect(engine.refreshSession(created.refreshToken.value)).resolves.toBeDefined();
    });

    it('refuses random and malformed refresh tokens with UNAUTHORISED and writes nothing', async () => {
      const before = await ctx.countSessions();
      const tokens = [
        undefined,
        '',
        'garbage',
        'a.b.c.d',
        randomBytes(64).toString('base64url'),
        'x'.repeat(10_000),
        "' OR 1=1 --",
      ];
      for (const token of tokens) await rejectsWith(engine.refreshSession(token), 'UNAUTHORISED');
      expect(await ctx.countSessions()).toBe(before);
    });

    it('refuses a refresh after the session expired', async () => {
      const created = await engine.createNewSession('expired-session');
      ctx.clock.advance(3601);
      await rejectsWith(engine.refreshSession(created.refreshToken.value), 'UNAUTHORISED');
    });

    it('slides the session expiry on each refresh', async () => {
      const created = await engine.createNewSession('sliding-user');
      ctx.clock.advance(1800);
      const refreshed = await engine.refreshSession(created.refreshToken.value);
      expect(refreshed.newRefreshToken.expires).toBe(ctx.clock.now() + 3_600_000);
      ctx.clock.advance(1800);
      await expect(engine.refreshSession(refreshed.newRefreshToken.value)).resolves.toBeDefined();
    });
  });

  describe('handle API', () => {
    it('reads, updates and revokes a session by its handle', async () => {
      const created = await engine.createNewSession('handle-user', {}, { count: 1 });
      const { handle } = created.session;
      await engine.updateSessionData(handle, { count: 2, list: ['a'] });
      expect(await engine.getSessionData(handle)).toEqual({ count: 2, list: ['a'] });
      expect(await engine.revokeSessionUsingSessionHandle(handle)).toBe(true);
      expect(await engine.revokeSessionUsingSessionHandle(handle)).toBe(false);
      await rejectsWith(engine.getSessionData(handle), 'UNAUTHORISED');
      await rejectsWith(engine.updateSessionData(handle, { count: 3 }), 'UNAUTHORISED');
      await rejectsWith(engine.refreshSession(created.refreshToken.value), 'UNAUTHORISED');
    });

    it('answers UNAUTHORISED for a well-formed handle with no session', async () => {
      const handle = randomBytes(16).toString('hex');
      await rejectsWith(engine.getSessionData(handle), 'UNAUTHORISED');
      await rejectsWith(engine.updateSessionData(handle, {}), 'UNAUTHORISED');
      expect(await engine.revokeSessionUsingSessionHandle(handle)).toBe(false);
    });

    it('revokes a session for its own user only, and every other session of a user', async () => {
      const mine = await engine.createNewSession('owner');
      const other = await engine.createNewSession('owner');
      const third = await engine.createNewSession('owner');
      const foreign = await engine.createNewSession('stranger');
      expect(await engine.revokeSessionForUser(foreign.session.handle, 'owner')).toBe(false);
      await expect(engine.getSessionData(foreign.session.handle)).resolves.toEqual({});
      expect(await engine.revokeSessionForUser(other.session.handle, 'owner')).toBe(true);
      expect(await engine.revokeOtherSessions('owner', mine.session.handle)).toBe(1);
      expect(await engine.getAllSessionHandlesForUser('owner')).toEqual([mine.session.handle]);
      await rejectsWith(engine.refreshSession(third.refreshToken.value), 'UNAUTHORISED');
      expect(await engine.getAllSessionHandlesForUser('stranger')).toEqual([foreign.session.handle]);
    });

    it('lists and revokes every session of a user', async () => {
      const handles = [];
      for (let i = 0; i < 3; i++)
        handles.push((await engine.createNewSession('many-devices')).session.handle);
      expect((await engine.getAllSessionHandlesForUser('many-devices')).sort()).toEqual(handles.sort());
      expect(await engine.revokeAllSessionsForUser('many-devices')).toBe(3);
      expect(await engine.getAllSessionHandlesForUser('many-devices')).toEqual([]);
    });
  });

  describe('bad arguments', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const deep = JSON.parse('['.repeat(100) + ']'.repeat(100));

    it.each([
      ['an empty user id', () => engine.createNewSession(''), 'userId'],
      ['an object user id', () => engine.createNewSession({ id: 1 } as never), 'userId'],
      ['an array user id', () => engine.createNewSession(['a'] as never), 'userId'],
      ['a NaN user id', () => engine.createNewSession(Number.NaN), 'userId'],
      ['an infinite user id', () => engine.createNewSession(Number.POSITIVE_INFINITY), 'userId'],
      ['a user id with a lone surrogate', () => engine.createNewSession('a\uD800b'), 'userId'],
      ['an over-long user id', () => engine.createNewSession('u'.repeat(256)), 'userId'],
      ['circular session data', () => engine.createNewSession('u', {}, circular), 'sessionData'],
      ['BigInt session data', () => engine.createNewSession('u', {}, { n: 1n }), 'sessionData'],
      ['a Date in session data', () => engine.createNewSession('u', {}, { at: new Date() }), 'sessionData'],
      ['a function in the payload', () => engine.createNewSession('u', { f: () => 1 }), 'jwtPayload'],
      ['undefined in the payload', () => engine.createNewSession('u', { missing: undefined }), 'jwtPayload'],
      ['deeply nested data', () => engine.createNewSession('u', {}, deep), 'sessionData'],
      [
        'oversized session data',
        () => engine.createNewSession('u', {}, { blob: 'x'.repeat(40_000) }),
        'sessionData',
      ],
      ['an oversized payload', () => engine.createNewSession('u', { blob: 'x'.repeat(3000) }), 'jwtPayload'],
      ['a malformed handle', () => engine.getSessionData('not-a-handle'), 'sessionHandle'],
      ['SQL in a handle', () => engine.revokeSessionUsingSessionHandle("' OR '1'='1"), 'sessionHandle'],
      [
        'an object handle',
        () => engine.revokeSessionUsingSessionHandle({ handle: undefined } as never),
        'sessionHandle',
      ],
      ['a handle with NUL', () => engine.getSessionData(`${'a'.repeat(31)}\u0000`), 'sessionHandle'],
      ['an object user id to revoke-all', () => engine.revokeAllSessionsForUser({} as never), 'userId'],
      ['non-JSON data to update', () => engine.updateSessionData('a'.repeat(32), { n: 1n }), 'sessionData'],
    ])('refuses %s with GENERAL_ERROR naming it, writing nothing', async (_, call, argument) => {
      const before = await ctx.countSessions();
      const error = await rejectsWith(call(), 'GENERAL_ERROR');
      expect(error.message).toContain(argument);
      expect(isErrorFromAuth(error)).toBe(false);
      expect(await ctx.countSessions()).toBe(before);
    });
  });
});

describe.each(databases.filter((kind) => kind !== 'sqlite'))(
  'SessionEngine on %s: error classification',
  (kind) => {
    let database: TestDatabase;
    let ctx: EngineApp;

    beforeAll(async () => {
      database = await createTestDatabase(kind);
    });
    afterEach(async () => {
      await ctx?.close();
    });
    afterAll(async () => {
      await database?.drop();
    });

    it('marks auth failures as such and general errors as not', async () => {
      ctx = await createEngineApp(database.options);
      const error = await rejectsWith(ctx.engine.refreshSession('nope'), 'UNAUTHORISED');
      expect(isErrorFromAuth(error)).toBe(true);
      expect(error.getStatus()).toBe(401);
      expect(isErrorFromAuth(new Error('x'))).toBe(false);
    });

    it('answers TRY_REFRESH_TOKEN with the configured status', async () => {
      ctx = await createEngineApp(database.options, { sessionExpiredStatusCode: 440 });
      const error = await rejectsWith(ctx.engine.getSession('x.y.z', null), 'TRY_REFRESH_TOKEN');
      expect(error.getStatus()).toBe(440);
    });
  },
);

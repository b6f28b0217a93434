import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
  REVOCATION_REASONS,
  SessionEngine,
  SessionEvents,
  type SessionRevokedEvent,
} from '../lib/index.js';
import { RevocationController } from './fixtures/revocation.fixtures.js';
import { PasswordStrategy } from './fixtures/login.fixtures.js';
import { CookieJar, setCookies } from './support/cookies.js';
import {
  createTestDatabase,
  reachableDatabases,
  type DatabaseKind,
  type TestDatabase,
} from './support/databases.js';
import { createHttpApp, type AdapterKind, type HttpApp } from './support/http-app.js';

// Lean matrix: both adapters on SQLite, and each server database on one adapter.
const reachable = await reachableDatabases();
const MATRIX = (
  [
    ['express', 'sqlite'],
    ['fastify', 'sqlite'],
    ['express', 'mariadb'],
    ['fastify', 'postgres'],
  ] as [AdapterKind, DatabaseKind][]
).filter(([, kind]) => reachable.includes(kind));

const IDLE_SECONDS = 3600;
const BROWSER_SESSION_IDLE_SECONDS = 600;
const RETENTION_SECONDS = 7200;

describe.each(MATRIX)('revocation reasons and remember-me over HTTP on %s (%s)', (adapter, kind) => {
  let database: TestDatabase;
  let http: HttpApp;
  const revoked: SessionRevokedEvent[] = [];
  let users = 0;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    http = await createHttpApp({
      adapter,
      database: database.options,
      options: {
        cookie: { secure: false },
        refreshToken: { validity: IDLE_SECONDS, nonPersistentValidity: BROWSER_SESSION_IDLE_SECONDS },
        revocationReasonRetention: RETENTION_SECONDS,
      },
      controllers: [RevocationController],
      providers: [PasswordStrategy],
    });
    http.app.get(SessionEvents).on('session.revoked', (event) => void revoked.push(event));
  });

  afterAll(async () => {
    await http?.close();
    await database?.drop();
  });

  /** A new user id, so the tests of one app never share sessions. */
  const newUser = () => `user-${++users}`;

  async function login(userId: string, persistent?: boolean) {
    const response = await http.request.post('/r/login').send({ userId, persistent }).expect(200);
    return {
      response,
      handle: response.body.handle as string,
      jar: new CookieJar().store(response),
      antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
    };
  }

  const refresh = (jar: CookieJar) => http.request.post('/session/refresh').set('Cookie', jar.header());
  const strict = (jar: CookieJar) => http.request.get('/strict').set('Cookie', jar.header());
  const admin = (body: object) => http.request.post('/r/admin/revoke').send(body).expect(200);

  /** The holder's refresh and `checkDatabase` request both answer 401 UNAUTHORISED with `reason`. */
  async function expectToldWhy(jar: CookieJar, reason: string): Promise<void> {
    const refused = await refresh(jar).expect(401);
    expect(refused.body).toMatchObject({ type: 'UNAUTHORISED', reason });
    const checked = await strict(jar).expect(401);
    expect(checked.body).toMatchObject({ type: 'UNAUTHORISED', reason });
  }

  describe('revocation reasons', () => {
    it("tells a signed-out session's other copy (another tab) 'signed-out'", async () => {
      const { jar, antiCsrf } = await login(newUser());
      const copy = new CookieJar().set(ACCESS_TOKEN_COOKIE, jar.get(ACCESS_TOKEN_COOKIE)!);
      copy.set(REFRESH_TOKEN_COOKIE, jar.get(REFRESH_TOKEN_COOKIE)!);
      copy.set(ID_REFRESH_TOKEN_COOKIE, jar.get(ID_REFRESH_TOKEN_COOKIE)!);
      await http.request
        .post('/r/logout')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, antiCsrf)
        .send({})
        .expect(200);
      await expectToldWhy(copy, REVOCATION_REASONS.signedOut);
    });

    it('passes an app reason given to session.revokeSession()', async () => {
      const { jar, antiCsrf } = await login(newUser());
      const copy = jar.without();
      await http.request
        .post('/r/logout')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, antiCsrf)
        .send({ reason: 'account-deleted' })
        .expect(200);
      await expectToldWhy(copy, 'account-deleted');
    });

    it.each([
      { how: 'handle', reason: undefined, told: REVOCATION_REASONS.revoked, operation: 'revoke' },
      { how: 'handle', reason: 'password-changed', told: 'password-changed', operation: 'revoke' },
      {
        how: 'for-user',
        reason: REVOCATION_REASONS.impersonationEnded,
        told: 'impersonation-ended',
        operation: 'revoke-for-user',
      },
      { how: 'for-user', reason: undefined, told: REVOCATION_REASONS.revoked, operation: 'revoke-for-user' },
      {
        how: 'all',
        reason: undefined,
        told: REVOCATION_REASONS.signedOutEverywhere,
        operation: 'revoke-all',
      },
      { how: 'all', reason: 'admin-lockout', told: 'admin-lockout', operation: 'revoke-all' },
    ])(
      'revoking by $how with reason $reason tells the holder $told',
      async ({ how, reason, told, operation }) => {
        const userId = newUser();
        const { jar, handle } = await login(userId);
        const answer = await admin({ how, handle, userId, reason });
        // The admin learns only what the call returns.
        expect(answer.body).toEqual({ revoked: how === 'all' ? 1 : true });
        await expectToldWhy(jar, told);
        const whose = how === 'handle' ? { sessionHandle: handle } : { userId };
        expect(revoked).toContainEqual(expect.objectContaining({ reason: told, operation, ...whose }));
      },
    );

    it("tells a stateless route's handler that reads or writes the session's data why, and clears the cookies", async () => {
      const userId = newUser();
      const { jar, handle, antiCsrf } = await login(userId);
      await http.request.get('/r/data').set('Cookie', jar.header()).expect(200);
      await admin({ how: 'handle', handle, reason: 'password-changed' });
      const read = await http.request.get('/r/data').set('Cookie', jar.header()).expect(401);
      expect(read.body).toMatchObject({ type: 'UNAUTHORISED', reason: 'password-changed' });
      const cleared = setCookies(read).filter((cookie) => cookie.value === '');
      expect(cleared.map((cookie) => cookie.name)).toEqual(
        expect.arrayContaining([ACCESS_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE]),
      );
      const written = await http.request
        .post('/r/data')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, antiCsrf)
        .send({ data: { theme: 'dark' } })
        .expect(401);
      expect(written.body).toMatchObject({ type: 'UNAUTHORISED', reason: 'password-changed' });
    });

    it('tells the other sessions \'others-revoked\' after "sign out everywhere else"', async () => {
      const userId = newUser();
      const other = await login(userId);
      const kept = await login(userId);
      const response = await http.request
        .post('/r/revoke-others')
        .set('Cookie', kept.jar.header())
        .set(ANTI_CSRF_HEADER, kept.antiCsrf)
        .send({})
        .expect(200);
      expect(response.body).toEqual({ revoked: 1 });
      await expectToldWhy(other.jar, REVOCATION_REASONS.othersRevoked);
      await strict(kept.jar).expect(200);
      expect(revoked).toContainEqual({
        reason: 'others-revoked',
        operation: 'revoke-others',
        userId,
        count: 1,
        keptSessionHandle: expect.any(String),
      });
    });

    it("tells both the thief and the victim 'theft'", async () => {
      const userId = newUser();
      const { jar, handle } = await login(userId);
      const old = jar.without();
      const rotated = await refresh(jar).expect(200);
      jar.store(rotated);
      http.clock.advance(11); // past the grace period
      const theft = await refresh(old).expect(401);
      expect(theft.body).toMatchObject({ type: 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED', reason: 'theft' });
      expect(JSON.stringify(theft.body)).not.toContain(handle);
      await expectToldWhy(jar, REVOCATION_REASONS.theft);
      expect(revoked).toContainEqual({
        reason: 'theft',
        operation: 'theft',
        sessionHandle: handle,
        userId,
        count: 1,
      });
    });

    it("tells a session that idled out 'expired'", async () => {
      const { jar } = await login(newUser());
      http.clock.advance(IDLE_SECONDS + 1);
      const refused = await refresh(jar).expect(401);
      expect(refused.body).toMatchObject({ type: 'UNAUTHORISED', reason: 'expired' });
    });

    it('reveals nothing to a request that does not hold the session', async () => {
      const { jar, handle } = await login(newUser());
      const refreshToken = jar.get(REFRESH_TOKEN_COOKIE)!;
      const accessToken = jar.get(ACCESS_TOKEN_COOKIE)!;
      await admin({ how: 'handle', handle, reason: 'secret-reason' });
      // The same handle with a forged tag, and an access token whose signature fails.
      const forgedRefresh = `${refreshToken.slice(0, -4)}${refreshToken.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
      const forgedAccess = `${accessToken.slice(0, -4)}${accessToken.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
      const refused = await refresh(jar.without().set(REFRESH_TOKEN_COOKIE, forgedRefresh)).expect(401);
      expect(refused.body.type).toBe('UNAUTHORISED');
      const checked = await strict(jar.without().set(ACCESS_TOKEN_COOKIE, forgedAccess)).expect(401);
      expect(checked.body.type).toBe('TRY_REFRESH_TOKEN');
      for (const body of [refused.body, checked.body]) {
        expect(body).not.toHaveProperty('reason');
        expect(JSON.stringify(body)).not.toContain('secret-reason');
      }
      // The genuine holder is told.
      await expectToldWhy(jar, 'secret-reason');
    });

    it('refuses a malformed reason (500 GENERAL_ERROR) and revokes nothing', async () => {
      const { jar, handle } = await login(newUser());
      for (const reason of ['', ' padded', 'x'.repeat(65), 'line\nbreak', 'émoji🙂', 42]) {
        const response = await http.request
          .post('/r/admin/revoke')
          .send({ how: 'handle', handle, reason })
          .expect(500);
        expect(response.body.type).toBe('GENERAL_ERROR');
      }
      await strict(jar).expect(200);
      expect((await admin({ how: 'handle', handle, reason: 'x'.repeat(64) })).body).toEqual({
        revoked: true,
      });
      await expectToldWhy(jar, 'x'.repeat(64));
    });

    it('forgets a reason after revocationReasonRetention, with the cleanup', async () => {
      const { jar, handle } = await login(newUser());
      await admin({ how: 'handle', handle, reason: 'short-lived' });
      http.clock.advance(RETENTION_SECONDS - 1);
      await http.app.get(SessionEngine).removeExpiredSessions();
      // (The access token has expired by now: only the refresh can tell.)
      expect((await refresh(jar).expect(401)).body).toMatchObject({ reason: 'short-lived' });
      http.clock.advance(2);
      await http.app.get(SessionEngine).removeExpiredSessions();
      const refused = await refresh(jar).expect(401);
      expect(refused.body.type).toBe('UNAUTHORISED');
      expect(refused.body).not.toHaveProperty('reason');
    });
  });

  describe('remember-me', () => {
    const sessionCookies = (response: Response) =>
      setCookies(response).filter((cookie) => cookie.value !== '');

    /** Every session cookie set, with whether it carries Expires or Max-Age. */
    const expiries = (response: Response) =>
      sessionCookies(response).map((cookie) => ({
        name: cookie.name,
        lasting: /;\s*(expires|max-age)=/i.test(cookie.raw),
      }));

    it('sets browser-session cookies (no Expires, no Max-Age) for persistent: false, across refreshes', async () => {
      const { response, jar } = await login(newUser(), false);
      const unlasting = [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE].map((name) => ({
        name,
        lasting: false,
      }));
      expect(expiries(response)).toEqual(unlasting);
      for (let round = 0; round < 2; round++) {
        const refreshed = await refresh(jar).expect(200);
        expect(expiries(refreshed)).toEqual(unlasting);
        jar.store(refreshed);
      }
      await strict(jar).expect(200);
    });

    it('keeps persistent cookies by default', async () => {
      const { response, jar } = await login(newUser());
      const lasting = [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE].map((name) => ({
        name,
        lasting: true,
      }));
      expect(expiries(response)).toEqual(lasting);
      expect(expiries(response).every((cookie) => cookie.lasting)).toBe(true);
      const refreshed = await refresh(jar).expect(200);
      expect(expiries(refreshed)).toEqual(lasting);
      expect(expiries(refreshed).every((cookie) => cookie.lasting)).toBe(true);
    });

    it('slides a browser-session session by refreshToken.nonPersistentValidity', async () => {
      const brief = await login(newUser(), false);
      const lasting = await login(newUser(), true);
      for (const jar of [brief.jar, lasting.jar]) {
        http.clock.advance(BROWSER_SESSION_IDLE_SECONDS - 60);
        jar.store(await refresh(jar).expect(200));
      }
      // brief was refreshed 540 s ago, lasting just now: 100 s on, brief has idled out.
      http.clock.advance(BROWSER_SESSION_IDLE_SECONDS - 60 + 100);
      const refused = await refresh(brief.jar).expect(401);
      expect(refused.body).toMatchObject({ type: 'UNAUTHORISED', reason: 'expired' });
      await refresh(lasting.jar).expect(200);
    });

    it("refuses a rememberMe or persistent that is not a boolean (a form's 'false'), writing nothing", async () => {
      const credentials = { username: 'ada', password: 'right' };
      const userId = newUser();
      const refused = await http.request
        .post('/r/strategy-login')
        .send({ credentials, rememberMe: 'false' })
        .expect(400);
      expect(refused.body.type).toBe('INVALID_LOGIN_OPTIONS');
      expect(setCookies(refused)).toEqual([]);
      const bad = await http.request.post('/r/login').send({ userId, persistent: 'false' }).expect(500);
      expect(bad.body.type).toBe('GENERAL_ERROR');
      expect(setCookies(bad)).toEqual([]);
      expect(await http.app.get(SessionEngine).listSessionsForUser(userId)).toEqual([]);
    });

    it('login(..., { rememberMe: false }) sets browser-session cookies; rememberMe: true lasting ones', async () => {
      const credentials = { username: 'ada', password: 'right' };
      const brief = await http.request
        .post('/r/strategy-login')
        .send({ credentials, rememberMe: false })
        .expect(200);
      expect(expiries(brief).map((cookie) => cookie.lasting)).toEqual([false, false, false]);
      const lasting = await http.request
        .post('/r/strategy-login')
        .send({ credentials, rememberMe: true })
        .expect(200);
      expect(expiries(lasting).map((cookie) => cookie.lasting)).toEqual([true, true, true]);
    });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANTI_CSRF_HEADER,
  REVOCATION_REASONS,
  SessionEngine,
  SessionEvents,
  type SessionModuleOptions,
  type SessionRevokedEvent,
} from '../lib/index.js';
import { RevocationController } from './fixtures/revocation.fixtures.js';
import { CookieJar, setCookies } from './support/cookies.js';
import {
  createTestDatabase,
  reachableDatabases,
  type DatabaseKind,
  type TestDatabase,
} from './support/databases.js';
import { createHttpApp, type AdapterKind, type HttpApp } from './support/http-app.js';

const reachable = await reachableDatabases();
// Race safety matters on the servers (several instances share them); SQLite runs in one process.
const MATRIX = (
  [
    ['express', 'mariadb'],
    ['fastify', 'postgres'],
    ['fastify', 'sqlite'],
  ] as [AdapterKind, DatabaseKind][]
).filter(([, kind]) => reachable.includes(kind));

const PARALLEL_LOGINS = 8;
const CAP = 3;

describe.each(MATRIX)('maxSessionsPerUser over HTTP on %s (%s)', (adapter, kind) => {
  let database: TestDatabase;
  const apps: HttpApp[] = [];
  let users = 0;
  const newUser = () => `capped-${++users}`;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await database?.drop();
  });

  /** An app with the cap; its session revocations are collected in `revoked`. */
  async function boot(options: Partial<SessionModuleOptions>) {
    const http = await createHttpApp({
      adapter,
      database: database.options,
      options: { cookie: { secure: false }, maxSessionsPerUser: CAP, ...options },
      controllers: [RevocationController],
    });
    apps.push(http);
    const revoked: SessionRevokedEvent[] = [];
    http.app.get(SessionEvents).on('session.revoked', (event) => void revoked.push(event));
    const count = async (userId: string) =>
      (await http.app.get(SessionEngine).listSessionsForUser(userId)).length;
    const login = (userId: string) => http.request.post('/r/login').send({ userId });
    return { http, revoked, count, login };
  }

  describe("onSessionLimit 'revoke-oldest' (the default)", () => {
    let app: Awaited<ReturnType<typeof boot>>;
    beforeAll(async () => {
      app = await boot({});
    });

    it('revokes the oldest session at the cap, telling its holder "limit"', async () => {
      const userId = newUser();
      const jars: CookieJar[] = [];
      for (let index = 0; index <= CAP; index++) {
        jars.push(new CookieJar().store(await app.login(userId).expect(200)));
        app.http.clock.advance(1);
      }
      expect(await app.count(userId)).toBe(CAP);
      const [oldest, ...rest] = jars;
      const refused = await app.http.request
        .post('/session/refresh')
        .set('Cookie', oldest.header())
        .expect(401);
      expect(refused.body).toMatchObject({ type: 'UNAUTHORISED', reason: REVOCATION_REASONS.limit });
      for (const jar of rest) await app.http.request.get('/strict').set('Cookie', jar.header()).expect(200);
      expect(app.revoked).toContainEqual(
        expect.objectContaining({ reason: 'limit', operation: 'limit', userId }),
      );
    });

    it(`never leaves more than ${CAP} sessions after ${PARALLEL_LOGINS} parallel sign-ins`, async () => {
      const userId = newUser();
      const responses = await Promise.all(Array.from({ length: PARALLEL_LOGINS }, () => app.login(userId)));
      expect(responses.map((response) => response.status)).toEqual(Array(PARALLEL_LOGINS).fill(200));
      expect(await app.count(userId)).toBe(CAP);
      const limited = app.revoked.filter((event) => event.userId === userId && event.reason === 'limit');
      expect(limited).toHaveLength(PARALLEL_LOGINS - CAP);
      // Every session that gave way tells its holder why; the others work.
      const told = await Promise.all(
        responses.map(async (response) => {
          const jar = new CookieJar().store(response);
          const refreshed = await app.http.request.post('/session/refresh').set('Cookie', jar.header());
          return refreshed.status === 200 ? 'live' : refreshed.body.reason;
        }),
      );
      expect(told.filter((state) => state === 'live')).toHaveLength(CAP);
      expect(told.filter((state) => state === 'limit')).toHaveLength(PARALLEL_LOGINS - CAP);
    });

    it('counts per user, byte-exactly, and not expired sessions', async () => {
      const userId = newUser();
      for (let index = 0; index < CAP; index++) await app.login(userId).expect(200);
      await app.login(`${userId} `).expect(200);
      await app.login(userId.toUpperCase()).expect(200);
      expect(await app.count(userId)).toBe(CAP);
      expect(app.revoked.filter((event) => event.userId === userId)).toEqual([]);
      // Expired sessions (not yet cleaned up) leave room.
      app.http.clock.advance(8_640_001);
      for (let index = 0; index < CAP; index++) await app.login(userId).expect(200);
      expect(app.revoked.filter((event) => event.userId === userId)).toEqual([]);
    });
  });

  describe("onSessionLimit 'refuse'", () => {
    let app: Awaited<ReturnType<typeof boot>>;
    beforeAll(async () => {
      app = await boot({ onSessionLimit: 'refuse' });
    });

    it(`answers 403 SESSION_LIMIT_REACHED beyond the cap, writing nothing, under ${PARALLEL_LOGINS} parallel sign-ins`, async () => {
      const userId = newUser();
      const responses = await Promise.all(Array.from({ length: PARALLEL_LOGINS }, () => app.login(userId)));
      const statuses = responses.map((response) => response.status).sort();
      expect(statuses).toEqual([...Array(CAP).fill(200), ...Array(PARALLEL_LOGINS - CAP).fill(403)]);
      for (const response of responses.filter((response) => response.status === 403)) {
        expect(response.body.type).toBe('SESSION_LIMIT_REACHED');
        expect(setCookies(response)).toEqual([]);
        expect(response.headers[ANTI_CSRF_HEADER]).toBeUndefined();
      }
      expect(await app.count(userId)).toBe(CAP);
      expect(app.revoked.filter((event) => event.userId === userId)).toEqual([]);
    });

    it('lets the user sign in again once a session is signed out', async () => {
      const userId = newUser();
      const first = await app.login(userId).expect(200);
      for (let index = 1; index < CAP; index++) await app.login(userId).expect(200);
      await app.login(userId).expect(403);
      await app.http.request
        .post('/r/admin/revoke')
        .send({ how: 'handle', handle: first.body.handle })
        .expect(200);
      await app.login(userId).expect(200);
    });
  });

  describe("onSessionLimit 'revoke-least-recently-active'", () => {
    it('revokes the session refreshed longest ago, not the oldest', async () => {
      const app = await boot({ onSessionLimit: 'revoke-least-recently-active' });
      const userId = newUser();
      const jars: CookieJar[] = [];
      for (let index = 0; index < CAP; index++) {
        jars.push(new CookieJar().store(await app.login(userId).expect(200)));
        app.http.clock.advance(1);
      }
      // The oldest is active again; the second oldest is now the least recently active.
      const [oldest, idle] = jars;
      oldest.store(
        await app.http.request.post('/session/refresh').set('Cookie', oldest.header()).expect(200),
      );
      app.http.clock.advance(1);
      await app.login(userId).expect(200);
      await app.http.request.post('/session/refresh').set('Cookie', oldest.header()).expect(200);
      const refused = await app.http.request
        .post('/session/refresh')
        .set('Cookie', idle.header())
        .expect(401);
      expect(refused.body).toMatchObject({ type: 'UNAUTHORISED', reason: 'limit' });
    });

    it('counts a checkDatabase request as activity (lastActiveAt), not only a refresh', async () => {
      const app = await boot({ onSessionLimit: 'revoke-least-recently-active' });
      const userId = newUser();
      const jars: CookieJar[] = [];
      for (let index = 0; index < CAP; index++) {
        jars.push(new CookieJar().store(await app.login(userId).expect(200)));
        app.http.clock.advance(1);
      }
      // Past the minute that spaces lastActiveAt writes: the oldest, never refreshed, is used on a
      // checkDatabase route (within its access token's validity); the second oldest stays idle.
      app.http.clock.advance(61);
      const [oldest, idle, third] = jars;
      await app.http.request.get('/strict').set('Cookie', oldest.header()).expect(200);
      app.http.clock.advance(1);
      await app.login(userId).expect(200);
      await app.http.request.get('/strict').set('Cookie', oldest.header()).expect(200);
      await app.http.request.get('/strict').set('Cookie', third.header()).expect(200);
      const refused = await app.http.request
        .post('/session/refresh')
        .set('Cookie', idle.header())
        .expect(401);
      expect(refused.body).toMatchObject({ type: 'UNAUTHORISED', reason: 'limit' });
    });
  });
});

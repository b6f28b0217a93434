import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionEvents, type SessionEventMap } from '../lib/index.js';
import { createTestSession } from '../lib/testing/index.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { CookieJar, cookieNamed, setCookies } from './support/cookies.js';
import { ADAPTERS, createHttpApp, type HttpApp } from './support/http-app.js';
import { LoginController, PasswordStrategy, TwoStepStrategy } from './fixtures/login.fixtures.js';
import { ACCESS_TOKEN_COOKIE, ID_REFRESH_TOKEN_HEADER } from '../lib/http/wire.js';

const [database] = await reachableDatabases(['mariadb']);

describe.each(database ? ADAPTERS : [])(
  'login strategies, events and test sessions on %s (MariaDB)',
  (adapter) => {
    let db: TestDatabase;
    let http: HttpApp;
    const events: { [K in keyof SessionEventMap]?: SessionEventMap[K][0][] } = {};

    async function rows(): Promise<number> {
      const [{ n }] = await http.dataSource.query('SELECT COUNT(*) AS n FROM session_info');
      return Number(n);
    }

    beforeAll(async () => {
      db = await createTestDatabase('mariadb');
      http = await createHttpApp({
        adapter,
        database: db.options,
        options: { accessToken: { validity: 600, clockTolerance: 0 } },
        controllers: [LoginController],
        providers: [PasswordStrategy, TwoStepStrategy],
      });
      const emitter = http.app.get(SessionEvents);
      for (const name of [
        'login.attempt',
        'session.created',
        'session.refreshed',
        'session.revoked',
        'session.theft-detected',
      ] as const) {
        (emitter.on as unknown as (event: string, listener: (payload: never) => void) => void)(
          name,
          (payload) => {
            (events[name] ??= []).push(payload);
          },
        );
      }
    });
    afterAll(async () => {
      await http?.close();
      await db?.drop();
    });

    it('signs in through a registered strategy and emits the attempt and the new session', async () => {
      const response = await http.request
        .post('/auth/login')
        .send({ strategy: 'password', credentials: { username: 'ada', password: 'right' } })
        .expect(200);
      expect(response.body).toEqual({ status: 'signed-in', userId: 7 });
      const me = await http.request
        .get('/me')
        .set('Cookie', new CookieJar().store(response).header())
        .expect(200);
      expect(me.body).toMatchObject({ userId: 7, payload: { name: 'Ada' }, data: { via: 'password' } });
      expect(events['login.attempt']).toContainEqual({ strategy: 'password', success: true, userId: 7 });
      expect(events['session.created']).toContainEqual({
        sessionHandle: me.body.handle,
        userId: 7,
        metadata: expect.objectContaining({ loginMethod: 'password' }),
      });
    });

    it('refuses wrong credentials with LOGIN_FAILED: 401, no cookie cleared or set, no row', async () => {
      const existing = await http.request
        .post('/auth/login')
        .send({ strategy: 'password', credentials: { username: 'ada', password: 'right' } });
      const jar = new CookieJar().store(existing);
      const before = await rows();
      for (const credentials of [
        { username: 'ada', password: 'wrong' },
        { username: 'nobody', password: 'right' },
      ]) {
        const response = await http.request
          .post('/auth/login')
          .set('Cookie', jar.header())
          .send({ strategy: 'password', credentials })
          .expect(401);
        expect(response.body.type).toBe('LOGIN_FAILED');
        expect(setCookies(response)).toEqual([]);
        expect(response.headers[ID_REFRESH_TOKEN_HEADER]).toBeUndefined();
      }
      expect(await rows()).toBe(before);
      await http.request.get('/me').set('Cookie', jar.header()).expect(200);
      expect(events['login.attempt']).toContainEqual({
        strategy: 'password',
        success: false,
        error: 'invalid-credentials',
      });
    });

    it('answers an unknown strategy with 400 UNKNOWN_LOGIN_STRATEGY', async () => {
      const response = await http.request
        .post('/auth/login')
        .send({ strategy: 'magic', credentials: {} })
        .expect(400);
      expect(response.body.type).toBe('UNKNOWN_LOGIN_STRATEGY');
      expect(setCookies(response)).toEqual([]);
    });

    it('answers a pending first step without a session', async () => {
      const before = await rows();
      const response = await http.request
        .post('/auth/login')
        .send({ strategy: 'two-step', credentials: { email: 'ada@example.test' } })
        .expect(200);
      expect(response.body).toEqual({ status: 'pending', challenge: { sentTo: 'ada@example.test' } });
      expect(setCookies(response)).toEqual([]);
      expect(await rows()).toBe(before);
    });

    it('fires no login.attempt for a pending first step, only when the login fails or completes', async () => {
      const twoStep = () => (events['login.attempt'] ?? []).filter((event) => event.strategy === 'two-step');
      const before = twoStep().length;
      await http.request
        .post('/auth/login')
        .send({ strategy: 'two-step', credentials: { email: 'ada@example.test' } })
        .expect(200);
      expect(twoStep()).toHaveLength(before);
      await http.request.post('/auth/login').send({ strategy: 'two-step', credentials: {} }).expect(401);
      expect(twoStep().slice(before)).toEqual([
        { strategy: 'two-step', success: false, error: 'invalid-credentials' },
      ]);
    });

    it('shortens the access-token lifetime with expiresIn, and refreshes keep it', async () => {
      const login = (expiresIn?: number | string) =>
        http.request
          .post('/auth/login')
          .send({ strategy: 'password', credentials: { username: 'ada', password: 'right' }, expiresIn });
      const short = await login(60);
      const jar = new CookieJar().store(short);
      const expOf = (token: string) =>
        JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp * 1000;
      expect(expOf(jar.get(ACCESS_TOKEN_COOKIE)!) - http.clock.now()).toBeLessThanOrEqual(60_000);
      http.clock.advance(61);
      expect((await http.request.get('/me').set('Cookie', jar.header()).expect(401)).body.type).toBe(
        'TRY_REFRESH_TOKEN',
      );
      const refreshed = await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
      const token = cookieNamed(refreshed, ACCESS_TOKEN_COOKIE)!.value;
      expect(expOf(token) - http.clock.now()).toBeLessThanOrEqual(60_000);
      expect(expOf(token) - http.clock.now()).toBeGreaterThan(50_000);
      for (const invalid of [0, 601, 1.5]) {
        expect((await login(invalid).expect(400)).body.type).toBe('INVALID_LOGIN_OPTIONS');
      }
    });

    it('takes expiresIn as a duration string like @nestjs/jwt: 10m, 90s, 0.5m', async () => {
      const expOf = (token: string) =>
        JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp;
      for (const [expiresIn, seconds] of [
        ['10m', 600],
        ['90s', 90],
        ['0.5m', 30],
        ['1 minute', 60],
      ] as const) {
        const response = await http.request
          .post('/auth/login')
          .send({ strategy: 'password', credentials: { username: 'ada', password: 'right' }, expiresIn })
          .expect(200);
        const token = cookieNamed(response, ACCESS_TOKEN_COOKIE)!.value;
        expect(expOf(token) - Math.floor(http.clock.now() / 1000)).toBe(seconds);
      }
    });

    it('refuses a malformed or out-of-range expiresIn string with 400 naming expiresIn, before validating', async () => {
      const attempts = () => events['login.attempt']?.length ?? 0;
      const before = await rows();
      const beforeAttempts = attempts();
      // 600 s is the app's accessToken.validity; '120' has no unit (ms would read milliseconds).
      for (const invalid of ['15 parsecs', '', '-5m', '0s', '1500ms', '120', '15m', '1h', '7d', '10m ']) {
        const response = await http.request
          .post('/auth/login')
          .send({
            strategy: 'password',
            credentials: { username: 'ada', password: 'right' },
            expiresIn: invalid,
          })
          .expect(400);
        expect(response.body.type).toBe('INVALID_LOGIN_OPTIONS');
        expect(response.body.message).toContain(`expiresIn '${invalid}' is invalid`);
        expect(response.body.message).toContain('600');
        expect(setCookies(response)).toEqual([]);
      }
      expect(await rows()).toBe(before);
      expect(attempts()).toBe(beforeAttempts);
    });

    it('emits refreshed, revoked and theft events', async () => {
      const created = await createTestSession(http.app, 'evented');
      const first = await http.request.post('/session/refresh').set('Cookie', created.cookie).expect(200);
      await http.request.post('/session/refresh').set('Cookie', created.cookie).expect(200); // replay inside grace
      expect(events['session.refreshed']).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ sessionHandle: created.sessionHandle, userId: 'evented', replay: false }),
          expect.objectContaining({ sessionHandle: created.sessionHandle, userId: 'evented', replay: true }),
        ]),
      );
      http.clock.advance(11);
      await http.request.post('/session/refresh').set('Cookie', created.cookie).expect(401);
      expect(events['session.theft-detected']).toContainEqual({
        sessionHandle: created.sessionHandle,
        userId: 'evented',
      });
      expect(events['session.revoked']).toContainEqual({
        reason: 'theft',
        operation: 'theft',
        sessionHandle: created.sessionHandle,
        userId: 'evented',
        count: 1,
      });
      expect(setCookies(first).length).toBe(3);
    });

    it('keeps a request working when an event listener throws', async () => {
      const emitter = http.app.get(SessionEvents);
      const faulty = () => {
        throw new Error('listener bug');
      };
      emitter.on('session.created', faulty);
      try {
        await http.request.post('/login').send({ userId: 'still-works' }).expect(200);
      } finally {
        emitter.off('session.created', faulty);
      }
      expect(http.logs.take('ERROR')).toEqual([
        "ERROR [SessionEvents] A 'session.created' listener threw: listener bug",
      ]);
    });

    it('runs every listener of an event when one of them throws, logging the throw once', async () => {
      const emitter = http.app.get(SessionEvents);
      const seen: string[] = [];
      const faulty = () => {
        throw new Error('first listener bug');
      };
      const healthy = ({ userId }: { userId: unknown }) => void seen.push(String(userId));
      const listeners = emitter.listenerCount('session.created');
      emitter.on('session.created', faulty);
      emitter.once('session.created', healthy);
      try {
        await http.request.post('/login').send({ userId: 'isolated' }).expect(200);
        await http.request.post('/login').send({ userId: 'once-only' }).expect(200);
      } finally {
        emitter.off('session.created', faulty);
      }
      expect(seen).toEqual(['isolated']);
      expect(emitter.listenerCount('session.created')).toBe(listeners);
      expect(http.logs.take('ERROR')).toEqual([
        "ERROR [SessionEvents] A 'session.created' listener threw: first listener bug",
        "ERROR [SessionEvents] A 'session.created' listener threw: first listener bug",
      ]);
    });

    it('gives e2e tests a ready session through createTestSession', async () => {
      const credentials = await createTestSession(http.app, 'tester', { role: 'qa' });
      const me = await http.request.get('/me').set(credentials.headers).expect(200);
      expect(me.body).toMatchObject({ userId: 'tester', payload: { role: 'qa' } });
      await http.request.post('/notes').set(credentials.headers).expect(201);
      await http.request.get('/me').set('Authorization', `Bearer ${credentials.accessToken}`).expect(200);
    });

    it("takes '15m', '1h' and '7d' when accessToken.validity allows them", async () => {
      const long = await createHttpApp({
        adapter,
        database: db.options,
        options: { accessToken: { validity: 7 * 86_400 } },
        controllers: [LoginController],
        providers: [PasswordStrategy],
      });
      try {
        for (const [expiresIn, seconds] of [
          ['15m', 900],
          ['1h', 3600],
          ['7d', 604_800],
          [120, 120],
        ] as const) {
          const response = await long.request
            .post('/auth/login')
            .send({ strategy: 'password', credentials: { username: 'ada', password: 'right' }, expiresIn })
            .expect(200);
          const token = cookieNamed(response, ACCESS_TOKEN_COOKIE)!.value;
          const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
          expect(exp - Math.floor(long.clock.now() / 1000)).toBe(seconds);
        }
      } finally {
        await long.close();
      }
    });
  },
);

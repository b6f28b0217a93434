import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionEvents } from '../../lib/index.js';
import type { SessionStore } from '../../lib/testing/index.js';
import { CookieJar } from '../support/cookies.js';
import {
  MARIADB,
  connectionOptions,
  createTestDatabase,
  reachableDatabases,
  type TestDatabase,
} from '../support/databases.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { HttpClient, cookieNames, type HttpAnswer } from './support/http-client.js';
import { createReliabilityApp, type ReliabilityApp } from './support/reliability-app.js';
import { SessionRows } from './support/session-rows.js';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
} from '../../lib/http/wire.js';

const [database] = await reachableDatabases(['mariadb']);

/** Short waits keep the suite quick; the grace period stays above twice the timeout, as required. */
const DATABASE_TIMEOUT_S = 1;
const GRACE_PERIOD_S = 4;
/** Longest a request may take while the database is broken: a few storage deadlines plus slack. */
const ANSWER_BOUND_MS = 4 * DATABASE_TIMEOUT_S * 1000;

interface SignedIn {
  jar: CookieJar;
  antiCsrf: string;
  handle: string;
}

function expectGeneralError(answer: HttpAnswer, what: string): void {
  expect(answer.status, `${what}: status`).toBe(500);
  expect(answer.body?.type, `${what}: error type`).toBe('GENERAL_ERROR');
  expect(cookieNames(answer), `${what}: Set-Cookie`).toEqual([]);
  expect(answer.elapsed, `${what}: answered within ${ANSWER_BOUND_MS} ms`).toBeLessThan(ANSWER_BOUND_MS);
}

describe.each(database ? [database] : [])('faults between the app and %s', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let rows: SessionRows;
  let app: ReliabilityApp;
  let client: HttpClient;
  const thefts: string[] = [];
  const replays: string[] = [];
  /** When set, the next rotation commits and then fails, as a connection lost before the reply would. */
  const failAfterCommit = { next: false, committed: 0 };
  /** When set, the network stalls just before the next rotation's UPDATE leaves the app. */
  const holdRotation = { next: false };

  function wrapStore(store: SessionStore): SessionStore {
    return new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'rotateRefreshToken') {
          const value = Reflect.get(target, property, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (...args: Parameters<SessionStore['rotateRefreshToken']>) => {
          if (holdRotation.next) {
            holdRotation.next = false;
            proxy.pause();
          }
          const won = await target.rotateRefreshToken(...args);
          if (failAfterCommit.next) {
            failAfterCommit.next = false;
            if (won) failAfterCommit.committed++;
            throw new Error('Connection lost: the server closed the connection (after COMMIT).');
          }
          return won;
        };
      },
    });
  }

  beforeAll(async () => {
    db = await createTestDatabase('mariadb');
    proxy = await new TcpProxy(MARIADB.host, MARIADB.port).start();
    const name = (db.options as { database: string }).database;
    rows = await SessionRows.open(name);
    app = await createReliabilityApp({
      database: connectionOptions('mariadb', name, proxy.port),
      options: {
        databaseTimeout: DATABASE_TIMEOUT_S,
        refreshToken: { gracePeriod: GRACE_PERIOD_S },
        cleanupInterval: 0,
      },
      wrapStore,
      listen: true,
    });
    const events = app.app.get(SessionEvents);
    events.on('session.theft-detected', ({ sessionHandle }) => thefts.push(sessionHandle));
    events.on('session.refreshed', ({ sessionHandle, replay }) => replay && replays.push(sessionHandle));
    client = new HttpClient(app.url);
  });

  afterAll(async () => {
    proxy?.restore();
    client?.close();
    await app?.close();
    await proxy?.stop();
    await rows?.close();
    await db?.drop();
  });

  async function signIn(userId: string): Promise<SignedIn> {
    const jar = new CookieJar();
    const login = await client.post('/login', { jar, body: { userId, data: { plan: 'pro' } } });
    expect(login.status).toBe(200);
    return { jar, antiCsrf: String(login.headers[ANTI_CSRF_HEADER]), handle: String(login.body?.handle) };
  }

  /** Refreshes until the app answers 200, as a front end retries; any answer but a 500 is final. */
  async function refreshAfterRecovery(jar: CookieJar): Promise<HttpAnswer> {
    for (let attempt = 1; ; attempt++) {
      const answer = await client.post('/session/refresh', { jar });
      if (answer.status !== 500 || attempt === 10) return answer;
      expect(answer.body?.type).toBe('GENERAL_ERROR');
      await sleep(300);
    }
  }

  const faults = [
    { name: 'down (connections dropped)', apply: () => proxy.cut() },
    { name: 'hanging (no byte passes)', apply: () => proxy.pause() },
    { name: 'slower than databaseTimeout', apply: () => proxy.delay(1500) },
  ];

  it.each(faults)(
    'while the database is $name: database calls answer 500 GENERAL_ERROR in bounded time without Set-Cookie, stateless routes serve, and the same refresh token works after recovery',
    async ({ apply }) => {
      const user = await signIn(`fault-user-${Math.random()}`);
      const before = await rows.find(user.handle);
      const csrf = { [ANTI_CSRF_HEADER]: user.antiCsrf };
      apply();
      try {
        const [login, refresh, strict, data, update] = await Promise.all([
          client.post('/login', { body: { userId: 'signs-in-during-the-fault' } }),
          client.post('/session/refresh', { jar: user.jar }),
          client.get('/strict', { jar: user.jar }),
          client.get('/me', { jar: user.jar }),
          client.post('/data', { jar: user.jar, headers: csrf, body: { data: { plan: 'free' } } }),
        ]);
        expectGeneralError(login, 'login');
        expectGeneralError(refresh, 'refresh');
        expectGeneralError(strict, 'checkDatabase route');
        expectGeneralError(data, 'getSessionData');
        expectGeneralError(update, 'updateSessionData');
        // The access token alone proves the session: no database needed.
        const notes = await client.post('/notes', { jar: user.jar, headers: csrf });
        expect(notes.status).toBe(201);
      } finally {
        proxy.restore();
      }
      const recovered = await refreshAfterRecovery(user.jar);
      expect(recovered.status).toBe(200);
      expect(cookieNames(recovered)).toEqual(
        expect.arrayContaining([ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE]),
      );
      expect(await rows.find(user.handle)).toEqual({
        handle: user.handle,
        generation: before!.generation + 1,
      });
      const me = await client.get('/me', { jar: user.jar });
      expect(me.status).toBe(200);
      expect(me.body?.handle).toBe(user.handle);
      const strict = await client.get('/strict', { jar: user.jar });
      expect(strict.status).toBe(200);
      expect(thefts).not.toContain(user.handle);
    },
  );

  it('serves normally when the database is slow but within databaseTimeout', async () => {
    proxy.delay(100);
    try {
      const user = await signIn('slow-but-fine');
      const refresh = await client.post('/session/refresh', { jar: user.jar });
      expect(refresh.status).toBe(200);
      const strict = await client.get('/strict', { jar: user.jar });
      expect(strict.status).toBe(200);
      const me = await client.get('/me', { jar: user.jar });
      expect(me.body?.data).toEqual({ plan: 'pro' });
    } finally {
      proxy.restore();
    }
  });

  it('recovers a refresh that committed but failed before answering, when the client retries inside the grace period', async () => {
    const user = await signIn('lost-response');
    failAfterCommit.next = true;
    const lost = await client.post('/session/refresh', { jar: user.jar });
    expectGeneralError(lost, 'refresh that failed after its commit');
    expect(failAfterCommit.committed).toBe(1);
    expect(await rows.find(user.handle)).toEqual({ handle: user.handle, generation: 2 });

    // The browser still holds the rotated-away token and simply retries.
    const retry = await client.post('/session/refresh', { jar: user.jar });
    expect(retry.status).toBe(200);
    expect(replays).toContain(user.handle);
    // It got the live token of the committed rotation, not a fork of the chain.
    expect(await rows.find(user.handle)).toEqual({ handle: user.handle, generation: 2 });
    const strict = await client.get('/strict', { jar: user.jar });
    expect(strict.status).toBe(200);
    const next = await client.post('/session/refresh', { jar: user.jar });
    expect(next.status).toBe(200);
    expect(await rows.find(user.handle)).toEqual({ handle: user.handle, generation: 3 });
    expect(thefts).not.toContain(user.handle);
  });

  it('keeps a refresh blocked on a locked session row bounded, and its late commit never turns the retry into theft', async () => {
    const user = await signIn('locked-row');
    const release = await rows.lock(user.handle);
    const started = Date.now();
    try {
      // The client retries while another transaction holds the row for longer than the grace period.
      while (Date.now() - started < (GRACE_PERIOD_S + 1) * 1000) {
        const blocked = await client.post('/session/refresh', { jar: user.jar });
        expectGeneralError(blocked, 'refresh blocked by a row lock');
        await sleep(500);
      }
    } finally {
      await release();
    }
    const after = await refreshAfterRecovery(user.jar);
    expect(after.body?.type, 'the retry after the lock was released').toBeUndefined();
    expect(after.status).toBe(200);
    expect(thefts).not.toContain(user.handle);
    const strict = await client.get('/strict', { jar: user.jar });
    expect(strict.status).toBe(200);
  });

  it('never turns the retry into theft when a rotation stalled in the network arrives after the grace period', async () => {
    const user = await signIn('stalled-rotation');
    holdRotation.next = true;
    const started = Date.now();
    try {
      const stalled = await client.post('/session/refresh', { jar: user.jar });
      expectGeneralError(stalled, 'refresh whose UPDATE stalled');
      while (Date.now() - started < (GRACE_PERIOD_S + 1) * 1000) {
        expectGeneralError(
          await client.post('/session/refresh', { jar: user.jar }),
          'retry during the stall',
        );
        await sleep(500);
      }
    } finally {
      // The stalled bytes, the UPDATE among them, now reach the database.
      proxy.restore();
    }
    const after = await refreshAfterRecovery(user.jar);
    expect(after.body?.type, 'the retry after the network recovered').toBeUndefined();
    expect(after.status).toBe(200);
    expect(thefts).not.toContain(user.handle);
  });
});

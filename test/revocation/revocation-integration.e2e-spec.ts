import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SessionEngine,
  SessionEvents,
  type SessionModuleOptions,
  type SessionRevokedEvent,
} from '../../lib/index.js';
import { CookieJar } from '../support/cookies.js';
import {
  MARIADB,
  connectionOptions,
  createTestDatabase,
  reachableDatabases,
  type DatabaseKind,
  type TestDatabase,
} from '../support/databases.js';
import { FakeClock } from '../support/fake-clock.js';
import { createHttpApp, type AdapterKind, type HttpApp } from '../support/http-app.js';
import { TcpProxy } from '../support/tcp-proxy.js';

// What the other features revoke travels on the revocation bus too (issue #16 with #13 and #14):
// a payload change, the sessions a sign-in pushes out under maxSessionsPerUser, and theft. Two apps
// on one database (PostgreSQL, then MariaDB: each has its own capped-insert lock) share a Redis bus;
// B reaches the database through a TCP proxy, so with it cut an answer on B can only come from
// memory (a database read would answer 500).

const servers = await reachableDatabases(['postgres', 'mariadb']);
const DEADLINE_MS = 10_000;
const CAP = 2;

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${DEADLINE_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const CASES = (
  [
    ['express', 'fastify', 'postgres'],
    ['fastify', 'express', 'mariadb'],
  ] as [AdapterKind, AdapterKind, DatabaseKind][]
).filter(([, , kind]) => servers.includes(kind));

describe.each(CASES)('bus integration: A on %s, B on %s (Redis, %s)', (onA, onB, kind) => {
  let db: TestDatabase;
  let dbProxy: TcpProxy;
  let a: HttpApp;
  let b: HttpApp;
  const remote: SessionRevokedEvent[] = [];
  let users = 0;
  const newUser = () => `bus-${onA}-${++users}`;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    dbProxy = await new TcpProxy('127.0.0.1', kind === 'mariadb' ? MARIADB.port : 5432).start();
    const clock = new FakeClock();
    const options: Partial<SessionModuleOptions> = {
      cookie: { secure: false },
      cleanupInterval: 0,
      maxSessionsPerUser: CAP,
      revocation: {
        transport: 'redis',
        url: 'redis://127.0.0.1:6379',
        channel: `nts_${randomBytes(6).toString('hex')}`,
      },
    };
    a = await createHttpApp({ adapter: onA, database: db.options, options, clock });
    const name = (db.options as { database: string }).database;
    b = await createHttpApp({
      adapter: onB,
      database: connectionOptions(kind, name, dbProxy.port),
      options,
      clock,
    });
    b.app.get(SessionEvents).on('session.revoked', (event) => {
      if (event.remote) remote.push(event);
    });
    for (const app of [a, b]) {
      const engine = app.app.get(SessionEngine);
      await eventually(async () => engine.revocationStatus().healthy, 'bus healthy');
    }
  }, 60_000);

  afterAll(async () => {
    dbProxy?.restore();
    await a?.close();
    await b?.close();
    await dbProxy?.stop();
    await db?.drop();
  });

  async function signIn(userId: string): Promise<{ jar: CookieJar; handle: string }> {
    const login = await a.request.post('/login').send({ userId }).expect(200);
    return { jar: new CookieJar().store(login), handle: String(login.body.handle) };
  }

  /** The checkDatabase route on B: `200` or `<status> <type>`. */
  async function strictOnB(jar: CookieJar): Promise<string> {
    const answer = await b.request.get('/strict').set('Cookie', jar.header());
    return answer.status === 200 ? '200' : `${answer.status} ${String(answer.body?.type)}`;
  }

  /** The `reason` in the body of B's answer on its checkDatabase route. */
  async function reasonOnB(jar: CookieJar): Promise<unknown> {
    return (await b.request.get('/strict').set('Cookie', jar.header())).body?.reason;
  }

  /** Runs `check` with B's database cut: B answers from memory or not at all. */
  async function withDatabaseCut(check: () => Promise<void>): Promise<void> {
    dbProxy.cut();
    try {
      await check();
      expect(b.app.get(SessionEngine).revocationStatus().healthy).toBe(true);
    } finally {
      dbProxy.restore();
    }
  }

  it('a payload change on A: B answers the old token TRY_REFRESH_TOKEN from memory; the refreshed one passes', async () => {
    const changed = await signIn(newUser());
    const other = await signIn(newUser());
    expect(await strictOnB(changed.jar)).toBe('200');
    const merged = await a.app
      .get(SessionEngine)
      .mergeIntoAccessTokenPayload(changed.handle, { role: 'editor' });
    expect(merged).toBe(true);
    await withDatabaseCut(async () => {
      await eventually(
        async () => (await strictOnB(changed.jar)) === '401 TRY_REFRESH_TOKEN',
        'B refuses the old payload',
      );
      expect(await strictOnB(other.jar)).toBe('200');
    });
    const refreshed = await b.request
      .post('/session/refresh')
      .set('Cookie', changed.jar.header())
      .expect(200);
    changed.jar.store(refreshed);
    const me = await b.request.get('/me').set('Cookie', changed.jar.header()).expect(200);
    expect(me.body.payload).toMatchObject({ role: 'editor' });
    await withDatabaseCut(async () => {
      expect(await strictOnB(changed.jar)).toBe('200');
    });
  });

  it('maxSessionsPerUser on A: the session that gave way is refused on B from memory (cause limit)', async () => {
    const userId = newUser();
    const first = await signIn(userId);
    a.clock.advance(1);
    const second = await signIn(userId);
    expect(await strictOnB(first.jar)).toBe('200');
    a.clock.advance(1);
    const third = await signIn(userId);
    await withDatabaseCut(async () => {
      await eventually(
        async () => (await strictOnB(first.jar)) === '401 UNAUTHORISED',
        'B refuses the session the cap revoked',
      );
      // Told why from memory, as a database check would tell it.
      expect(await reasonOnB(first.jar)).toBe('limit');
      expect(await strictOnB(second.jar)).toBe('200');
      expect(await strictOnB(third.jar)).toBe('200');
    });
    expect(remote).toContainEqual(
      expect.objectContaining({ sessionHandle: first.handle, operation: 'limit', reason: 'limit' }),
    );
  });

  it("an app's reason on A (password changed): B refuses the user's sessions from memory and tells it", async () => {
    const userId = newUser();
    const session = await signIn(userId);
    expect(await strictOnB(session.jar)).toBe('200');
    const revoked = await a.app
      .get(SessionEngine)
      .revokeAllSessionsForUser(userId, { reason: 'password-changed' });
    expect(revoked).toBe(1);
    await withDatabaseCut(async () => {
      await eventually(
        async () => (await strictOnB(session.jar)) === '401 UNAUTHORISED',
        'B refuses the revoked session',
      );
      expect(await reasonOnB(session.jar)).toBe('password-changed');
    });
  });

  it('theft on A: B refuses the session and reports the operation as theft', async () => {
    const victim = await signIn(newUser());
    const old = victim.jar.without();
    victim.jar.store(await a.request.post('/session/refresh').set('Cookie', victim.jar.header()).expect(200));
    expect(await strictOnB(victim.jar)).toBe('200');
    a.clock.advance(11); // past the grace period
    const theft = await a.request.post('/session/refresh').set('Cookie', old.header()).expect(401);
    expect(theft.body.type).toBe('UNAUTHORISED_AND_TOKEN_THEFT_DETECTED');
    await withDatabaseCut(async () => {
      await eventually(
        async () => (await strictOnB(victim.jar)) === '401 UNAUTHORISED',
        'B refuses the stolen session',
      );
    });
    expect(remote).toContainEqual(
      expect.objectContaining({ sessionHandle: victim.handle, operation: 'theft', reason: 'theft' }),
    );
  });

  it('an impersonation ended on A: B refuses it and reports the operation as impersonation-ended', async () => {
    const engine = a.app.get(SessionEngine);
    const target = newUser();
    const created = await engine.createNewSession(
      target,
      {},
      {},
      {
        impersonation: { actorUserId: 'admin-1', ttl: 600 },
      },
    );
    const { session } = created;
    const bearer = `Bearer ${created.accessToken.value}`;
    await b.request.get('/strict').set('Authorization', bearer).expect(200);
    const row = {
      handle: session.handle,
      userId: target,
      userIdType: 'string' as const,
      actor: JSON.stringify(session.actor),
    };
    expect(await engine.claims.endImpersonation(row, 'signed-out')).toBe(true);
    await withDatabaseCut(async () => {
      await eventually(
        async () => (await b.request.get('/strict').set('Authorization', bearer)).status === 401,
        'B refuses the ended impersonation',
      );
    });
    expect(remote).toContainEqual(
      expect.objectContaining({
        sessionHandle: session.handle,
        operation: 'impersonation-ended',
        reason: 'impersonation-ended',
      }),
    );
  });
});

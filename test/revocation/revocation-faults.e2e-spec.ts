import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../support/cookies.js';
import {
  connectionOptions,
  createTestDatabase,
  reachableDatabases,
  type TestDatabase,
} from '../support/databases.js';
import { TEST_SECRET } from '../support/engine-app.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { compileInstance, migrate, startInstance, type Instance } from '../reliability/support/instances.js';

// Faults of the revocation bus (issue #16), Redis and NATS transports: instance B reaches the broker
// and the database through TCP proxies, instance A directly. (The postgres transport rides on the
// database's own server, and polling has no bus: their faults are the database's.) The rules: memory answers only while the bus
// is healthy and caught up; otherwise B reads the database (never fails open); a database outage
// during that fallback answers 500 GENERAL_ERROR, never 401 and never 200 for a revoked session.

const [database] = await reachableDatabases(['postgres']);
const DEADLINE_MS = 15_000;

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${DEADLINE_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const BROKERS = [
  { transport: 'redis' as const, scheme: 'redis', port: 6379 },
  { transport: 'nats' as const, scheme: 'nats', port: 4222 },
];

describe.each(database ? BROKERS : [])(
  'revocation bus faults ($transport, through TCP proxies)',
  (broker) => {
    let db: TestDatabase;
    let busProxy: TcpProxy;
    let dbProxy: TcpProxy;
    let a: Instance;
    let b: Instance;

    beforeAll(async () => {
      db = await createTestDatabase('postgres');
      [busProxy, dbProxy] = await Promise.all([
        new TcpProxy('127.0.0.1', broker.port).start(),
        new TcpProxy('127.0.0.1', 5432).start(),
      ]);
      await Promise.all([compileInstance(), migrate(db.options)]);
      const name = (db.options as { database: string }).database;
      const channel = `nts_${randomBytes(6).toString('hex')}`;
      const session = (url: string) => ({
        secret: TEST_SECRET,
        cleanupInterval: 0,
        revocation: { transport: broker.transport, url, channel },
      });
      a = await startInstance('A', {
        database: db.options,
        session: session(`${broker.scheme}://127.0.0.1:${broker.port}`),
      });
      b = await startInstance('B', {
        database: connectionOptions('postgres', name, dbProxy.port),
        session: session(`${broker.scheme}://127.0.0.1:${busProxy.port}`),
      });
      await healthy(a);
      await healthy(b);
    }, 120_000);

    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await Promise.all([busProxy?.stop(), dbProxy?.stop()]);
      await db?.drop();
    });

    async function status(on: Instance): Promise<Record<string, unknown>> {
      return (await on.client.get('/ops/revocation')).body ?? {};
    }

    async function healthy(on: Instance, wanted = true): Promise<void> {
      await eventually(async () => (await status(on)).healthy === wanted, `${on.name} healthy: ${wanted}`);
    }

    async function signIn(userId: string): Promise<{ jar: CookieJar; handle: string }> {
      const jar = new CookieJar();
      const login = await a.client.post('/login', { jar, body: { userId } });
      expect(login.status).toBe(200);
      return { jar, handle: String(login.body?.handle) };
    }

    async function strict(jar: CookieJar): Promise<string> {
      const answer = await b.client.get('/strict', { jar, store: false, timeout: 20_000 });
      return answer.status === 200 ? '200' : `${answer.status} ${String(answer.body?.type)}`;
    }

    async function revoke(handle: string): Promise<void> {
      expect((await a.client.post(`/ops/revoke/${handle}`)).body).toEqual({ revoked: true });
    }

    it('answers from memory while the bus is healthy: B refuses a revoked session with its database cut', async () => {
      const live = await signIn('live-1');
      const doomed = await signIn('doomed-1');
      expect(await strict(doomed.jar)).toBe('200');
      dbProxy.cut();
      try {
        await revoke(doomed.handle);
        await eventually(async () => (await strict(doomed.jar)) === '401 UNAUTHORISED', 'B refuses');
        expect(await strict(live.jar)).toBe('200');
        expect((await status(b)).healthy).toBe(true);
      } finally {
        dbProxy.restore();
      }
    });

    it('falls back to a database read while the bus is cut, and comes back healthy after a replay', async () => {
      const live = await signIn('live-2');
      const doomed = await signIn('doomed-2');
      busProxy.cut();
      await healthy(b, false);
      await revoke(doomed.handle);
      // Degraded: the database answers, at once.
      expect(await strict(doomed.jar)).toBe('401 UNAUTHORISED');
      expect(await strict(live.jar)).toBe('200');
      busProxy.restore();
      await healthy(b);
      const events = (await b.client.get('/ops/revocation-events')).body?.events as string[];
      expect(events.slice(-2)).toEqual(['degraded', 'restored']);
    });

    it('treats a paused bus as down (its heartbeat is late): no memory answers until it flows again', async () => {
      const doomed = await signIn('doomed-3');
      busProxy.pause();
      await healthy(b, false);
      await revoke(doomed.handle);
      expect(await strict(doomed.jar)).toBe('401 UNAUTHORISED');
      busProxy.restore();
      await healthy(b);
      expect(await strict(doomed.jar)).toBe('401 UNAUTHORISED');
    });

    it('replays the log after a reconnection that lost the message, then answers from memory', async () => {
      const live = await signIn('live-4');
      const doomed = await signIn('doomed-4');
      busProxy.pause();
      await revoke(doomed.handle);
      // The held bytes (the revocation's message among them) are dropped with the connection.
      busProxy.cut();
      await healthy(b, false);
      busProxy.restore();
      await healthy(b);
      dbProxy.cut();
      try {
        // Healthy again, the answer comes from memory (the database is unreachable): the replay has it.
        expect(await strict(doomed.jar)).toBe('401 UNAUTHORISED');
        expect(await strict(live.jar)).toBe('200');
      } finally {
        dbProxy.restore();
      }
    });

    it('answers 500 GENERAL_ERROR when the database is cut during the fallback (never 401, never 200)', async () => {
      const live = await signIn('live-5');
      const doomed = await signIn('doomed-5');
      await revoke(doomed.handle);
      busProxy.cut();
      await healthy(b, false);
      dbProxy.cut();
      try {
        expect(await strict(live.jar)).toBe('500 GENERAL_ERROR');
        expect(await strict(doomed.jar)).toBe('500 GENERAL_ERROR');
      } finally {
        dbProxy.restore();
        busProxy.restore();
      }
      await healthy(b);
      expect(await strict(live.jar)).toBe('200');
      expect(await strict(doomed.jar)).toBe('401 UNAUTHORISED');
    });
  },
);

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RevocationTransportName } from '../../lib/index.js';
import { CookieJar } from '../support/cookies.js';
import {
  createTestDatabase,
  reachableDatabases,
  type DatabaseKind,
  type TestDatabase,
} from '../support/databases.js';
import { TEST_SECRET } from '../support/engine-app.js';
import { compileInstance, migrate, startInstance, type Instance } from '../reliability/support/instances.js';

// The contract of the revocation bus (issue #16), against each transport: three app instances as
// separate OS processes on one database (PostgreSQL, which the postgres transport needs; Redis once
// more on MariaDB, the primary target); a revocation of each kind made on A is refused on B and C,
// while live sessions stay accepted (no false 401).

const servers = await reachableDatabases(['postgres', 'mariadb']);
const REDIS = 'redis://127.0.0.1:6379';
const CASES: { transport: RevocationTransportName; url?: string; on: DatabaseKind }[] = [
  { transport: 'redis', url: REDIS, on: 'postgres' },
  { transport: 'nats', url: 'nats://127.0.0.1:4222', on: 'postgres' },
  { transport: 'postgres', on: 'postgres' },
  { transport: 'polling', on: 'postgres' },
  { transport: 'redis', url: REDIS, on: 'mariadb' },
];
/** Generous: the assertion is "refused", not how fast (propagation is measured in bench/). */
const PROPAGATION_DEADLINE_MS = 10_000;

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + PROPAGATION_DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${PROPAGATION_DEADLINE_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const cases = CASES.filter((entry) => servers.includes(entry.on));

describe.each(cases)('revocation over $transport on $on across three processes', ({ on: kind, ...bus }) => {
  let db: TestDatabase;
  let a: Instance;
  let b: Instance;
  let c: Instance;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    await Promise.all([compileInstance(), migrate(db.options)]);
    const settings = {
      database: db.options,
      session: {
        secret: TEST_SECRET,
        cleanupInterval: 0,
        revocation: { ...bus, channel: `nts_${randomBytes(6).toString('hex')}` },
      },
    };
    a = await startInstance('A', settings);
    [b, c] = await Promise.all([startInstance('B', settings), startInstance('C', settings)]);
    for (const instance of [a, b, c]) {
      await eventually(
        async () => (await instance.client.get('/ops/revocation')).body?.healthy === true,
        `${instance.name} healthy`,
      );
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    await db?.drop();
  });

  async function signIn(userId: string): Promise<{ jar: CookieJar; handle: string }> {
    const jar = new CookieJar();
    const login = await a.client.post('/login', { jar, body: { userId } });
    expect(login.status).toBe(200);
    return { jar, handle: String(login.body?.handle) };
  }

  /** The checkDatabase route on an instance: its status and error type. */
  async function strict(on: Instance, jar: CookieJar): Promise<string> {
    const answer = await on.client.get('/strict', { jar, store: false });
    return answer.status === 200 ? '200' : `${answer.status} ${String(answer.body?.type)}`;
  }

  async function refusedEverywhere(jar: CookieJar, expected: string): Promise<void> {
    for (const on of [a, b, c]) {
      await eventually(async () => (await strict(on, jar)) === expected, `${on.name} answers ${expected}`);
    }
  }

  it('reports a healthy bus with its transport on every instance', async () => {
    for (const on of [a, b, c]) {
      const status = (await on.client.get('/ops/revocation')).body;
      expect(status).toMatchObject({ transport: bus.transport, healthy: true });
    }
  });

  it('refuses on B and C a session revoked by handle on A; other sessions stay accepted', async () => {
    const revoked = await signIn('by-handle');
    const bystander = await signIn('bystander');
    for (const on of [b, c]) expect(await strict(on, revoked.jar)).toBe('200');
    expect((await a.client.post(`/ops/revoke/${revoked.handle}`)).body).toEqual({ revoked: true });
    await refusedEverywhere(revoked.jar, '401 UNAUTHORISED');
    for (const on of [a, b, c]) expect(await strict(on, bystander.jar)).toBe('200');
  });

  it('refuses a session revoked for its user, and keeps the one kept by "sign out others"', async () => {
    const mine = await signIn('for-user');
    expect((await a.client.post(`/ops/revoke-for-user/for-user/${mine.handle}`)).body).toEqual({
      revoked: true,
    });
    await refusedEverywhere(mine.jar, '401 UNAUTHORISED');

    const kept = await signIn('others');
    const other1 = await signIn('others');
    const other2 = await signIn('others');
    expect((await a.client.post(`/ops/revoke-others/others/${kept.handle}`)).body).toEqual({ revoked: 2 });
    await refusedEverywhere(other1.jar, '401 UNAUTHORISED');
    await refusedEverywhere(other2.jar, '401 UNAUTHORISED');
    for (const on of [a, b, c]) expect(await strict(on, kept.jar)).toBe('200');
  });

  it('refuses every session of a user revoked on A', async () => {
    const first = await signIn('everywhere');
    const second = await signIn('everywhere');
    expect((await a.client.post('/ops/revoke-all/everywhere')).body).toEqual({ revoked: 2 });
    await refusedEverywhere(first.jar, '401 UNAUTHORISED');
    await refusedEverywhere(second.jar, '401 UNAUTHORISED');
  });

  it('stops a key retired at once on A on B and C, and the holder refreshes to a new key', async () => {
    const user = await signIn('leaked-key');
    expect((await a.client.post('/ops/rotate-keys')).status).toBe(200);
    for (const on of [a, b, c]) {
      await eventually(
        async () => (await on.client.get('/me', { jar: user.jar, store: false })).status === 401,
        `${on.name} refuses the retired key`,
      );
    }
    const refreshed = await b.client.post('/session/refresh', { jar: user.jar });
    expect(refreshed.status).toBe(200);
    for (const on of [a, b, c]) expect(await strict(on, user.jar)).toBe('200');
  });
});

import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RevocationTransportName } from '../../lib/index.js';
import { CookieJar } from '../support/cookies.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from '../support/databases.js';
import { TEST_SECRET } from '../support/engine-app.js';
import { compileInstance, migrate, startInstance, type Instance } from '../reliability/support/instances.js';

// Multi-instance soak of the revocation bus (issue #16): three processes, simulated users hitting a
// checkDatabase route on random instances, random revocations on random instances. Counts: revoked
// sessions served after the bound, false 401s, 5xx. CI runs a short version; `npm run soak:cluster`
// runs 300 users for 60 s (SOAK_TRANSPORT picks the bus, default redis).

const [database] = await reachableDatabases(['postgres']);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 4);
const USERS = Number(process.env.SOAK_USERS ?? 24);
const TRANSPORT = (process.env.SOAK_TRANSPORT ?? 'redis') as RevocationTransportName;
const BOUND_MS = 1000;
/** Figures worth keeping go here (ignored by git), not to the test output. */
const RESULTS_DIR = new URL('../reliability/results/', import.meta.url);
const URLS: Partial<Record<RevocationTransportName, string>> = {
  redis: 'redis://127.0.0.1:6379',
  nats: 'nats://127.0.0.1:4222',
};

interface Counts {
  requests: number;
  revocations: number;
  servedAfterBound: number;
  false401: number;
  serverErrors: number;
  notes: string[];
}

describe.runIf(database)(`revocation soak over ${TRANSPORT}: ${USERS} users, ${SECONDS} s`, () => {
  let db: TestDatabase;
  let instances: Instance[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    await Promise.all([compileInstance(), migrate(db.options)]);
    const settings = {
      database: { ...db.options, extra: { max: 10 } },
      session: {
        secret: TEST_SECRET,
        cleanupInterval: 0,
        revocation: {
          transport: TRANSPORT,
          url: URLS[TRANSPORT],
          bound: BOUND_MS,
          channel: `nts_${randomBytes(6).toString('hex')}`,
        },
      },
    };
    instances = [await startInstance('A', settings)];
    instances.push(...(await Promise.all([startInstance('B', settings), startInstance('C', settings)])));
    for (const instance of instances) {
      const deadline = Date.now() + 30_000;
      while ((await instance.client.get('/ops/revocation')).body?.healthy !== true) {
        if (Date.now() > deadline) throw new Error(`${instance.name} never healthy`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await db?.drop();
  });

  const pick = () => instances[Math.floor(Math.random() * instances.length)];

  async function user(index: number, until: number, counts: Counts): Promise<void> {
    const userId = `soak-${index}`;
    while (Date.now() < until) {
      const jar = new CookieJar();
      const login = await pick().client.post('/login', { jar, body: { userId } });
      if (login.status !== 200) {
        counts.serverErrors++;
        counts.notes.push(`login answered ${login.status}`);
        continue;
      }
      const handle = String(login.body?.handle);
      let revokedAt: number | undefined;
      let revoking = false;
      while (Date.now() < until && revokedAt === undefined) {
        if (!revoking && Math.random() < 0.05) {
          revoking = true;
          void pick()
            .client.post(`/ops/revoke/${handle}`)
            .then(
              (answer) => {
                if (answer.status !== 200) counts.serverErrors++;
                counts.revocations++;
                revokedAt = Date.now();
              },
              () => {
                counts.serverErrors++;
                revokedAt = Date.now();
              },
            );
        }
        const sent = Date.now();
        const on = pick();
        const answer = await on.client.get('/strict', { jar, store: false });
        counts.requests++;
        if (answer.status >= 500) {
          counts.serverErrors++;
          counts.notes.push(`${on.name} answered ${answer.status}`);
        } else if (answer.status === 200 && revokedAt !== undefined && sent > revokedAt + BOUND_MS) {
          counts.servedAfterBound++;
          counts.notes.push(`${on.name} served ${handle} ${sent - revokedAt} ms after its revocation`);
        } else if (answer.status === 401 && !revoking) {
          counts.false401++;
          counts.notes.push(`${on.name} refused live ${handle}: ${String(answer.body?.type)}`);
        }
      }
      if (!revoking) return; // Time ran out before this session was picked for revocation.
      // Once the revocation is acknowledged and the bound has passed, every instance must refuse it.
      while (revokedAt === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      await new Promise((resolve) => setTimeout(resolve, BOUND_MS));
      for (const on of instances) {
        const answer = await on.client.get('/strict', { jar, store: false });
        counts.requests++;
        if (answer.status === 200) {
          counts.servedAfterBound++;
          counts.notes.push(
            `${on.name} still serves ${handle} ${Date.now() - revokedAt} ms after its revocation`,
          );
        }
      }
    }
  }

  it(
    'serves no revoked session after the bound, refuses no live one, answers no 5xx',
    async () => {
      const counts: Counts = {
        requests: 0,
        revocations: 0,
        servedAfterBound: 0,
        false401: 0,
        serverErrors: 0,
        notes: [],
      };
      const until = Date.now() + SECONDS * 1000;
      await Promise.all(Array.from({ length: USERS }, (_, index) => user(index, until, counts)));
      await mkdir(RESULTS_DIR, { recursive: true });
      await writeFile(
        new URL(`revocation-soak-${TRANSPORT}.json`, RESULTS_DIR),
        JSON.stringify({ transport: TRANSPORT, users: USERS, seconds: SECONDS, ...counts }, null, 2),
      );
      expect(counts.notes.slice(0, 10)).toEqual([]);
      expect(counts).toMatchObject({ servedAfterBound: 0, false401: 0, serverErrors: 0 });
      expect(counts.revocations).toBeGreaterThan(0);
      // Every process survived the load.
      for (const instance of instances) {
        expect((await instance.client.get('/ops/health')).body?.instance).toBe(instance.name);
      }
      expect(counts.requests).toBeGreaterThan(USERS);
    },
    (SECONDS + 90) * 1000,
  );
});

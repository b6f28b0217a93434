import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionEvents } from '../../lib/index.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from '../support/databases.js';
import { HttpClient } from './support/http-client.js';
import { createReliabilityApp, type ReliabilityApp } from './support/reliability-app.js';
import { SessionRows } from './support/session-rows.js';
import { SoakRun, percentile, type SoakProfile } from './support/soak-users.js';

const [database] = await reachableDatabases(['mariadb']);

function fromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

// `npm run soak` sets SOAK_SECONDS=60 SOAK_USERS=300; `npm test` runs this short version.
const GRACE_PERIOD = 10;
const users = fromEnv('SOAK_USERS', 50);
const profile: SoakProfile = {
  seconds: fromEnv('SOAK_SECONDS', 10),
  users,
  maxRequests: fromEnv('SOAK_MAX_REQUESTS', 1_000_000),
  // Think time grows with the crowd so the offered load stays near what one 2-core box serves
  // (about 200 actions/s): the soak checks correctness under sustained load, not a saturated
  // machine. A smaller SOAK_THINK_MS turns it into a stress test.
  thinkMs: fromEnv('SOAK_THINK_MS', Math.max(250, users * 4)),
  gracePeriod: GRACE_PERIOD,
};
const RESULTS_DIR = new URL('./results/', import.meta.url);

describe.each(database ? [database] : [])('soak on %s', () => {
  let db: TestDatabase;
  let app: ReliabilityApp;
  let rows: SessionRows;
  let client: HttpClient;
  const theftEvents: string[] = [];
  let replays = 0;

  beforeAll(async () => {
    db = await createTestDatabase('mariadb');
    rows = await SessionRows.open((db.options as { database: string }).database);
    const options = db.options as { extra?: Record<string, unknown> };
    app = await createReliabilityApp({
      // A pool sized for a server under load (the test default of 5 is for functional tests).
      database: {
        ...db.options,
        extra: { ...options.extra, connectionLimit: 20, maxIdle: 20 },
      } as typeof db.options,
      options: { refreshToken: { gracePeriod: GRACE_PERIOD }, cleanupInterval: 0 },
      listen: true,
    });
    // Longer than any think time, so the client never reuses a socket the server is closing.
    app.app.getHttpServer().keepAliveTimeout = 60_000;
    const events = app.app.get(SessionEvents);
    events.on('session.theft-detected', ({ sessionHandle }) => theftEvents.push(sessionHandle));
    events.on('session.refreshed', ({ replay }) => {
      if (replay) replays++;
    });
    client = new HttpClient(app.url, Math.min(512, profile.users * 3));
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
    await rows?.close();
    await db?.drop();
  });

  it(
    `keeps ${profile.users} concurrent users with several tabs signed in for ${profile.seconds} s: no 5xx, no false theft, no lost or resurrected session`,
    async () => {
      const soak = new SoakRun(client, profile);
      const started = Date.now();
      await soak.run();
      const loadMs = Date.now() - started;
      await soak.verifyLive();
      const handlesInTable = new Set(await rows.handles());
      const liveHandles = [...soak.live.keys()];
      const missingRows = liveHandles.filter((handle) => !handlesInTable.has(handle)).length;
      const resurrectedRows = [...soak.signedOut].filter((handle) => handlesInTable.has(handle)).length;
      const counts = soak.counts;
      const figures = {
        profile,
        database: 'mariadb',
        finishedAt: new Date().toISOString(),
        loadSeconds: Math.round(loadMs / 100) / 10,
        requests: counts.requests,
        requestsPerSecond: Math.round(counts.requests / (loadMs / 1000)),
        serverErrors5xx: counts.serverErrors,
        networkErrors: counts.networkErrors,
        // Seen in answers, and as the engine's events (which would also catch one no answer showed).
        falseTheftDetections: Math.max(counts.falseTheftDetections, theftEvents.length),
        lostSessions: counts.lostSessions + missingRows,
        resurrectedSessions: counts.resurrectedSessions + resurrectedRows,
        forkedRefreshes: counts.forkedRefreshes,
        unexpectedTryRefresh: counts.unexpectedTryRefresh,
        logins: counts.logins,
        signOuts: counts.signOuts,
        refreshRequests: counts.refreshRequests,
        concurrentTabRefreshes: counts.tabRaces,
        lateTabRefreshes: counts.staleTabs,
        gracePeriodReplays: replays,
        liveSessionsAtEnd: soak.live.size,
        sessionRowsAtEnd: handlesInTable.size,
        latencyMs: {
          p50: percentile(counts.latencies, 50),
          p95: percentile(counts.latencies, 95),
          p99: percentile(counts.latencies, 99),
          max: percentile(counts.latencies, 100),
        },
        byStatus: counts.byStatus,
        byRoute: Object.fromEntries(
          Object.entries(counts.byRoute).map(([route, requests]) => {
            const latencies = counts.latenciesByRoute[route] ?? [];
            return [route, { requests, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) }];
          }),
        ),
        problems: counts.problems,
      };
      await mkdir(RESULTS_DIR, { recursive: true });
      const file = new URL(`soak-${profile.users}users-${profile.seconds}s.json`, RESULTS_DIR);
      // The figures go to the (ignored) results folder, not to the test output.
      await writeFile(file, `${JSON.stringify(figures, null, 2)}\n`);

      expect(figures.problems, `all figures: ${file.pathname}`).toEqual([]);
      expect(figures.serverErrors5xx).toBe(0);
      expect(figures.networkErrors).toBe(0);
      expect(figures.falseTheftDetections).toBe(0);
      expect(figures.lostSessions).toBe(0);
      expect(figures.resurrectedSessions).toBe(0);
      expect(figures.forkedRefreshes).toBe(0);
      expect(figures.unexpectedTryRefresh).toBe(0);
      expect(figures.sessionRowsAtEnd).toBe(figures.liveSessionsAtEnd);
      // The load really ran: users signed in and out, and tabs raced on refresh.
      expect(figures.logins).toBeGreaterThan(profile.users);
      expect(figures.signOuts).toBeGreaterThan(0);
      expect(figures.concurrentTabRefreshes).toBeGreaterThan(0);
      expect(figures.gracePeriodReplays).toBeGreaterThan(0);
    },
    (profile.seconds + 120) * 1000,
  );
});

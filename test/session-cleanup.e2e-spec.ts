import { describe, expect, it } from 'vitest';
import { fillStatements } from '../bench/row-fill.js';
import { reachableDatabases } from './support/databases.js';
import { engineAppsOn, type EngineApp } from './support/engine-app.js';

const servers = (await reachableDatabases()).filter((kind) => kind !== 'sqlite') as (
  'mariadb' | 'postgres'
)[];

const ROWS = 3000;

async function fill(app: EngineApp, kind: 'mariadb' | 'postgres'): Promise<void> {
  const table = kind === 'postgres' ? '"session_info"' : '`session_info`';
  const now = app.clock.now();
  for (const sql of fillStatements(kind, table, { from: 1, to: ROWS, total: ROWS, now })) {
    await app.dataSource.query(sql);
  }
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe.each(servers)('batched cleanup on %s', (kind) => {
  const apps = engineAppsOn(kind);
  const paced = { cleanupInterval: 0, cleanupBatchSize: 250, cleanupBatchPause: 0.3 };

  it('removes every expired row in batches and keeps the live ones', async () => {
    const app = await apps.boot({ cleanupInterval: 0, cleanupBatchSize: 128, cleanupBatchPause: 0 });
    await fill(app, kind);
    expect(await app.engine.removeExpiredSessions()).toBe(ROWS / 3);
    expect(await app.countSessions()).toBe(ROWS - ROWS / 3);
    expect(await app.engine.removeExpiredSessions()).toBe(0);
  });

  it('runs on one instance at a time: another instance skips while the first is cleaning', async () => {
    const first = await apps.boot(paced);
    const second = await apps.boot(paced, first.clock);
    await fill(first, kind);
    const running = first.engine.removeExpiredSessions();
    // The first batch is gone: the first instance holds the cleanup lock and pauses between batches.
    await until(async () => (await first.countSessions()) < ROWS);
    expect(await second.engine.removeExpiredSessions()).toBe(0);
    expect(await running).toBe(ROWS / 3);
    expect(await first.countSessions()).toBe(ROWS - ROWS / 3);
  });

  it('never holds a lock that a live session needs: refresh and sign-in work between its batches', async () => {
    const app = await apps.boot(paced);
    const live = await app.engine.createNewSession('during-cleanup');
    await fill(app, kind);
    const running = app.engine.removeExpiredSessions();
    await until(async () => (await app.countSessions()) < ROWS + 1);
    const refreshed = await app.engine.refreshSession(live.refreshToken.value);
    await app.engine.getSession(refreshed.newAccessToken!.value, null, { checkDatabase: true });
    await app.engine.createNewSession('during-cleanup');
    expect(await app.engine.getAllSessionHandlesForUser('during-cleanup')).toHaveLength(2);
    expect(await running).toBe(ROWS / 3);
  });
});

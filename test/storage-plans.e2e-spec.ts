import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { DataSource, type Logger } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillStatements } from '../bench/row-fill.js';
import { SessionEngine, SessionModule } from '../lib/index.js';
import { SESSION_STORE } from '../lib/testing/index.js';
import type { TypeOrmSessionStore } from '../lib/storage/typeorm-session.store.js';
import {
  MARIADB,
  POSTGRES,
  createTestDatabase,
  reachableDatabases,
  type TestDatabase,
} from './support/databases.js';
import { TEST_SECRET, sessionDatabaseModule } from './support/engine-app.js';
import { captureLogs } from './support/logs.js';

const servers = (await reachableDatabases()).filter((kind) => kind !== 'sqlite') as (
  'mariadb' | 'postgres'
)[];

/** Rows in the table before the plans are read: enough that a full scan is never the cheap choice. */
const FILL_ROWS = 3000;

/** Records every statement TypeORM runs (the store's hand-written SQL included) with its parameters. */
class StatementRecorder implements Logger {
  recording = false;
  readonly statements = new Map<string, unknown[]>();
  logQuery(query: string, parameters?: unknown[]): void {
    if (this.recording && !this.statements.has(query)) this.statements.set(query, parameters ?? []);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/** The statements worth a plan: those reading or writing the session table. */
function planned(statements: Map<string, unknown[]>): [string, unknown[]][] {
  return [...statements].filter(
    ([sql]) => /^\s*(SELECT|UPDATE|DELETE)\b/i.test(sql) && /session_info/.test(sql),
  );
}

/** What is wrong with a MariaDB plan: a full table or index scan, or a filesort. */
function mariadbProblems(rows: Record<string, unknown>[]): string[] {
  return rows.flatMap((row) => {
    const problems: string[] = [];
    if (row.type === 'ALL') problems.push(`full table scan of ${String(row.table)}`);
    if (row.type === 'index') problems.push(`full index scan of ${String(row.table)}`);
    if (/filesort/i.test(String(row.Extra ?? ''))) problems.push('filesort');
    return problems;
  });
}

/** What is wrong with a PostgreSQL plan (JSON): a sequential scan or a sort node anywhere. */
function postgresProblems(node: Record<string, unknown>): string[] {
  const type = String(node['Node Type']);
  const own =
    type === 'Seq Scan'
      ? [`Seq Scan on ${String(node['Relation Name'])}`]
      : type.includes('Sort')
        ? [type]
        : [];
  const children = (node.Plans as Record<string, unknown>[] | undefined) ?? [];
  return [...own, ...children.flatMap(postgresProblems)];
}

describe.each(servers)('query plans of the hot statements on %s', (kind) => {
  let database: TestDatabase;
  let app: INestApplicationContext;
  let engine: SessionEngine;
  let dataSource: DataSource;
  const recorder = new StatementRecorder();

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const moduleRef = await Test.createTestingModule({
      imports: [
        sessionDatabaseModule(database.options, { logger: recorder }),
        SessionModule.forRoot({
          secret: TEST_SECRET,
          cleanupInterval: 0,
          cleanupBatchSize: 200,
          cleanupBatchPause: 0,
        }),
      ],
    })
      .setLogger(captureLogs())
      .compile();
    app = await moduleRef.init();
    engine = app.get(SessionEngine);
    dataSource = app.get(DataSource);
    const now = Date.now();
    const table = kind === 'postgres' ? '"session_info"' : '`session_info`';
    for (const sql of fillStatements(kind, table, { from: 1, to: FILL_ROWS, total: FILL_ROWS, now })) {
      await dataSource.query(sql);
    }
    // Seals past their grace period, for the cleanup's clearing statements.
    await dataSource.query(
      `UPDATE session_info SET sealed_live_token = 'sealed', grace_until = ${now - 1000} WHERE expires_at > ${now} AND MOD(generation, 5) = 0`,
    );
    await dataSource.query(kind === 'postgres' ? 'ANALYZE session_info' : 'ANALYZE TABLE session_info');

    // Every request-path and handle-API call, and a cleanup run, with its statements recorded.
    recorder.recording = true;
    const created = await Promise.all(
      [1, 2, 3, 4].map(() => engine.createNewSession('plan-user', { n: 1 }, {})),
    );
    const [first, second, third, fourth] = created;
    const refreshed = await engine.refreshSession(first.refreshToken.value);
    await engine.refreshSession(first.refreshToken.value); // a replay inside the grace period
    await engine.getSession(refreshed.newAccessToken.value, null, { checkDatabase: true });
    await engine.listSessionsForUser('plan-user');
    await engine.getAllSessionHandlesForUser('plan-user');
    await engine.updateSessionData(second.session.handle, { theme: 'dark' });
    await engine.getSessionData(second.session.handle);
    await engine.revokeSessionForUser(third.session.handle, 'plan-user');
    await engine.revokeSessionUsingSessionHandle(fourth.session.handle);
    await engine.revokeOtherSessions('plan-user', second.session.handle);
    await engine.revokeAllSessionsForUser('plan-user');
    expect(await engine.removeExpiredSessions()).toBe(FILL_ROWS / 3);
    recorder.recording = false;
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('reads and writes the session table by index only: no full scan, no filesort', async () => {
    const statements = planned(recorder.statements);
    // Reads by handle and user, the rotation, the deletes, the listing and the cleanup batches.
    expect(statements.length).toBeGreaterThanOrEqual(12);
    expect(statements.some(([sql]) => /ORDER BY/i.test(sql))).toBe(true);
    const name = (database.options as { database: string }).database;
    const problems: Record<string, string[]> = {};
    if (kind === 'mariadb') {
      const connection = await mysql.createConnection({ ...MARIADB, database: name });
      try {
        for (const [sql, parameters] of statements) {
          const [rows] = await connection.query(`EXPLAIN ${sql}`, parameters);
          const found = mariadbProblems(rows as Record<string, unknown>[]);
          if (found.length > 0) problems[sql] = found;
        }
      } finally {
        await connection.end();
      }
    } else {
      const client = new pg.Client({ ...POSTGRES, database: name });
      await client.connect();
      try {
        // Small tables make a scan cheap: ask whether a plan without one exists (at scale it wins).
        await client.query('SET enable_seqscan = off');
        await client.query('SET enable_sort = off');
        for (const [sql, parameters] of statements) {
          const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, parameters);
          const plan = (rows[0]['QUERY PLAN'] as { Plan: Record<string, unknown> }[])[0].Plan;
          const found = postgresProblems(plan);
          if (found.length > 0) problems[sql] = found;
        }
      } finally {
        await client.end();
      }
    }
    expect(problems).toEqual({});
  });

  it('left the live rows and cleared the seals past their grace period', async () => {
    const [row] = await dataSource.query(
      'SELECT COUNT(*) AS total, SUM(CASE WHEN sealed_live_token IS NULL THEN 0 ELSE 1 END) AS sealed FROM session_info',
    );
    expect(Number(row.total)).toBe(FILL_ROWS - FILL_ROWS / 3);
    expect(Number(row.sealed)).toBe(0);
  });

  it('lets another table join the batched cleanup (table, primary key, expiry column)', async () => {
    await dataSource.query('CREATE TABLE revocation_log (id INT PRIMARY KEY, purge_after BIGINT NOT NULL)');
    await dataSource.query('CREATE INDEX IDX_revocation_log_purge ON revocation_log (purge_after)');
    const now = Date.now();
    for (let id = 1; id <= 450; id++) {
      await dataSource.query(
        `INSERT INTO revocation_log VALUES (${id}, ${id <= 300 ? now - 5000 - id : now + 60_000})`,
      );
    }
    const store = app.get<TypeOrmSessionStore>(SESSION_STORE);
    store.cleaner.register({
      name: 'revocationLog',
      table: 'revocation_log',
      primaryKey: 'id',
      expiryColumn: 'purge_after',
    });
    const result = await store.cleaner.run(now, { batchSize: 100, pauseMs: 0 });
    expect(result).toMatchObject({ ran: true, rows: { revocationLog: 300 } });
    expect(result.batches).toBeGreaterThanOrEqual(3);
    const [row] = await dataSource.query('SELECT COUNT(*) AS n, MIN(id) AS low FROM revocation_log');
    expect({ n: Number(row.n), low: Number(row.low) }).toEqual({ n: 150, low: 301 });
  });
});

// `npm run bench:rows`: the request path and the handle API at 10,000 rows and at ROWS rows (default
// 10,000,000; BENCH_QUICK=1: 1,000,000), on MariaDB and PostgreSQL, in the same run; then refresh
// latency while the batched cleanup removes the expired third of the big table.
import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import mysql from 'mysql2/promise';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { SessionEngine, SessionModule, sessionEntities, sessionMigrations } from '../lib/index.js';
import { userKeyOf } from '../lib/session.arguments.js';
import { SESSION_ROW } from '../lib/storage/session-row.js';
import { SESSION_STORE, type SessionStore } from '../lib/storage/session-store.js';
import { machineInfo } from './report.js';
import { fillStatements, type FillDialect } from './row-fill.js';
import { newSecrets } from './settings.js';
import { formatNumber, sleep } from './stats.js';

const quick = process.env.BENCH_QUICK === '1';
const ROWS = Number(process.env.ROWS ?? (quick ? 1_000_000 : 10_000_000));
const SMALL_ROWS = 10_000;
/** Rounds; each runs every operation on the small and the big table, alternating which goes first. */
const ROUNDS = Number(process.env.BENCH_ROWS_ROUNDS ?? 5);
/** Operations per operation kind, table and round. */
const OPS = Number(process.env.BENCH_ROWS_OPS ?? (quick ? 150 : 300));
const REVOKE_OPS = Math.max(20, Math.floor(OPS / 5));
const CLEANUP_OPS = Number(process.env.BENCH_ROWS_CLEANUP_OPS ?? 1500);
const DIALECTS = (process.env.BENCH_ROWS_DATABASES ?? 'mariadb,postgres').split(',') as FillDialect[];
const SESSIONS_PER_USER = 50;
const POOL = 10;

const log = (line: string) => console.log(line);
const secrets = newSecrets();

interface Server {
  dialect: FillDialect;
  admin(sql: string): Promise<void>;
  typeorm(name: string): TypeOrmModuleOptions;
  quote(name: string): string;
  analyze: string;
  /** The server's page cache setting: at ROWS rows the table outgrows a default-sized one. */
  cacheSetting: string;
}

const SERVERS: Record<FillDialect, Server> = {
  mariadb: {
    dialect: 'mariadb',
    async admin(sql) {
      const connection = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
      try {
        await connection.query(sql);
      } finally {
        await connection.end();
      }
    },
    typeorm: (name) =>
      ({
        type: 'mysql',
        host: '127.0.0.1',
        port: 3306,
        username: 'root',
        database: name,
        charset: 'utf8mb4',
        extra: { connectionLimit: POOL, maxIdle: POOL },
      }) as TypeOrmModuleOptions,
    quote: (name) => `\`${name}\``,
    analyze: 'ANALYZE TABLE session_info',
    cacheSetting: 'innodb_buffer_pool_size',
  },
  postgres: {
    dialect: 'postgres',
    async admin(sql) {
      const client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    },
    typeorm: (name) =>
      ({
        type: 'postgres',
        host: '127.0.0.1',
        port: 5432,
        username: 'postgres',
        database: name,
        extra: { max: POOL },
      }) as TypeOrmModuleOptions,
    quote: (name) => `"${name}"`,
    analyze: 'ANALYZE session_info',
    cacheSetting: 'shared_buffers',
  },
};

@Module({})
class RowsBenchModule {}

/** One database with the session module booted on it. */
interface Scale {
  rows: number;
  name: string;
  app: INestApplicationContext;
  engine: SessionEngine;
  dataSource: DataSource;
}

async function bootScale(server: Server, rows: number, now: number): Promise<Scale> {
  const name = `nts_rows_${rows}`;
  await server.admin(
    server.dialect === 'postgres'
      ? `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`
      : `DROP DATABASE IF EXISTS \`${name}\``,
  );
  await server.admin(
    server.dialect === 'postgres'
      ? `CREATE DATABASE "${name}"`
      : `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`,
  );
  const app = await NestFactory.createApplicationContext(
    {
      module: RowsBenchModule,
      imports: [
        TypeOrmModule.forRoot({
          ...server.typeorm(name),
          entities: sessionEntities,
          migrations: sessionMigrations,
          migrationsRun: true,
          retryAttempts: 1,
          logging: false,
        } as TypeOrmModuleOptions),
        SessionModule.forRoot({
          secret: secrets.secret,
          accessToken: { signingKey: { keys: [secrets.jwk] } },
          cookie: { secure: false },
          cleanupInterval: 0,
        }),
      ],
    },
    { logger: false },
  );
  const dataSource = app.get(DataSource);
  const started = performance.now();
  const statements = fillStatements(server.dialect, server.quote('session_info'), {
    from: 1,
    to: rows,
    total: rows,
    now,
    chunk: server.dialect === 'postgres' ? 250_000 : 50_000,
  });
  for (const [index, sql] of statements.entries()) {
    await dataSource.query(sql);
    if (statements.length > 4 && index % Math.ceil(statements.length / 10) === 0) {
      log(
        `    ${name}: ${formatNumber(Math.min(rows, (index + 1) * (rows / statements.length)))} rows (${((performance.now() - started) / 1000).toFixed(0)} s)`,
      );
    }
  }
  await dataSource.query(server.analyze);
  const fillSeconds = (performance.now() - started) / 1000;
  log(`  ${server.dialect}: ${formatNumber(rows)} rows filled in ${fillSeconds.toFixed(1)} s`);
  fills.push({ database: server.dialect, rows, seconds: fillSeconds });
  return { rows, name, app, engine: app.get(SessionEngine), dataSource };
}

/** Copies `template`'s rows under a new user (new handles): users of 50 sessions without 50 sign-ins. */
function copyUserSql(server: Server): string {
  const pg = server.dialect === 'postgres';
  const p = (n: number) => (pg ? `$${n}` : '?');
  const cat = (a: string, b: string) => (pg ? `${a} || ${b}` : `CONCAT(${a}, ${b})`);
  const replaced: Record<string, string> = {
    handle: `MD5(${cat('handle', p(1))})`,
    user_key: p(2),
    user_id: p(3),
  };
  const columns = SESSION_ROW.map((entry) => server.quote(entry.name));
  const values = SESSION_ROW.map((entry) => replaced[entry.name] ?? server.quote(entry.name));
  return `INSERT INTO session_info (${columns.join(', ')}) SELECT ${values.join(', ')} FROM session_info WHERE user_key = ${p(4)}`;
}

interface OpStats {
  op: string;
  rows: number;
  count: number;
  p50: number;
  p99: number;
  /** Node process CPU per operation, µs (the database's CPU is not in it). */
  cpuPerOp: number;
}

interface Prepared {
  refreshChains: { token: string }[];
  checkTokens: string[];
  listUsers: string[];
  revokeUsers: string[];
}

const fills: { database: string; rows: number; seconds: number }[] = [];

async function prepare(server: Server, scale: Scale, rounds: number): Promise<Prepared> {
  const { engine, dataSource } = scale;
  const chains: { token: string }[] = [];
  const checkTokens: string[] = [];
  for (let index = 0; index < 100; index++) {
    const created = await engine.createNewSession(`refresher-${index}`, { role: 'user' });
    chains.push({ token: created.refreshToken.value });
    const checked = await engine.createNewSession(`checked-${index}`, { role: 'user' });
    checkTokens.push(checked.accessToken.value);
  }
  const template = 'fifty-template';
  for (let index = 0; index < SESSIONS_PER_USER; index++)
    await engine.createNewSession(template, { role: 'user' });
  const copy = copyUserSql(server);
  const copies = async (prefix: string, count: number) => {
    const users: string[] = [];
    for (let index = 0; index < count; index++) {
      const user = `${prefix}-${index}`;
      await dataSource.query(copy, [user, userKeyOf(user), user, userKeyOf(template)]);
      users.push(user);
    }
    return users;
  };
  return {
    refreshChains: chains,
    checkTokens,
    listUsers: await copies('lister', 20),
    revokeUsers: await copies('revoked', REVOKE_OPS * rounds),
  };
}

function percentile(sorted: number[], share: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)];
}

/** Runs `op` `count` times one after another; latencies in ms and the process CPU. */
async function measure(count: number, op: (index: number) => Promise<unknown>) {
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  for (let index = 0; index < count; index++) {
    const start = performance.now();
    await op(index);
    latencies.push(performance.now() - start);
  }
  const used = process.cpuUsage(cpu);
  return { latencies, cpu: used.user + used.system };
}

type Operation = {
  id: string;
  count: number;
  run: (prepared: Prepared, scale: Scale, round: number) => (index: number) => Promise<unknown>;
};

const OPERATIONS: Operation[] = [
  {
    id: 'createNewSession',
    count: OPS,
    run: (_, scale, round) => (index) =>
      scale.engine.createNewSession(`new-${round}-${index}`, { role: 'user' }),
  },
  {
    id: 'refreshSession',
    count: OPS,
    run: (prepared, scale) => async (index) => {
      const chain = prepared.refreshChains[index % prepared.refreshChains.length];
      chain.token = (await scale.engine.refreshSession(chain.token)).newRefreshToken!.value;
    },
  },
  {
    id: 'getSession checkDatabase',
    count: OPS,
    run: (prepared, scale) => (index) =>
      scale.engine.getSession(prepared.checkTokens[index % prepared.checkTokens.length], null, {
        checkDatabase: true,
      }),
  },
  {
    id: 'listSessionsForUser (50)',
    count: OPS,
    run: (prepared, scale) => (index) =>
      scale.engine.listSessionsForUser(prepared.listUsers[index % prepared.listUsers.length]),
  },
  {
    id: 'getAllSessionHandlesForUser (50)',
    count: OPS,
    run: (prepared, scale) => (index) =>
      scale.engine.getAllSessionHandlesForUser(prepared.listUsers[index % prepared.listUsers.length]),
  },
  {
    id: 'revokeAllSessionsForUser (50)',
    count: REVOKE_OPS,
    run: (prepared, scale, round) => (index) =>
      scale.engine.revokeAllSessionsForUser(prepared.revokeUsers[round * REVOKE_OPS + index]),
  },
];

function summarise(op: string, rows: number, latencies: number[], cpu: number): OpStats {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    op,
    rows,
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    cpuPerOp: cpu / sorted.length,
  };
}

interface CleanupStats {
  rows: number;
  expiredAtStart: number;
  idle: OpStats;
  during: OpStats;
  idleAfter: OpStats;
  removedDuringWindow: number;
  batches: number;
  windowSeconds: number;
}

async function cleanupConcurrency(scale: Scale, prepared: Prepared): Promise<CleanupStats> {
  const { dataSource } = scale;
  const now = Date.now();
  const [{ n }] = await dataSource.query(`SELECT COUNT(*) AS n FROM session_info WHERE expires_at <= ${now}`);
  const refresh = OPERATIONS[1].run(prepared, scale, 0);
  const idle = await measure(CLEANUP_OPS, refresh);
  const store = scale.app.get<SessionStore>(SESSION_STORE);
  const stop = new AbortController();
  const started = performance.now();
  // The engine's defaults: batches of 1,000 rows, 0.1 s apart.
  const cleaning = store.deleteExpired(now, { batchSize: 1000, pauseMs: 100, signal: stop.signal });
  await sleep(300);
  const during = await measure(CLEANUP_OPS, refresh);
  stop.abort();
  const removed = await cleaning;
  const windowSeconds = (performance.now() - started) / 1000;
  const idleAfter = await measure(CLEANUP_OPS, refresh);
  return {
    rows: scale.rows,
    expiredAtStart: Number(n),
    idle: summarise('refresh, idle', scale.rows, idle.latencies, idle.cpu),
    during: summarise('refresh, during cleanup', scale.rows, during.latencies, during.cpu),
    idleAfter: summarise('refresh, idle after', scale.rows, idleAfter.latencies, idleAfter.cpu),
    removedDuringWindow: removed,
    batches: Math.ceil(removed / 1000),
    windowSeconds,
  };
}

interface DatabaseResult {
  database: FillDialect;
  /** The server's page cache, e.g. `innodb_buffer_pool_size = 128 MB`. */
  cache: string;
  ops: { op: string; small: OpStats; big: OpStats; p99Ratio: number; p50Ratio: number }[];
  cleanup: CleanupStats;
}

/** `setting = size` of the server's page cache, in MB. */
async function cacheSize(server: Server, scale: Scale): Promise<string> {
  const sql =
    server.dialect === 'postgres'
      ? `SELECT setting::bigint * 8192 AS bytes FROM pg_settings WHERE name = 'shared_buffers'`
      : 'SELECT @@innodb_buffer_pool_size AS bytes';
  const [row] = (await scale.dataSource.query(sql)) as { bytes: string | number }[];
  return `${server.cacheSetting} = ${formatNumber(Math.round(Number(row!.bytes) / 2 ** 20))} MB`;
}

async function runDatabase(server: Server): Promise<DatabaseResult> {
  const now = Date.now();
  log(`\n${server.dialect}: filling ${formatNumber(SMALL_ROWS)} and ${formatNumber(ROWS)} rows`);
  const small = await bootScale(server, SMALL_ROWS, now);
  const big = await bootScale(server, ROWS, now);
  try {
    const prepared = new Map<Scale, Prepared>([
      [small, await prepare(server, small, ROUNDS)],
      [big, await prepare(server, big, ROUNDS)],
    ]);
    for (const scale of [small, big]) await scale.dataSource.query(server.analyze);
    const samples = new Map<string, { latencies: number[]; cpu: number }>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const operation of OPERATIONS) {
        const order = round % 2 === 0 ? [small, big] : [big, small];
        for (const scale of order) {
          const { latencies, cpu } = await measure(
            operation.count,
            operation.run(prepared.get(scale)!, scale, round),
          );
          const key = `${operation.id}@${scale.rows}`;
          const sample = samples.get(key) ?? { latencies: [], cpu: 0 };
          sample.latencies.push(...latencies);
          sample.cpu += cpu;
          samples.set(key, sample);
        }
      }
      log(`  ${server.dialect}: round ${round + 1}/${ROUNDS} done`);
    }
    const ops = OPERATIONS.map((operation) => {
      const of = (scale: Scale) => {
        const sample = samples.get(`${operation.id}@${scale.rows}`)!;
        return summarise(operation.id, scale.rows, sample.latencies, sample.cpu);
      };
      const [a, b] = [of(small), of(big)];
      return { op: operation.id, small: a, big: b, p99Ratio: b.p99 / a.p99, p50Ratio: b.p50 / a.p50 };
    });
    for (const entry of ops) {
      log(
        `  ${entry.op.padEnd(36)} p99 ${entry.small.p99.toFixed(2)} → ${entry.big.p99.toFixed(2)} ms (${entry.p99Ratio.toFixed(2)}×)`,
      );
    }
    log(`  ${server.dialect}: refresh while the cleanup runs`);
    const cleanup = await cleanupConcurrency(big, prepared.get(big)!);
    log(
      `  refresh p99 idle ${cleanup.idle.p99.toFixed(2)} ms, during cleanup ${cleanup.during.p99.toFixed(2)} ms, ${formatNumber(cleanup.removedDuringWindow)} rows removed in ${cleanup.windowSeconds.toFixed(1)} s`,
    );
    return { database: server.dialect, cache: await cacheSize(server, big), ops, cleanup };
  } finally {
    for (const scale of [small, big]) {
      await scale.app.close();
      await server.admin(
        server.dialect === 'postgres'
          ? `DROP DATABASE IF EXISTS "${scale.name}" WITH (FORCE)`
          : `DROP DATABASE IF EXISTS \`${scale.name}\``,
      );
    }
  }
}

function renderMarkdown(results: {
  date: string;
  node: string;
  machine: ReturnType<typeof machineInfo>;
  rows: number;
  rounds: number;
  ops: number;
  fills: typeof fills;
  databases: DatabaseResult[];
}): string {
  const m = results.machine;
  const lines = [
    `### Row scale: ${formatNumber(SMALL_ROWS)} vs ${formatNumber(results.rows)} rows`,
    '',
    `${results.date} · Node ${results.node} · ${m.cpu}, ${m.cores} cores, ${m.memory} · ${m.os} · load average at start ${m.loadAverage.join(' / ')}`,
    '',
    `${results.rounds} rounds; each round runs every operation ${results.ops} times (revokeAll ${REVOKE_OPS}) one after another on the small and on the big table (alternating which goes first). CPU is the Node process's (user + system) per operation; the database's own CPU is not in it.`,
    '',
    `Fill: ${results.fills.map((fill) => `${fill.database} ${formatNumber(fill.rows)} rows in ${fill.seconds.toFixed(0)} s`).join(', ')}.`,
    '',
  ];
  for (const database of results.databases) {
    lines.push(
      `#### ${database.database}`,
      '',
      `Server page cache: ${database.cache}.`,
      '',
      `| operation | p50 ms at ${formatNumber(SMALL_ROWS)} | p50 ms at ${formatNumber(results.rows)} | p99 ms at ${formatNumber(SMALL_ROWS)} | p99 ms at ${formatNumber(results.rows)} | p99 big ÷ small | CPU µs/op small | CPU µs/op big | target p99 ≤ 1.5× |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const entry of database.ops) {
      lines.push(
        `| ${entry.op} | ${entry.small.p50.toFixed(2)} | ${entry.big.p50.toFixed(2)} | ${entry.small.p99.toFixed(2)} | ${entry.big.p99.toFixed(2)} | ${entry.p99Ratio.toFixed(2)}× | ${entry.small.cpuPerOp.toFixed(0)} | ${entry.big.cpuPerOp.toFixed(0)} | ${entry.p99Ratio <= 1.5 ? 'pass' : '**FAIL**'} |`,
      );
    }
    const c = database.cleanup;
    const ratio = c.during.p99 / c.idle.p99;
    lines.push(
      '',
      `Refresh while the batched cleanup runs (batches of 1,000, 0.1 s apart) on ${formatNumber(c.rows)} rows, ${formatNumber(c.expiredAtStart)} expired: ${formatNumber(c.removedDuringWindow)} removed in the ${c.windowSeconds.toFixed(1)} s window.`,
      '',
      '| refresh | count | p50 ms | p99 ms | CPU µs/op |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...[c.idle, c.during, c.idleAfter].map(
        (s) =>
          `| ${s.op} | ${s.count} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.cpuPerOp.toFixed(0)} |`,
      ),
      '',
      `During ÷ idle p99: **${ratio.toFixed(2)}×** (target ≤ 2×: ${ratio <= 2 ? 'pass' : '**FAIL**'}).`,
      '',
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const date = new Date().toISOString();
  const machine = machineInfo();
  log(
    `nestjs-token-session row-scale benchmark: ${formatNumber(SMALL_ROWS)} vs ${formatNumber(ROWS)} rows on ${DIALECTS.join(', ')}`,
  );
  const databases: DatabaseResult[] = [];
  for (const dialect of DIALECTS) databases.push(await runDatabase(SERVERS[dialect]));
  const results = {
    date,
    node: process.version,
    machine,
    rows: ROWS,
    rounds: ROUNDS,
    ops: OPS,
    fills,
    databases,
  };
  const markdown = renderMarkdown(results);
  const folder = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(folder, { recursive: true });
  const stamp = date.replace(/[:.]/g, '-');
  for (const name of [`rows-${stamp}`, 'rows-latest']) {
    await writeFile(`${folder}${name}.md`, markdown);
    await writeFile(`${folder}${name}.json`, `${JSON.stringify(results, null, 2)}\n`);
  }
  log(`\n${markdown}`);
  log(`Written to ${folder}rows-${stamp}.md / .json (and rows-latest.*).`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

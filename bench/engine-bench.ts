// Child process: SessionEngine in process against the raw jose and mysql2 calls it stands for.
import 'reflect-metadata';
import { Module, type ExecutionContext, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { importJWK, jwtVerify } from 'jose';
import type mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { Session as InspectorSession } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { SessionEngine, SessionGuard, SessionModule, getRequestSession } from '../lib/index.js';
import { collectGarbage, failToParent, sendToParent } from './child-process.js';
import { rawPool, typeOrmOptions } from './database.js';
import { sessionOptions } from './http-app.js';
import { BENCH_USER, UNRELATED_COOKIES, readChildContext } from './settings.js';
import { difference, median, pairedMedian, ratio } from './stats.js';
import { hmacCryptoKey, signVariants, tokenVariants } from './tokens.js';

/** One contestant's runs: throughput and the process's CPU per operation. */
export interface EngineSample {
  opsPerSecond: number;
  cpuPerOp: number;
  ops: number;
}

export interface Contestant {
  label: string;
  samples: EngineSample[];
  opsPerSecond: number;
  cpuPerOp: number;
}

/** The library's operation and its baselines, each run in every round. */
export interface EngineComparison {
  id: string;
  label: string;
  concurrency: number;
  subject: Contestant;
  baselines: Contestant[];
  /** Subject ÷ first baseline, paired per round, median. */
  ratio: number;
}

/** One way through SessionGuard, timed in process against a no-op guard (no HTTP, no framework). */
export interface GuardTiming {
  id: string;
  label: string;
  /** CPU µs per call (median over rounds). */
  cpuPerCall: number;
  /** Minus the no-op guard's, paired per round, median. */
  aboveFloor: number;
}

const context = readChildContext();
const { engineRounds: rounds, engineDuration: duration, engineConcurrency } = context.settings;
const RAW_TABLE = 'bench_raw_session';

/**
 * Runs `operation` from `concurrency` callers until `seconds` pass or `limit` operations are
 * done. `operation` gets a running index and the caller's number.
 */
async function timed(
  seconds: number,
  concurrency: number,
  operation: (index: number, caller: number) => Promise<unknown>,
  limit = Number.POSITIVE_INFINITY,
): Promise<EngineSample> {
  collectGarbage();
  let next = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, caller) => {
      while (next < limit && performance.now() < deadline) await operation(next++, caller);
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  return { opsPerSecond: next / elapsed, cpuPerOp: (cpu.user + cpu.system) / Math.max(1, next), ops: next };
}

/** BENCH_ENGINE_PROFILE=<comparison id>: CPU profile of the library's side of that comparison. */
const PROFILED = process.env.BENCH_ENGINE_PROFILE;

async function profiled<T>(name: string, run: () => Promise<T>): Promise<T> {
  const session = new InspectorSession();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    const folder = fileURLToPath(new URL('../../bench/results/profiles/', import.meta.url));
    await mkdir(folder, { recursive: true });
    await writeFile(`${folder}engine-${name}.cpuprofile`, JSON.stringify(profile));
    console.log(`  profile written to ${folder}engine-${name}.cpuprofile`);
  }
}

interface Entrant {
  label: string;
  run: (round: number) => Promise<EngineSample>;
}

/** Alternates the entrants over the rounds (starting with another one each round). */
async function compare(
  id: string,
  label: string,
  concurrency: number,
  entrants: Entrant[],
): Promise<EngineComparison> {
  const samples = entrants.map(() => [] as EngineSample[]);
  for (let round = 0; round < rounds; round++) {
    for (let step = 0; step < entrants.length; step++) {
      const index = (step + round) % entrants.length;
      const run = () => entrants[index].run(round);
      const sample = PROFILED === id && index === 0 && round === 0 ? await profiled(id, run) : await run();
      samples[index][round] = sample;
      console.log(
        `  round ${round + 1}/${rounds} ${entrants[index].label.padEnd(52)} ` +
          `${sample.opsPerSecond.toFixed(0).padStart(8)} ops/s ${sample.cpuPerOp.toFixed(1).padStart(7)} µs CPU/op`,
      );
    }
  }
  const contestants: Contestant[] = entrants.map((entrant, index) => ({
    label: entrant.label,
    samples: samples[index],
    opsPerSecond: median(samples[index].map((sample) => sample.opsPerSecond)),
    cpuPerOp: median(samples[index].map((sample) => sample.cpuPerOp)),
  }));
  const ops = (contestant: Contestant) => contestant.samples.map((sample) => sample.opsPerSecond);
  return {
    id,
    label,
    concurrency,
    subject: contestants[0],
    baselines: contestants.slice(1),
    ratio: pairedMedian(ops(contestants[0]), ops(contestants[1]), ratio),
  };
}

@Module({})
class EngineBenchModule {}

async function verification(engine: SessionEngine): Promise<EngineComparison[]> {
  const { jwk } = context.secrets;
  const created = await engine.createNewSession(BENCH_USER, { role: 'user' });
  const token = created.accessToken.value;
  const cryptoKey = await hmacCryptoKey(jwk, 'verify');
  const jwkKey = await importJWK(jwk, 'HS256');
  const options = { algorithms: ['HS256'] };
  await engine.getSession(token, null);
  await jwtVerify(token, cryptoKey, options);

  const rawPrepared: Entrant = {
    label: 'raw jose.jwtVerify, CryptoKey prepared once',
    run: () => timed(duration, engineConcurrency, () => jwtVerify(token, cryptoKey, options)),
  };
  const rawImported: Entrant = {
    label: 'raw jose.jwtVerify, importJWK key (Uint8Array)',
    run: () => timed(duration, engineConcurrency, () => jwtVerify(token, jwkKey, options)),
  };
  const repeated = await compare('getSession-repeated', 'getSession, repeated token', engineConcurrency, [
    {
      label: 'SessionEngine.getSession (same token)',
      run: () => timed(duration, engineConcurrency, () => engine.getSession(token, null)),
    },
    rawPrepared,
    rawImported,
  ]);

  // Never-seen tokens: the engine gets a fresh slice each round; the raw baselines (which cache
  // nothing) verify the same slice.
  const perRound = context.settings.neverSeenTokens;
  const variant = await tokenVariants(token, jwk);
  await engine.getSession(await variant(-1), null);
  console.log(`  signing ${rounds} × ${perRound} distinct tokens`);
  const slices: string[][] = [];
  for (let round = 0; round < rounds; round++)
    slices.push(await signVariants(variant, round * perRound, perRound));
  const overSlice = (round: number, verify: (token: string) => Promise<unknown>) =>
    timed(duration, engineConcurrency, (index) => verify(slices[round][index]), perRound);
  const neverSeen = await compare(
    'getSession-never-seen',
    'getSession, never-seen tokens',
    engineConcurrency,
    [
      {
        label: 'SessionEngine.getSession (each token once)',
        run: (round) => overSlice(round, (fresh) => engine.getSession(fresh, null)),
      },
      {
        label: rawPrepared.label,
        run: (round) => overSlice(round, (fresh) => jwtVerify(fresh, cryptoKey, options)),
      },
      {
        label: rawImported.label,
        run: (round) => overSlice(round, (fresh) => jwtVerify(fresh, jwkKey, options)),
      },
    ],
  );
  return [repeated, neverSeen];
}

/** A column value as mysql2 reads and writes it. */
type SqlValue = string | number | Buffer | null;
type Row = Record<string, SqlValue>;

/** The session table's primary-key column (read from the schema, not assumed). */
async function primaryKey(pool: mysql.Pool, table: string): Promise<string> {
  const [keys] = await pool.query<mysql.RowDataPacket[]>('SHOW KEYS FROM ?? WHERE Key_name = ?', [
    table,
    'PRIMARY',
  ]);
  if (keys.length !== 1) throw new Error(`${table} has no single-column primary key.`);
  return String(keys[0].Column_name);
}

async function readRow(pool: mysql.Pool, table: string, key: string, value: string): Promise<Row> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT * FROM ?? WHERE ?? = ?', [
    table,
    key,
    value,
  ]);
  if (rows.length !== 1) throw new Error(`no row ${value} in ${table}`);
  return { ...rows[0] } as Row;
}

function sameValue(a: SqlValue, b: SqlValue): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return a === b;
}

/** A new value of the same type and size, so every raw UPDATE really writes. */
function freshValue(value: SqlValue, counter: number): SqlValue {
  if (typeof value === 'number') return value + counter;
  if (typeof value === 'string')
    return randomBytes(Math.ceil(value.length / 2))
      .toString('hex')
      .slice(0, value.length);
  if (Buffer.isBuffer(value)) return randomBytes(value.length);
  return value;
}

async function writes(engine: SessionEngine): Promise<EngineComparison[]> {
  const pool = rawPool(context.settings.database);
  try {
    const created = await engine.createNewSession(BENCH_USER, { role: 'user' });
    const table = 'session_info';
    const key = await primaryKey(pool, table);
    await pool.query('CREATE TABLE ?? LIKE ??', [RAW_TABLE, table]);

    // createNewSession against an INSERT of the same row (fresh primary key) into a copy of the table.
    const template = await readRow(pool, table, key, created.session.handle);
    const columns = Object.keys(template);
    const insert = `INSERT INTO \`${RAW_TABLE}\` (${columns.map((column) => `\`${column}\``).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
    const keyIndex = columns.indexOf(key);
    const templateValues = columns.map((column) => template[column]);
    const create = await compare('createNewSession', 'createNewSession', engineConcurrency, [
      {
        label: 'SessionEngine.createNewSession',
        run: () =>
          timed(duration, engineConcurrency, (index) =>
            engine.createNewSession(`user-${index}`, { role: 'user' }),
          ),
      },
      {
        label: 'raw mysql2 INSERT of a comparable row (pool of 10)',
        run: () =>
          timed(duration, engineConcurrency, () => {
            const values = [...templateValues];
            values[keyIndex] = randomBytes(16).toString('hex');
            return pool.execute(insert, values);
          }),
      },
    ]);

    // refreshSession against a locked SELECT + UPDATE of the columns a refresh changes.
    const sessionsPerCaller = 20;
    const chains: { handle: string; token: string }[][] = [];
    for (let caller = 0; caller < engineConcurrency; caller++) {
      const own = [];
      for (let index = 0; index < sessionsPerCaller; index++) {
        const session = await engine.createNewSession(`refresher-${caller}-${index}`, { role: 'user' });
        own.push({ handle: session.session.handle, token: session.refreshToken.value });
      }
      chains.push(own);
    }
    const probe = await engine.createNewSession(BENCH_USER, { role: 'user' });
    const before = await readRow(pool, table, key, probe.session.handle);
    await engine.refreshSession(probe.refreshToken.value);
    const after = await readRow(pool, table, key, probe.session.handle);
    const changed = Object.keys(after).filter(
      (column) => column !== key && !sameValue(before[column], after[column]),
    );
    const handles = chains.flat().map((chain) => chain.handle);
    await pool.query('INSERT INTO ?? SELECT * FROM ?? WHERE ?? IN (?)', [RAW_TABLE, table, key, handles]);
    const select = `SELECT * FROM \`${RAW_TABLE}\` WHERE \`${key}\` = ? FOR UPDATE`;
    const update = `UPDATE \`${RAW_TABLE}\` SET ${changed.map((column) => `\`${column}\` = ?`).join(', ')} WHERE \`${key}\` = ?`;
    console.log(`  a refresh changes ${changed.join(', ')}`);
    let counter = 0;
    const rawRefresh = async (handle: string) => {
      const connection = await pool.getConnection();
      try {
        await connection.beginTransaction();
        const [rows] = await connection.execute<mysql.RowDataPacket[]>(select, [handle]);
        if (rows.length !== 1) throw new Error(`raw refresh: no row ${handle}`);
        counter++;
        await connection.execute(update, [
          ...changed.map((column) => freshValue(after[column], counter)),
          handle,
        ]);
        await connection.commit();
      } catch (error) {
        await connection.rollback();
        throw error;
      } finally {
        connection.release();
      }
    };
    const position = Array.from({ length: engineConcurrency }, () => 0);
    const nextOf = (caller: number) => chains[caller][position[caller]++ % sessionsPerCaller];
    const refresh = await compare('refreshSession', 'refreshSession', engineConcurrency, [
      {
        label: 'SessionEngine.refreshSession',
        run: () =>
          timed(duration, engineConcurrency, async (_, caller) => {
            const chain = nextOf(caller);
            const refreshed = await engine.refreshSession(chain.token);
            chain.token = refreshed.newRefreshToken.value;
          }),
      },
      {
        label: 'raw mysql2 BEGIN; SELECT … FOR UPDATE; UPDATE; COMMIT',
        run: () => timed(duration, engineConcurrency, (_, caller) => rawRefresh(nextOf(caller).handle)),
      },
    ]);
    return [create, refresh];
  } finally {
    await pool.end();
  }
}

class GuardBenchController {
  handler(): void {}
}

const FLOOR_PROPERTY = Symbol('bench:floor');

/**
 * SessionGuard.canActivate + what @Session() reads, called directly with a hand-made execution
 * context and a fresh request object per call, against a no-op guard doing the same: the library's
 * own per-request cost without the HTTP and framework noise of the HTTP part.
 */
async function guardInProcess(app: INestApplicationContext, engine: SessionEngine): Promise<GuardTiming[]> {
  const guard = app.get(SessionGuard);
  const created = await engine.createNewSession(BENCH_USER, { role: 'user' });
  const cookie = `${UNRELATED_COOKIES}; sAccessToken=${created.accessToken.value}; sIdRefreshToken=${created.idRefreshToken.value}`;
  const handler = GuardBenchController.prototype.handler;
  const contextOf = (request: object): ExecutionContext =>
    ({
      getClass: () => GuardBenchController,
      getHandler: () => handler,
      getType: () => 'http',
      getArgs: () => [request, {}],
      getArgByIndex: (index: number) => (index === 0 ? request : {}),
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({}), getNext: () => undefined }),
    }) as unknown as ExecutionContext;
  const requests: Record<string, () => { method: string; headers: Record<string, string> }> = {
    cookie: () => ({ method: 'GET', headers: { host: '127.0.0.1', cookie } }),
    post: () => ({
      method: 'POST',
      headers: { host: '127.0.0.1', cookie, 'anti-csrf': String(created.antiCsrfToken) },
    }),
    bearer: () => ({
      method: 'GET',
      headers: { host: '127.0.0.1', authorization: `Bearer ${created.accessToken.value}` },
    }),
  };
  const ways: { id: string; label: string; call: () => Promise<unknown> | unknown }[] = [
    {
      id: 'floor',
      label: 'no-op guard + param read',
      call: () => {
        const request = requests.cookie() as unknown as Record<symbol, { userId: string }>;
        contextOf(request).switchToHttp().getRequest<typeof request>()[FLOOR_PROPERTY] = {
          userId: BENCH_USER,
        };
        return request[FLOOR_PROPERTY].userId;
      },
    },
    ...(['cookie', 'post', 'bearer'] as const).map((kind) => ({
      id: kind,
      label: {
        cookie: 'SessionGuard GET, cookies',
        post: 'SessionGuard POST + anti-csrf',
        bearer: 'SessionGuard GET, Bearer header',
      }[kind],
      call: async () => {
        const request = requests[kind]();
        await guard.canActivate(contextOf(request));
        return getRequestSession(request)!.getUserId();
      },
    })),
  ];
  const calls = context.settings.quick ? 20_000 : 100_000;
  const cpu = ways.map(() => [] as number[]);
  for (let round = 0; round < 5; round++) {
    for (let step = 0; step < ways.length; step++) {
      const index = (step + round) % ways.length;
      collectGarbage();
      const start = process.cpuUsage();
      for (let call = 0; call < calls; call++) await ways[index].call();
      const used = process.cpuUsage(start);
      cpu[index][round] = (used.user + used.system) / calls;
    }
  }
  const timings = ways.map((way, index) => ({
    id: way.id,
    label: way.label,
    cpuPerCall: median(cpu[index]),
    aboveFloor: pairedMedian(cpu[index], cpu[0], difference),
  }));
  for (const timing of timings) {
    console.log(`  ${timing.label.padEnd(52)} ${timing.cpuPerCall.toFixed(2).padStart(8)} µs CPU/call`);
  }
  return timings;
}

async function main(): Promise<void> {
  const app: INestApplicationContext = await NestFactory.createApplicationContext(
    {
      module: EngineBenchModule,
      imports: [
        TypeOrmModule.forRoot(typeOrmOptions(context.settings.database)),
        SessionModule.forRoot(sessionOptions(context)),
      ],
    },
    { logger: false },
  );
  try {
    const engine = app.get(SessionEngine);
    const guard =
      PROFILED === 'guard'
        ? await profiled('guard', () => guardInProcess(app, engine))
        : await guardInProcess(app, engine);
    const comparisons = [...(await verification(engine)), ...(await writes(engine))];
    await sendToParent({ type: 'engine-result', comparisons, guard });
  } finally {
    await app.close();
  }
  process.exit(0);
}

main().catch(failToParent);

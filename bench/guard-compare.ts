// `node --expose-gc dist-bench/bench/guard-compare.js <other build>`: SessionGuard of this build and
// of another one (e.g. `npx tsc -p bench/tsconfig.json --outDir dist-bench/before` on an older
// commit, then `../before`, relative to dist-bench/bench) in ONE process, alternated and paired per
// round: a before/after figure that a busy machine moves far less than two separate runs. Each call
// goes through Nest's own `GuardsConsumer.tryActivate` (as the router calls a guard) and the read
// `@Session()` does, against a no-op guard. Needs the database of the other parts (`BENCH_DB_*`).
import 'reflect-metadata';
import {
  Module,
  type CanActivate,
  type ExecutionContext,
  type INestApplicationContext,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GuardsConsumer } from '@nestjs/core/guards/guards-consumer.js';
import { TypeOrmModule } from '@nestjs/typeorm';
import { createDatabase, dropDatabase, typeOrmOptions } from './database.js';
import { sessionOptions } from './http-app.js';
import { BENCH_USER, UNRELATED_COOKIES, newSecrets, readSettings } from './settings.js';
import { difference, median, pairedMedian } from './stats.js';

type Library = typeof import('../lib/index.js');

interface Build {
  app: INestApplicationContext;
  library: Library;
  guard: CanActivate;
  cookie: string;
}

const settings = readSettings();
settings.database.name = `${settings.database.name}_guard_compare`;
const context = { settings, secrets: newSecrets() };
const FLOOR = Symbol('bench:floor');

class GuardCompareController {
  handler(): void {}
}

const floorGuard: CanActivate = {
  canActivate(executionContext: ExecutionContext): boolean {
    executionContext.switchToHttp().getRequest<Record<symbol, unknown>>()[FLOOR] = { userId: BENCH_USER };
    return true;
  },
};

async function build(folder: string): Promise<Build> {
  const library = (await import(`${folder}/lib/index.js`)) as Library;
  class CompareModule {}
  Module({})(CompareModule);
  const app = await NestFactory.createApplicationContext(
    {
      module: CompareModule,
      imports: [
        TypeOrmModule.forRoot(typeOrmOptions(settings.database)),
        library.SessionModule.forRoot(sessionOptions(context)),
      ],
    },
    { logger: false },
  );
  const created = await app.get(library.SessionEngine).createNewSession(BENCH_USER, { role: 'user' });
  const cookie = `${UNRELATED_COOKIES}; sAccessToken=${created.accessToken.value}; sIdRefreshToken=${created.idRefreshToken.value}`;
  return { app, library, guard: app.get(library.SessionGuard), cookie };
}

async function main(): Promise<void> {
  const other = process.argv[2];
  if (!other) throw new Error('Usage: guard-compare.js <folder of the other build, relative to this file>');
  const calls = Number(process.env.BENCH_COMPARE_CALLS ?? 20_000);
  const rounds = Number(process.env.BENCH_COMPARE_ROUNDS ?? 15);
  await createDatabase(settings.database);
  const builds = { other: await build(other), this: await build('..') };
  try {
    const consumer = new GuardsConsumer();
    const instance = new GuardCompareController();
    const { handler } = GuardCompareController.prototype;
    const request = () => ({ method: 'GET', headers: { host: '127.0.0.1', cookie: builds.this.cookie } });
    const activate = (guard: CanActivate, raw: object) =>
      consumer.tryActivate([guard], [raw, {}, undefined], instance, handler, 'http');
    const ways: Record<string, () => Promise<unknown>> = {
      floor: async () => {
        const raw = request() as Record<symbol, unknown>;
        await activate(floorGuard, raw);
        return (raw[FLOOR] as { userId: string }).userId;
      },
    };
    for (const [name, { guard, library, cookie }] of Object.entries(builds)) {
      ways[name] = async () => {
        const raw = { method: 'GET', headers: { host: '127.0.0.1', cookie } };
        await activate(guard, raw);
        return library.getRequestSession(raw)!.getUserId();
      };
    }
    const names = Object.keys(ways);
    const cpu: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
    for (const name of names) for (let call = 0; call < calls; call++) await ways[name]();
    for (let round = 0; round < rounds; round++) {
      for (const name of round % 2 === 0 ? names : [...names].reverse()) {
        (globalThis as { gc?: () => void }).gc?.();
        const start = process.cpuUsage();
        for (let call = 0; call < calls; call++) await ways[name]();
        const used = process.cpuUsage(start);
        cpu[name].push((used.user + used.system) / calls);
      }
    }
    for (const name of names) {
      const above = pairedMedian(cpu[name], cpu.floor, difference);
      console.log(
        `${name.padEnd(6)} ${median(cpu[name]).toFixed(3)} µs/call, ${above.toFixed(3)} above floor`,
      );
    }
    const deltas = cpu.this.map((value, round) => value - cpu.other[round]);
    console.log(
      `this − other, paired per round: median ${median(deltas).toFixed(3)} µs ` +
        `[${deltas.map((value) => value.toFixed(2)).join(' ')}]`,
    );
  } finally {
    for (const { app } of Object.values(builds)) await app.close();
    await dropDatabase(settings.database);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

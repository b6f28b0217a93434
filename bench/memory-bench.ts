// Child process: a million guarded requests through Fastify's in-process inject, memory after GC.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SessionEngine } from '../lib/index.js';
import { collectGarbage, failToParent, sendToParent } from './child-process.js';
import { BenchHttpModule } from './http-app.js';
import { BENCH_USER, UNRELATED_COOKIES, readChildContext } from './settings.js';
import { signVariants, tokenVariants } from './tokens.js';

export interface MemoryPoint {
  label: string;
  requests: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface MemoryResult {
  /** Requests per distinct access token (the rest are repeats, as from a user's browser). */
  reuse: number;
  points: MemoryPoint[];
  requestsPerSecond: number;
  failures: number;
}

const context = readChildContext();
const CONCURRENCY = 10;
const CHUNK = 50_000;
/** Each token serves this many requests: many users at once, not one token a million times. */
const REUSE = Number(process.env.BENCH_MEMORY_REUSE ?? 10);
/** `1`: every token names a session of its own (issue #17: a million distinct sessions, REUSE 1). */
const DISTINCT_SESSIONS = process.env.BENCH_MEMORY_DISTINCT_SESSIONS === '1';

function measure(label: string, requests: number): MemoryPoint {
  collectGarbage();
  const usage = process.memoryUsage();
  const point = {
    label,
    requests,
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    heapTotal: usage.heapTotal,
    external: usage.external,
  };
  console.log(
    `  ${label.padEnd(24)} heap ${(point.heapUsed / 1048576).toFixed(1)} MB, rss ${(point.rss / 1048576).toFixed(1)} MB`,
  );
  return point;
}

async function main(): Promise<void> {
  const { memoryRequests, memoryCheckpoint } = context.settings;
  const app = await NestFactory.create<NestFastifyApplication>(
    BenchHttpModule.forAdapter('fastify', context),
    new FastifyAdapter(),
    { logger: false },
  );
  await app.init();
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();
  const created = await app.get(SessionEngine).createNewSession(BENCH_USER, { role: 'user' });
  const variant = await tokenVariants(created.accessToken.value, context.secrets.jwk, {
    distinctSessions: DISTINCT_SESSIONS,
  });
  const cookieOf = (token: string) =>
    `${UNRELATED_COOKIES}; sAccessToken=${token}; sIdRefreshToken=${created.idRefreshToken.value}`;

  let done = 0;
  let failures = 0;
  let tokenIndex = 0;
  const runUntil = async (target: number) => {
    while (done < target) {
      const count = Math.min(CHUNK, target - done);
      const cookies = (await signVariants(variant, tokenIndex, Math.ceil(count / REUSE))).map(cookieOf);
      tokenIndex += cookies.length;
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < count) {
            const index = next++;
            const response = await fastify.inject({
              method: 'GET',
              url: '/session',
              headers: { cookie: cookies[Math.floor(index / REUSE)] },
            });
            if (response.statusCode !== 200) failures++;
          }
        }),
      );
      done += count;
      if (failures > 0 && failures === done) throw new Error(`every guarded request failed (${failures}).`);
    }
  };

  const points = [measure('before', 0)];
  const start = performance.now();
  await runUntil(memoryCheckpoint);
  points.push(measure(`after ${memoryCheckpoint.toLocaleString('en-US')}`, done));
  await runUntil(memoryRequests);
  const seconds = (performance.now() - start) / 1000;
  points.push(measure(`after ${memoryRequests.toLocaleString('en-US')}`, done));
  const result: MemoryResult = { reuse: REUSE, points, requestsPerSecond: done / seconds, failures };
  await sendToParent({ type: 'memory-result', result });
  await app.close();
  process.exit(0);
}

main().catch(failToParent);

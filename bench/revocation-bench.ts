// The revocation part of `npm run bench` (issue #16): a checkDatabase route with each revocation
// transport next to the stateless guard and the open route of the same app, and the propagation of
// a revocation from one process to two others, per transport. Needs PostgreSQL on 127.0.0.1:5432
// (all transports share one database there), Redis on :6379 and NATS on :4222.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { Child, type Message } from './child-process.js';
import { load, check, type HttpSample } from './http-bench.js';
import type { ReadyMessage } from './http-server.js';
import type { ChildContext } from './settings.js';
import { median, pairedMedian, ratio, within, sleep } from './stats.js';

const TRANSPORTS = ['none', 'polling', 'postgres', 'redis', 'nats'] as const;
type BenchTransport = (typeof TRANSPORTS)[number];

export interface RevocationTransportResult {
  transport: BenchTransport;
  /** Median req/s per route id (`open`, `session-get`, `session-db`). */
  requestsPerSecond: Record<string, number>;
  /** Median server CPU per request per route id, µs (robust to a busy machine, unlike req/s). */
  cpuPerRequest: Record<string, number>;
  /** checkDatabase ÷ stateless guard, paired per round. */
  checkDatabaseToStateless: number;
  /** checkDatabase ÷ open route, paired per round. */
  checkDatabaseToOpen: number;
  /** Revocation on one process → known in memory on two others, ms (none for `none`). */
  propagation?: { samples: number; p50: number; p99: number; max: number };
}

const PG = {
  host: process.env.BENCH_PG_HOST ?? '127.0.0.1',
  port: Number(process.env.BENCH_PG_PORT ?? 5432),
  user: process.env.BENCH_PG_USER ?? 'postgres',
  password: process.env.BENCH_PG_PASSWORD,
};

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ ...PG, database: 'postgres' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function post(port: number, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST' });
  return (await response.json()) as Record<string, unknown>;
}

async function untilHealthy(port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = (await (await fetch(`http://127.0.0.1:${port}/ops/revocation`)).json()) as {
      healthy: boolean;
    };
    if (status.healthy) return;
    if (Date.now() > deadline) throw new Error('revocation bus not healthy within 30 s');
    await sleep(50);
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function runRevocationBench(
  context: ChildContext,
  log: (line: string) => void,
): Promise<RevocationTransportResult[]> {
  const { rounds, duration, warmup, connections, quick } = context.settings;
  const database = `nts_bench_rev_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE "${database}"`);
  const results: RevocationTransportResult[] = [];
  try {
    for (const transport of TRANSPORTS) {
      const channel = `nts_bench_${randomBytes(4).toString('hex')}`;
      const start = () => Child.start('./revocation-server.js', [transport, database, channel], context);
      const loaded = start();
      const peers: Child[] = [];
      try {
        const { port, routes } = await within(
          loaded.next<ReadyMessage>('ready'),
          60_000,
          `${transport} start`,
        );
        if (transport !== 'none') await untilHealthy(port);
        for (const route of routes) {
          const problem = await check(port, route);
          if (problem) throw new Error(`${transport} ${route.label} ${problem}`);
        }
        for (const route of routes) await load(port, route, connections, warmup);
        const samples = new Map<string, HttpSample[]>(routes.map((route) => [route.id, []]));
        for (let round = 0; round < rounds; round++) {
          for (const route of round % 2 ? [...routes].reverse() : routes) {
            await loaded.request({ type: 'begin' }, 'begun');
            const { result, p50, p99 } = await load(port, route, connections, duration);
            const ended = await loaded.request<Message & { cpuMicros: number; served: number }>(
              { type: 'end' },
              'ended',
            );
            samples.get(route.id)!.push({
              requestsPerSecond: result.requests.total / result.duration,
              p50,
              p99,
              cpuPerRequest: ended.cpuMicros / Math.max(1, ended.served),
              served: ended.served,
              failures: result.errors + result.timeouts + result.non2xx,
            });
          }
        }
        const rps = (id: string) => samples.get(id)!.map((sample) => sample.requestsPerSecond);
        const entry: RevocationTransportResult = {
          transport,
          requestsPerSecond: Object.fromEntries(routes.map((route) => [route.id, median(rps(route.id))])),
          cpuPerRequest: Object.fromEntries(
            routes.map((route) => [
              route.id,
              median(samples.get(route.id)!.map((sample) => sample.cpuPerRequest)),
            ]),
          ),
          checkDatabaseToStateless: pairedMedian(rps('session-db'), rps('session-get'), ratio),
          checkDatabaseToOpen: pairedMedian(rps('session-db'), rps('open'), ratio),
        };
        if (transport !== 'none') {
          peers.push(start(), start());
          const peerPorts = await Promise.all(
            peers.map(async (peer) => (await within(peer.next<ReadyMessage>('ready'), 60_000, 'peer')).port),
          );
          for (const peerPort of peerPorts) await untilHealthy(peerPort);
          const latencies: number[] = [];
          const count = quick ? 30 : 200;
          for (let index = 0; index < count; index++) {
            const handle = String((await post(port, '/ops/login')).handle);
            const heard = peers.map(
              (peer) =>
                new Promise<number>((resolve) => {
                  const listener = (message: Message) => {
                    if (message.type === 'revoked' && message.handle === handle) {
                      peer.process.off('message', listener);
                      resolve(Number(message.at));
                    }
                  };
                  peer.process.on('message', listener);
                }),
            );
            const sent = Date.now();
            await post(port, `/ops/revoke/${handle}`);
            for (const at of await within(Promise.all(heard), 30_000, 'propagation'))
              latencies.push(at - sent);
          }
          latencies.sort((a, b) => a - b);
          entry.propagation = {
            samples: latencies.length,
            p50: quantile(latencies, 0.5),
            p99: quantile(latencies, 0.99),
            max: latencies.at(-1)!,
          };
        }
        results.push(entry);
        const figures = entry.requestsPerSecond;
        log(
          `  ${transport.padEnd(9)} open ${figures.open.toFixed(0)} req/s, stateless ${figures['session-get'].toFixed(0)}, ` +
            `checkDatabase ${figures['session-db'].toFixed(0)} (${entry.checkDatabaseToStateless.toFixed(2)}× stateless, ` +
            `${entry.checkDatabaseToOpen.toFixed(2)}× open; CPU µs/req ` +
            `${['open', 'session-get', 'session-db'].map((id) => entry.cpuPerRequest[id].toFixed(0)).join('/')})` +
            (entry.propagation
              ? `; propagation p50 ${entry.propagation.p50} ms, p99 ${entry.propagation.p99} ms (${entry.propagation.samples} to 2 peers)`
              : ''),
        );
      } finally {
        await Promise.all([loaded.stop(), ...peers.map((peer) => peer.stop())]);
      }
    }
  } finally {
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  }
  return results;
}

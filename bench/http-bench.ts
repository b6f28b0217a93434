// Parent side of the HTTP part: autocannon in this process, the server in a child process.
import autocannon from 'autocannon';
import { Child } from './child-process.js';
import type { EndedMessage, ReadyMessage, RouteSpec } from './http-server.js';
import type { AdapterKind, ChildContext } from './settings.js';
import { difference, median, pairedMedian, ratio, within } from './stats.js';

/** One load run of one route. */
export interface HttpSample {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  cpuPerRequest: number;
  served: number;
  failures: number;
}

export interface HttpRouteResult {
  id: string;
  label: string;
  method: string;
  path: string;
  /** Why the route was left out (it did not answer 200 before the load). */
  skipped?: string;
  samples: HttpSample[];
  requestsPerSecond: number;
  p50: number;
  p99: number;
  cpuPerRequest: number;
  /** Paired per round with the open route, then the median. */
  ratioToOpen: number;
  /** Paired per round with the floor route, then the median (µs). */
  cpuAboveFloor: number;
  /** Errors, timeouts and non-2xx answers over all rounds. */
  failures: number;
}

export interface HttpAdapterResult {
  adapter: AdapterKind;
  routes: HttpRouteResult[];
}

type Log = (line: string) => void;

interface LoadResult {
  result: autocannon.Result;
  /** Response times of 2xx answers in ms (autocannon's own histogram keeps whole milliseconds). */
  p50: number;
  p99: number;
}

export async function load(
  port: number,
  route: RouteSpec,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const run = autocannon({
    url: `http://127.0.0.1:${port}${route.path}`,
    method: route.method,
    headers: route.headers,
    connections,
    pipelining: 1,
    duration: seconds,
  }) as unknown as Promise<autocannon.Result> & NodeJS.EventEmitter;
  const times: number[] = [];
  run.on('response', (_client: unknown, status: number, _bytes: number, time: number) => {
    if (status >= 200 && status < 300) times.push(time);
  });
  const result = await run;
  const sorted = Float64Array.from(times).sort();
  const at = (quantile: number) =>
    sorted.length === 0
      ? Number.NaN
      : sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))];
  return { result, p50: at(0.5), p99: at(0.99) };
}

export async function check(port: number, route: RouteSpec): Promise<string | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}${route.path}`, {
    method: route.method,
    headers: route.headers,
  });
  const body = await response.text();
  return response.status === 200 ? undefined : `answered ${response.status}: ${body.slice(0, 200)}`;
}

/** Runs every route of one adapter over several rounds, alternating routes within each round. */
export async function runHttpBench(
  adapter: AdapterKind,
  context: ChildContext,
  log: Log,
): Promise<HttpAdapterResult> {
  const { rounds, duration, warmup, settle, connections } = context.settings;
  const child = Child.start('./http-server.js', [adapter], context);
  try {
    const { port, routes } = await within(
      child.next<ReadyMessage>('ready'),
      60_000,
      `${adapter} server start`,
    );
    const skipped = new Map<string, string>();
    // BENCH_ROUTES=open,floor,session-get: only these routes (a shorter paired before/after run).
    const only = process.env.BENCH_ROUTES?.split(',').map((id) => id.trim());
    for (const route of routes) {
      if (only && !only.includes(route.id)) {
        skipped.set(route.id, 'not in BENCH_ROUTES');
        continue;
      }
      const problem = await check(port, route);
      if (problem) {
        skipped.set(route.id, problem);
        log(`  ! ${route.label}: ${problem} (left out)`);
      }
    }
    const active = routes.filter((route) => !skipped.has(route.id));
    log(`  warm-up ${warmup} s per route`);
    for (const route of active) await load(port, route, connections, warmup);

    const samples = new Map<string, HttpSample[]>(active.map((route) => [route.id, []]));
    for (let round = 0; round < rounds; round++) {
      // A new order each round, so no route always runs after the same one (a route leaves the
      // adapter's code paths shaped for it for a while); then a short unmeasured load to settle.
      for (const route of shuffled(active, round + 1)) {
        // The previous route's garbage is collected before the unmeasured settle run, not right
        // before the measured one: a full collection of an idle server also drops the maps only
        // in-flight requests kept alive, deoptimising the code built on them, which was then
        // recompiled (on V8's compiler threads, counted in the process's CPU) inside the measured
        // run, charging the routes with the most code the most.
        await child.request({ type: 'collect' }, 'collected');
        if (settle > 0) await load(port, route, connections, settle);
        await child.request({ type: 'begin', collect: false }, 'begun');
        const { result, p50, p99 } = await load(port, route, connections, duration);
        const ended = await child.request<EndedMessage>({ type: 'end' }, 'ended');
        const sample: HttpSample = {
          requestsPerSecond: result.requests.total / result.duration,
          p50,
          p99,
          cpuPerRequest: ended.cpuMicros / Math.max(1, ended.served),
          served: ended.served,
          failures: result.errors + result.timeouts + result.non2xx,
        };
        samples.get(route.id)!.push(sample);
        log(
          `  round ${round + 1}/${rounds} ${route.label.padEnd(40)} ${sample.requestsPerSecond.toFixed(0).padStart(7)} req/s ` +
            `${sample.cpuPerRequest.toFixed(1).padStart(7)} µs CPU/req` +
            (sample.failures > 0 ? `  ${sample.failures} failures` : ''),
        );
      }
    }
    return { adapter, routes: summarise(routes, samples, skipped) };
  } finally {
    await child.stop();
  }
}

/** The items in a pseudo-random order fixed by `seed` (mulberry32 + Fisher–Yates). */
function shuffled<T>(items: T[], seed: number): T[] {
  let state = seed * 0x9e3779b9;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const result = [...items];
  for (let index = result.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other], result[index]];
  }
  return result;
}

function summarise(
  routes: RouteSpec[],
  samples: Map<string, HttpSample[]>,
  skipped: Map<string, string>,
): HttpRouteResult[] {
  const rps = (id: string) => (samples.get(id) ?? []).map((sample) => sample.requestsPerSecond);
  const cpu = (id: string) => (samples.get(id) ?? []).map((sample) => sample.cpuPerRequest);
  return routes.map((route) => {
    const own = samples.get(route.id) ?? [];
    return {
      id: route.id,
      label: route.label,
      method: route.method,
      path: route.path,
      skipped: skipped.get(route.id),
      samples: own,
      requestsPerSecond: median(rps(route.id)),
      p50: median(own.map((sample) => sample.p50)),
      p99: median(own.map((sample) => sample.p99)),
      cpuPerRequest: median(cpu(route.id)),
      ratioToOpen: pairedMedian(rps(route.id), rps('open'), ratio),
      cpuAboveFloor: pairedMedian(cpu(route.id), cpu('floor'), difference),
      failures: own.reduce((sum, sample) => sum + sample.failures, 0),
    };
  });
}

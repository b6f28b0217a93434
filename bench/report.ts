import { mkdir, writeFile } from 'node:fs/promises';
import type { RevocationTransportResult } from './revocation-bench.js';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EngineComparison, GuardTiming } from './engine-bench.js';
import type { HttpAdapterResult, HttpRouteResult } from './http-bench.js';
import type { MemoryResult } from './memory-bench.js';
import type { BenchSettings } from './settings.js';
import { difference, formatBytes, formatNumber, formatRatio, pairedMedian, ratio } from './stats.js';

export interface BenchResults {
  date: string;
  node: string;
  machine: { cpu: string; cores: number; memory: string; os: string; loadAverage: number[] };
  settings: Omit<BenchSettings, 'database'>;
  http: HttpAdapterResult[];
  engine: EngineComparison[];
  guard: GuardTiming[];
  memory: MemoryResult | undefined;
  /** The revocation bus per transport (issue #16). */
  revocation?: RevocationTransportResult[];
  /** Parts that could not run, with the reason. */
  errors: Record<string, string>;
}

export interface TargetCheck {
  target: string;
  measured: string;
  limit: string;
  /** `undefined` when the part did not run. */
  pass: boolean | undefined;
  /** Reference figures only: reported, never judged. */
  reference?: boolean;
}

export function machineInfo(): BenchResults['machine'] {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GB`,
    os: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((value) => Number(value.toFixed(2))),
  };
}

function route(results: BenchResults, adapter: string, id: string): HttpRouteResult | undefined {
  const found = results.http
    .find((entry) => entry.adapter === adapter)
    ?.routes.find((entry) => entry.id === id);
  return found && !found.skipped && found.samples.length > 0 ? found : undefined;
}

const judged = (value: number | undefined, ok: (value: number) => boolean) =>
  value === undefined || !Number.isFinite(value) ? undefined : ok(value);

/** The targets, each measured as a paired figure of this run. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const adapters: [string, string, number][] = [
    ['fastify', 'Fastify', 4],
    ['express', 'Express', 8],
  ];
  for (const [adapter, name, limit] of adapters) {
    const get = route(results, adapter, 'session-get');
    checks.push({
      target: `${name}: SessionGuard + @Session() CPU above the floor route`,
      measured: get ? `${formatNumber(get.cpuAboveFloor, 1)} µs` : '–',
      limit: `≤ ${limit} µs`,
      pass: judged(get?.cpuAboveFloor, (value) => value <= limit),
    });
  }
  for (const [adapter, name] of adapters) {
    const get = route(results, adapter, 'session-get');
    const post = route(results, adapter, 'session-post');
    const rps = (entry: HttpRouteResult) => entry.samples.map((sample) => sample.requestsPerSecond);
    const cpu = (entry: HttpRouteResult) => entry.samples.map((sample) => sample.cpuPerRequest);
    const byRate = get && post ? pairedMedian(rps(post), rps(get), ratio) : undefined;
    const byCpu = get && post ? pairedMedian(cpu(post), cpu(get), ratio) : undefined;
    checks.push({
      target: `${name}: guarded POST + anti-csrf within 5% of guarded GET (req/s)`,
      measured: formatRatio(byRate),
      limit: '≥ 0.95×',
      pass: judged(byRate, (value) => value >= 0.95),
    });
    checks.push({
      target: `${name}: guarded POST + anti-csrf within 5% of guarded GET (CPU/req)`,
      measured: formatRatio(byCpu),
      limit: '≤ 1.05×',
      pass: judged(byCpu, (value) => value <= 1.05),
    });
  }
  const engine = (id: string) => results.engine.find((entry) => entry.id === id);
  const engineTargets: [string, string, number][] = [
    ['getSession-repeated', 'Engine getSession, repeated token ÷ raw jose.jwtVerify', 10],
    ['getSession-never-seen', 'Engine getSession, never-seen token ÷ raw jose.jwtVerify', 0.9],
    ['createNewSession', 'Engine createNewSession ÷ raw INSERT', 0.6],
    ['refreshSession', 'Engine refreshSession ÷ raw locked SELECT + UPDATE', 0.6],
  ];
  for (const [id, target, limit] of engineTargets) {
    const comparison = engine(id);
    checks.push({
      target,
      measured: formatRatio(comparison?.ratio),
      limit: `≥ ${limit}×`,
      pass: judged(comparison?.ratio, (value) => value >= limit),
    });
  }
  const growth = results.memory ? heapGrowth(results.memory) : undefined;
  const [first, last] = results.memory ? results.memory.points.slice(1) : [];
  checks.push({
    target: `Heap after ${last ? formatNumber(last.requests) : '1,000,000'} requests vs after ${first ? formatNumber(first.requests) : '100,000'} (after GC)`,
    measured: growth === undefined ? '–' : `${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %`,
    limit: '≤ +10 %',
    pass: judged(growth, (value) => value <= 10),
  });

  // What the framework itself adds to a POST, to read the POST target against.
  for (const [adapter, name] of adapters) {
    const get = route(results, adapter, 'open');
    const post = route(results, adapter, 'open-post');
    const cpu = (entry: HttpRouteResult) => entry.samples.map((sample) => sample.cpuPerRequest);
    const extra = get && post ? pairedMedian(cpu(post), cpu(get), difference) : undefined;
    checks.push({
      target: `${name}: open POST − open GET, CPU (the framework's own POST cost)`,
      measured: extra === undefined ? '–' : `${formatNumber(extra, 1)} µs`,
      limit: 'context for the POST target',
      pass: undefined,
      reference: true,
    });
  }

  // The guard alone, in process: the same cost without HTTP and framework noise.
  for (const timing of results.guard.filter((entry) => entry.id !== 'floor')) {
    checks.push({
      target: `In process: ${timing.label} above a no-op guard`,
      measured: `${formatNumber(timing.aboveFloor, 1)} µs`,
      limit: 'steadier view of the ≤ 4 / ≤ 8 µs targets',
      pass: undefined,
      reference: true,
    });
  }

  // Reference figures from the issue, for orientation only.
  const references: [string, string, string, string][] = [
    ['fastify', 'session-get', 'Fastify: SessionGuard GET × open route', '≈ 0.73× expected'],
    ['fastify', 'jose', 'Fastify: naive jose.jwtVerify × open route', 'issue measured ≈ 0.32×'],
    ['express', 'jose', 'Express: naive jose.jwtVerify × open route', 'issue measured ≈ 0.49×'],
    ['fastify', 'passport', 'Fastify: passport-jwt × open route', 'issue measured 0.04–0.16×'],
    ['express', 'passport', 'Express: passport-jwt × open route', 'issue measured 0.04–0.16×'],
    ['express', 'express-session', 'Express: express-session + MySQL × open route', 'issue measured ≈ 0.25×'],
  ];
  for (const [adapter, id, target, limit] of references) {
    const entry = route(results, adapter, id);
    checks.push({
      target,
      measured: formatRatio(entry?.ratioToOpen),
      limit,
      pass: undefined,
      reference: true,
    });
  }
  return checks;
}

export function heapGrowth(memory: MemoryResult): number | undefined {
  const [, first, last] = memory.points;
  return first && last ? ((last.heapUsed - first.heapUsed) / first.heapUsed) * 100 : undefined;
}

function table(header: string[], rows: string[][]): string {
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, index) => (index === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

export function renderMarkdown(results: BenchResults, checks: TargetCheck[]): string {
  const { settings, machine } = results;
  const out: string[] = [];
  out.push(`## Benchmark results (${settings.quick ? 'quick' : 'full'} run)`);
  out.push('');
  out.push(
    `${results.date} · Node ${results.node} · ${machine.cpu}, ${machine.cores} cores, ${machine.memory} · ` +
      `${machine.os} · load average at start ${machine.loadAverage.join(' / ')}`,
  );
  out.push('');
  out.push(
    `HTTP: ${settings.rounds} rounds × ${settings.duration} s per route in a new order each round ` +
      `(after ${settings.warmup} s warm-up; before each run a full GC, then ${settings.settle} s unmeasured load), ` +
      `${settings.connections} autocannon connections on 127.0.0.1, server in its own process. ` +
      `Engine: ${settings.engineRounds} rounds × ${settings.engineDuration} s, ${settings.engineConcurrency} concurrent callers. ` +
      'Figures are medians over rounds; ratios and differences are paired within each round, then the median.',
  );
  out.push('');
  out.push('### Targets');
  out.push('');
  out.push(
    table(
      ['target', 'measured', 'target value', 'result'],
      checks.map((check) => [
        check.target,
        check.measured,
        check.limit,
        check.reference
          ? 'reference'
          : check.pass === undefined
            ? 'not run'
            : check.pass
              ? 'pass'
              : '**FAIL**',
      ]),
    ),
  );
  for (const adapter of results.http) {
    out.push('');
    out.push(`### HTTP, ${adapter.adapter === 'fastify' ? 'Fastify' : 'Express'}`);
    out.push('');
    out.push(
      table(
        ['route', 'req/s', '× open', 'p50 ms', 'p99 ms', 'CPU µs/req', 'CPU µs above floor', 'failures'],
        adapter.routes.map((entry) =>
          entry.skipped
            ? [
                entry.label,
                `left out: ${entry.skipped.replace(/\|/g, '/').slice(0, 80)}`,
                '',
                '',
                '',
                '',
                '',
                '',
              ]
            : [
                entry.label,
                formatNumber(entry.requestsPerSecond),
                formatRatio(entry.ratioToOpen),
                formatNumber(entry.p50, 2),
                formatNumber(entry.p99, 2),
                formatNumber(entry.cpuPerRequest, 1),
                entry.id === 'floor' ? '0' : formatNumber(entry.cpuAboveFloor, 1),
                formatNumber(entry.failures),
              ],
        ),
      ),
    );
  }
  if (results.engine.length > 0) {
    out.push('');
    out.push(`### Engine, in process (${settings.engineConcurrency} concurrent callers)`);
    out.push('');
    const rows: string[][] = [];
    for (const comparison of results.engine) {
      rows.push([
        `**${comparison.subject.label}**`,
        formatNumber(comparison.subject.opsPerSecond),
        formatNumber(comparison.subject.cpuPerOp, 1),
        '',
      ]);
      comparison.baselines.forEach((baseline, index) => {
        rows.push([
          `vs ${baseline.label}`,
          formatNumber(baseline.opsPerSecond),
          formatNumber(baseline.cpuPerOp, 1),
          index === 0
            ? `${formatRatio(comparison.ratio)} (paired)`
            : formatRatio(comparison.subject.opsPerSecond / baseline.opsPerSecond),
        ]);
      });
    }
    out.push(table(['operation', 'ops/s', 'CPU µs/op', 'library ÷ baseline'], rows));
  }
  if (results.guard.length > 0) {
    out.push('');
    out.push('### SessionGuard in process (no HTTP, no framework; a fresh request object per call)');
    out.push('');
    out.push(
      table(
        ['path', 'CPU µs/call', 'above no-op guard'],
        results.guard.map((timing) => [
          timing.label,
          formatNumber(timing.cpuPerCall, 2),
          timing.id === 'floor' ? '0' : formatNumber(timing.aboveFloor, 2),
        ]),
      ),
    );
  }
  if (results.memory) {
    const memory = results.memory;
    out.push('');
    out.push(
      `### Memory (Fastify inject, GET /session behind SessionGuard, each access token used ${memory.reuse} times)`,
    );
    out.push('');
    out.push(
      table(
        ['point', 'requests', 'heap used', 'RSS', 'external'],
        memory.points.map((point) => [
          point.label,
          formatNumber(point.requests),
          formatBytes(point.heapUsed),
          formatBytes(point.rss),
          formatBytes(point.external),
        ]),
      ),
    );
    out.push('');
    out.push(
      `${formatNumber(memory.requestsPerSecond)} requests/s in process, ${formatNumber(memory.failures)} not answered 200.`,
    );
  }
  const errors = Object.entries(results.errors);
  if (errors.length > 0) {
    out.push('');
    out.push('### Parts that did not run');
    out.push('');
    for (const [part, message] of errors) out.push(`- ${part}: ${message.split('\n')[0]}`);
  }
  out.push('');
  if (results.revocation?.length) {
    out.push('');
    out.push('### Revocation bus (Fastify, PostgreSQL; checkDatabase from memory while the bus is healthy)');
    out.push('');
    out.push(
      table(
        [
          'transport',
          'open req/s',
          'stateless req/s',
          'checkDatabase req/s',
          '× stateless (target ≥ 0.70)',
          '× open',
          'CPU µs/req open / stateless / checkDatabase',
          'propagation p50 / p99 ms',
        ],
        results.revocation.map((entry) => [
          entry.transport === 'none' ? 'none (a read per request)' : entry.transport,
          entry.requestsPerSecond.open.toFixed(0),
          entry.requestsPerSecond['session-get'].toFixed(0),
          entry.requestsPerSecond['session-db'].toFixed(0),
          entry.checkDatabaseToStateless.toFixed(2),
          entry.checkDatabaseToOpen.toFixed(2),
          ['open', 'session-get', 'session-db'].map((id) => entry.cpuPerRequest[id].toFixed(0)).join(' / '),
          entry.propagation
            ? `${entry.propagation.p50} / ${entry.propagation.p99} (n=${entry.propagation.samples})`
            : '–',
        ]),
      ),
    );
  }
  return out.join('\n');
}

/** Writes `bench/results/<stamp>.{md,json}` and `latest.{md,json}`; returns the markdown path. */
export async function writeResults(
  results: BenchResults,
  checks: TargetCheck[],
  markdown: string,
): Promise<string> {
  const folder = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(folder, { recursive: true });
  const stamp = results.date.replace(/[:.]/g, '-');
  const json = `${JSON.stringify({ ...results, targets: checks }, null, 2)}\n`;
  for (const name of [`bench-${stamp}`, 'latest']) {
    await writeFile(`${folder}${name}.md`, markdown);
    await writeFile(`${folder}${name}.json`, json);
  }
  return `${folder}bench-${stamp}.md`;
}

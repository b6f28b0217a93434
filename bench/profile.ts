// `node --expose-gc dist-bench/bench/profile.js [adapter] [route] [seconds]`: CPU profile of one
// route under load, and where its time goes (self and inclusive, library frames marked).
// `node dist-bench/bench/profile.js summarise <file.cpuprofile>`: the same summary of any profile
// (e.g. one written by a child of `BENCH_CPU_PROF=1 npm run bench`).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Child } from './child-process.js';
import { createDatabase, dropDatabase } from './database.js';
import { check, load } from './http-bench.js';
import type { ReadyMessage } from './http-server.js';
import { newSecrets, readSettings, type AdapterKind, type ChildContext } from './settings.js';
import { within } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  if (!url) return functionName || '(anonymous)';
  const file = url
    .replace(/^file:\/\//, '')
    .replace(REPO, '')
    .replace(/^.*node_modules\//, '');
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

const isLibrary = (name: string) => name.includes('dist-bench/lib/');

/** Where a frame's code lives: the library, a package, a Node subsystem, or V8 itself. */
function origin(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url.includes('dist-bench/lib/')) return 'nestjs-token-session (lib)';
  if (url.includes('dist-bench/bench/')) return 'bench harness';
  const nodeModules = url.split('node_modules/');
  if (nodeModules.length > 1) {
    const parts = nodeModules[nodeModules.length - 1].split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (url.startsWith('node:'))
    return `node:${
      url
        .slice(5)
        .replace(/^internal\//, '')
        .split('/')[0]
    }`;
  return functionName || '(native)';
}

/** Self and inclusive time per function (recursion counted once per sample). */
export function summariseProfile(profile: CpuProfile, top = 30): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    total += delta;
    const leaf = byId.get(id)!;
    self.set(frameName(leaf), (self.get(frameName(leaf)) ?? 0) + delta);
    byOrigin.set(origin(leaf), (byOrigin.get(origin(leaf)) ?? 0) + delta);
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const name = frameName(byId.get(current)!);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + delta);
    }
  });
  const percent = (value: number) => `${((value / total) * 100).toFixed(1).padStart(5)} %`;
  const list = (entries: Map<string, number>, filter: (name: string) => boolean) =>
    [...entries]
      .filter(([name]) => filter(name))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => `  ${percent(time)}  ${isLibrary(name) ? '[lib] ' : ''}${name}`)
      .join('\n');
  const idle = (self.get('(idle)') ?? 0) + (self.get('(program)') ?? 0);
  return [
    `sampled ${(total / 1e6).toFixed(1)} s; idle/program ${percent(idle)}, GC ${percent(self.get('(garbage collector)') ?? 0)}`,
    '',
    'self time by origin:',
    list(byOrigin, (name) => name !== '(idle)').replace(/\[lib\] /g, ''),
    '',
    'self time:',
    list(self, (name) => name !== '(idle)'),
    '',
    'inclusive time, library frames:',
    list(inclusive, isLibrary),
    '',
    'inclusive time, all frames:',
    list(inclusive, (name) => !name.startsWith('(')),
  ].join('\n');
}

async function main(): Promise<void> {
  const [adapter = 'fastify', routeId = 'session-get', seconds = '10'] = process.argv.slice(2);
  if (adapter === 'summarise') {
    console.log(summariseProfile(JSON.parse(await readFile(routeId, 'utf8')) as CpuProfile));
    return;
  }
  const settings = readSettings();
  settings.database.name = `${settings.database.name}_profile`;
  const context: ChildContext = { settings, secrets: newSecrets() };
  const folder = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  await mkdir(folder, { recursive: true });
  const path = `${folder}profile-${adapter}-${routeId}.cpuprofile`;
  await createDatabase(settings.database);
  const child = Child.start('./http-server.js', [adapter as AdapterKind], context);
  try {
    const { port, routes } = await within(child.next<ReadyMessage>('ready'), 60_000, 'server start');
    const route = routes.find((candidate) => candidate.id === routeId);
    if (!route)
      throw new Error(`No route "${routeId}"; routes: ${routes.map((entry) => entry.id).join(', ')}.`);
    const problem = await check(port, route);
    if (problem) throw new Error(`${route.label} ${problem}`);
    console.log(`profiling ${adapter} ${route.label} for ${seconds} s (after a 3 s warm-up)`);
    await load(port, route, settings.connections, 3);
    await child.request({ type: 'profile-start' }, 'profile-started');
    const { result } = await load(port, route, settings.connections, Number(seconds));
    await child.request({ type: 'profile-stop', path }, 'profile-stopped');
    console.log(`${(result.requests.total / result.duration).toFixed(0)} req/s while profiling`);
  } finally {
    await child.stop();
    await dropDatabase(settings.database);
  }
  const summary = summariseProfile(JSON.parse(await readFile(path, 'utf8')) as CpuProfile);
  await writeFile(path.replace(/\.cpuprofile$/, '.txt'), `${summary}\n`);
  console.log(`\n${summary}\n\nProfile (open in Chrome DevTools): ${path}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

// Entry of `npm run bench`: HTTP, engine and memory parts, then the table in bench/results/.
import { Child, type Message } from './child-process.js';
import { createDatabase, dropDatabase } from './database.js';
import type { EngineComparison, GuardTiming } from './engine-bench.js';
import { runHttpBench } from './http-bench.js';
import { runRevocationBench } from './revocation-bench.js';
import type { MemoryResult } from './memory-bench.js';
import { checkTargets, machineInfo, renderMarkdown, writeResults, type BenchResults } from './report.js';
import { newSecrets, readSettings, type ChildContext } from './settings.js';
import { within } from './stats.js';

const log = (line: string) => console.log(line);
const runStart = performance.now();
const elapsed = () => `${((performance.now() - runStart) / 1000).toFixed(0)} s`;

async function runChild(script: string, context: ChildContext, resultType: string): Promise<Message> {
  const child = Child.start(script, [], context);
  try {
    // Generous: the memory part alone takes minutes on a busy machine.
    return await within(child.next(resultType), 30 * 60_000, script);
  } finally {
    await child.stop();
  }
}

async function main(): Promise<void> {
  const settings = readSettings();
  const context: ChildContext = { settings, secrets: newSecrets() };
  const { database, ...shown } = settings;
  const results: BenchResults = {
    date: new Date().toISOString(),
    node: process.version,
    machine: machineInfo(),
    settings: shown,
    http: [],
    engine: [],
    guard: [],
    memory: undefined,
    errors: {},
  };
  log(`nestjs-token-session benchmark (${settings.quick ? 'quick' : 'full'}): ${settings.parts.join(', ')}`);
  await createDatabase(database);
  const cleanUp = () => {
    void dropDatabase(database).finally(() => process.exit(130));
  };
  process.once('SIGINT', cleanUp);
  try {
    if (settings.parts.includes('http')) {
      for (const adapter of settings.adapters) {
        log(`\nHTTP, ${adapter} (at ${elapsed()})`);
        try {
          results.http.push(await runHttpBench(adapter, context, log));
        } catch (error) {
          results.errors[`HTTP ${adapter}`] = String((error as Error).stack ?? error);
          log(`  ! ${(error as Error).message}`);
        }
      }
    }
    if (settings.parts.includes('engine')) {
      log(`\nEngine, in process (at ${elapsed()})`);
      try {
        const message = await runChild('./engine-bench.js', context, 'engine-result');
        results.engine = message.comparisons as EngineComparison[];
        results.guard = message.guard as GuardTiming[];
      } catch (error) {
        results.errors.engine = String((error as Error).stack ?? error);
        log(`  ! ${(error as Error).message}`);
      }
    }
    if (settings.parts.includes('revocation')) {
      log(`\nRevocation bus, checkDatabase and propagation per transport (at ${elapsed()})`);
      try {
        results.revocation = await runRevocationBench(context, log);
      } catch (error) {
        results.errors.revocation = String((error as Error).stack ?? error);
        log(`  ! ${(error as Error).message}`);
      }
    }
    if (settings.parts.includes('memory')) {
      log(`\nMemory, ${settings.memoryRequests.toLocaleString('en-US')} guarded requests (at ${elapsed()})`);
      try {
        results.memory = (await runChild('./memory-bench.js', context, 'memory-result'))
          .result as MemoryResult;
      } catch (error) {
        results.errors.memory = String((error as Error).stack ?? error);
        log(`  ! ${(error as Error).message}`);
      }
    }
  } finally {
    process.removeListener('SIGINT', cleanUp);
    await dropDatabase(database).catch((error) => log(`could not drop ${database.name}: ${error}`));
  }
  const checks = checkTargets(results);
  const markdown = renderMarkdown(results, checks);
  const path = await writeResults(results, checks, markdown);
  log(`\n${markdown}`);
  log(`Written to ${path} (and latest.md / latest.json) after ${elapsed()}.`);
  // Missed targets are reported, never a failed run.
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { sessionEntities, sessionMigrations } from '../../../lib/index.js';
import type { InstanceSettings } from '../instance/instance.module.js';
import { HttpClient } from './http-client.js';
import { silentTypeOrmLogger } from './typeorm-logger.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSCONFIG = 'test/reliability/instance/tsconfig.json';
const ENTRY = 'dist-test/test/reliability/instance/main.js';

let compiled: Promise<void> | undefined;

/**
 * Compiles the instance entry with tsc into dist-test/ (Nest needs the decorator metadata that
 * only tsc emits; esbuild and tsx drop it), once per test file: its suites share the build.
 */
export function compileInstance(): Promise<void> {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  return (compiled ??= new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [tsc, '-p', TSCONFIG], { cwd: ROOT }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tsc -p ${TSCONFIG} failed:\n${stdout}${stderr}`));
      else resolve();
    });
  }));
}

/** One app instance running as its own OS process. */
export interface Instance {
  name: string;
  url: string;
  pid: number;
  client: HttpClient;
  stop(): Promise<void>;
}

/** Starts an instance process and waits for it to listen (it prints `READY <port>`). */
export async function startInstance(
  name: string,
  settings: Omit<InstanceSettings, 'name'>,
): Promise<Instance> {
  const child = spawn(process.execPath, ['--enable-source-maps', ENTRY], {
    cwd: ROOT,
    env: { ...process.env, INSTANCE_NAME: name, INSTANCE_SETTINGS: JSON.stringify({ name, ...settings }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`instance ${name} did not start within 30 s:\n${output}`)),
      30_000,
    );
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const ready = /^READY (\d+)$/.exec(line);
      if (ready) {
        clearTimeout(timer);
        resolve(Number(ready[1]));
      } else {
        output += `${line}\n`;
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const client = new HttpClient(url);
  return {
    name,
    url,
    pid: child.pid!,
    client,
    stop: async () => {
      client.close();
      await stopProcess(child);
    },
  };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Creates the session schema once, before instances start together. */
export async function migrate(database: DataSourceOptions): Promise<void> {
  const dataSource = new DataSource({
    ...database,
    entities: sessionEntities,
    migrations: sessionMigrations,
    logger: silentTypeOrmLogger,
  } as DataSourceOptions);
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import initSqlJs from 'sql.js';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_SECRET } from './support/engine-app.js';

/** A port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The status of a request on a connection of its own, or `undefined` when nothing answers. No
 * keep-alive: a pooled connection would keep a closing server answering.
 */
async function answer(url: string, body?: unknown): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = httpRequest(url, {
      method: body === undefined ? 'GET' : 'POST',
      agent: false,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      timeout: 2000,
    });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Polls `check` every 200 ms until it holds or `limitMs` passes; answers whether it held. */
async function eventually(check: () => boolean | Promise<boolean>, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return check();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `pid` and all its descendants. */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((child) => child > 0);
  } catch {
    // ps exits 1 when there is no child.
  }
  return [pid, ...children.flatMap(processTree)];
}

describe('npm run sample', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'nts-sample-'));
  let npm: ChildProcess | undefined;

  afterAll(() => {
    // Only left over if the test failed: the process group it started (detached) below.
    try {
      if (npm?.pid) process.kill(-npm.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops the server and its whole process tree on SIGTERM, its SQLite file saved', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    let output = '';
    npm = spawn('npm', ['run', 'sample'], {
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, PORT: String(port), SAMPLE_DATA_DIR: dataDir, SESSION_SECRET: TEST_SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    npm.stdout!.on('data', (chunk) => (output += chunk));
    npm.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      npm!.once('exit', (code, signal) => resolve(signal ?? code)),
    );

    // The script compiles first: wait for the server, bounded.
    const up = await eventually(async () => (await answer(`${base}/`)) !== undefined, 150_000);
    expect(up, `the sample never answered on ${base}:\n${output}`).toBe(true);
    const signedUp = await answer(`${base}/auth/signup`, {
      username: 'saved-before-stop',
      password: 'long-enough',
    });
    expect(signedUp, output).toBe(201);
    const tree = processTree(npm.pid!);
    expect(tree.length).toBeGreaterThan(1);

    process.kill(npm.pid!, 'SIGTERM');

    // Bounded polling, generous for a loaded machine: the whole tree exits, then nothing listens.
    const stopped = await eventually(() => tree.every((pid) => !alive(pid)), 90_000);
    const left = tree.filter(alive).map((pid) => {
      try {
        return execFileSync('ps', ['-o', 'pid=,stat=,args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
      } catch {
        return String(pid);
      }
    });
    expect(stopped, `still running after SIGTERM: ${left.join('; ')}\n${output}`).toBe(true);
    expect(await answer(`${base}/`)).toBeUndefined();
    await exited;

    const file = join(dataDir, 'sample.sqlite');
    expect(existsSync(file)).toBe(true);
    const SQL = await initSqlJs();
    const saved = new SQL.Database(readFileSync(file));
    const [result] = saved.exec("SELECT COUNT(*) FROM sample_users WHERE username = 'saved-before-stop'");
    saved.close();
    expect(result.values[0][0]).toBe(1);
  }, 300_000);
});

import { format, stripVTControlCharacters } from 'node:util';
import { afterAll, afterEach } from 'vitest';

/*
 * Vitest `setupFiles` entry: a test during which an ERROR/WARN line reaches the output fails, so a
 * green run stays quiet (see test/support/logs.ts for how to capture expected logs instead).
 * The output is still printed, to show where it came from.
 */

/** Nest's console logger format, and TypeORM's query dumps. */
const NOISE = /\b(ERROR|WARN|FATAL)\b \[|query is slow|query failed/;
/** A deliberate notice, such as an unreachable database server, is framed by `***`. */
const NOTICE = /\*\*\*/;

// Kept on globalThis, and each hook tagged, so a reused worker neither wraps twice nor loses lines.
const TAG = Symbol.for('nestjs-token-session.no-noise');
const shared = globalThis as { [TAG]?: string[] };
const noise = (shared[TAG] ??= []);
type Tagged = { [TAG]?: true };

for (const stream of [process.stdout, process.stderr]) {
  if ((stream.write as Tagged)[TAG]) continue;
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  const watched = (chunk: unknown, ...rest: unknown[]) => {
    const text = stripVTControlCharacters(String(chunk));
    if (NOISE.test(text)) noise.push(text.trim());
    return write(chunk, ...rest);
  };
  stream.write = Object.assign(watched, { [TAG]: true as const }) as typeof stream.write;
}
for (const method of ['log', 'info', 'debug', 'warn', 'error'] as const) {
  if ((console[method] as Tagged)[TAG]) continue;
  const original = console[method].bind(console);
  const watched = (...args: unknown[]) => {
    const text = stripVTControlCharacters(format(...args));
    const loud = method === 'warn' || method === 'error';
    if ((loud && !NOTICE.test(text)) || NOISE.test(text)) noise.push(`console.${method}: ${text.trim()}`);
    original(...args);
  };
  console[method] = Object.assign(watched, { [TAG]: true as const });
}

function check(when: string): void {
  if (noise.length === 0) return;
  const lines = noise.splice(0);
  throw new Error(
    `Unexpected log output ${when} (capture it and assert it, see test/support/logs.ts):\n` +
      lines.map((line) => `  ${line.slice(0, 500)}`).join('\n'),
  );
}

afterEach(() => check('during this test or its hooks'));
afterAll(() => check('after the last test of this file'));

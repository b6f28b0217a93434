import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHILD_CONTEXT_ENV, type ChildContext } from './settings.js';

/** Messages both ways carry a `type`. */
export interface Message {
  type: string;
  [key: string]: unknown;
}

/** A benchmark child process (server, engine or memory part) talked to over IPC. */
export class Child {
  private readonly waiting = new Map<
    string,
    { resolve(message: Message): void; reject(error: Error): void }
  >();
  private exitError: Error | undefined;
  private readonly exited: Promise<void>;

  private constructor(readonly process: ChildProcess) {
    process.on('message', (message: Message) => {
      if (message.type === 'error') {
        this.failAll(new Error(`child failed: ${String(message.message)}`));
        return;
      }
      const waiter = this.waiting.get(message.type);
      if (!waiter) return;
      this.waiting.delete(message.type);
      waiter.resolve(message);
    });
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        this.failAll(new Error(`child ${process.pid} exited (code ${code}, signal ${signal})`));
        resolve();
      });
    });
  }

  /** Forks `script` (a sibling of this file in dist-bench) with the run's context in its environment. */
  static start(script: string, args: string[], context: ChildContext, execArgv: string[] = []): Child {
    const path = fileURLToPath(new URL(script, import.meta.url));
    // BENCH_CPU_PROF=1: every child writes a CPU profile (summarise with bench/profile.ts).
    const profiling =
      process.env.BENCH_CPU_PROF === '1'
        ? [
            '--cpu-prof',
            `--cpu-prof-dir=${fileURLToPath(new URL('../../bench/results/profiles/', import.meta.url))}`,
          ]
        : [];
    const child = fork(path, args, {
      execArgv: ['--expose-gc', ...profiling, ...execArgv],
      env: { ...process.env, [CHILD_CONTEXT_ENV]: JSON.stringify(context) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Child(child);
  }

  /** Resolves with the next message of `type`. */
  next<T extends Message = Message>(type: string): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(type, { resolve: resolve as (message: Message) => void, reject });
    });
  }

  /** Sends a message and waits for the reply of type `replyType`. */
  request<T extends Message = Message>(message: Message, replyType: string): Promise<T> {
    const reply = this.next<T>(replyType);
    this.process.send(message);
    return reply;
  }

  /** Asks the child to close and waits for it to exit (killing it after a grace period). */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    if (this.process.connected) this.process.send({ type: 'close' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private failAll(error: Error): void {
    this.exitError ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

/** Child side: sends a message to the parent. */
export function sendToParent(message: Message): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('Not started by bench/run.ts (no IPC channel).'));
      return;
    }
    process.send(message, undefined, undefined, (error) => (error ? reject(error) : resolve()));
  });
}

/** Child side: reports a failure to the parent and exits. */
export async function failToParent(error: unknown): Promise<never> {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(message);
  await sendToParent({ type: 'error', message }).catch(() => undefined);
  process.exit(1);
}

/** Forces a full collection (the children run with --expose-gc). */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

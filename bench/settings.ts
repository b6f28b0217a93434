import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';

export type AdapterKind = 'express' | 'fastify';
export type BenchPart = 'http' | 'engine' | 'memory' | 'revocation';

/** Everything tunable, read once from the environment (see bench/README.md). */
export interface BenchSettings {
  quick: boolean;
  parts: BenchPart[];
  adapters: AdapterKind[];
  /** HTTP: rounds over all routes, seconds per route and round, warm-up seconds per route. */
  rounds: number;
  duration: number;
  warmup: number;
  /** HTTP: unmeasured load on a route right before each measured run (JIT settles after the previous route). */
  settle: number;
  /** HTTP: autocannon connections. */
  connections: number;
  /** Engine: rounds, seconds per operation and round, concurrent callers. */
  engineRounds: number;
  engineDuration: number;
  engineConcurrency: number;
  /** Engine: distinct tokens per round of the never-seen-token comparison. */
  neverSeenTokens: number;
  /** Memory: guarded requests in total and at the first checkpoint. */
  memoryRequests: number;
  memoryCheckpoint: number;
  database: DatabaseSettings;
}

export interface DatabaseSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  name: string;
}

function numberFromEnv(name: string, fallback: number, { allowZero = false } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${raw}".`);
  }
  return value;
}

function listFromEnv<T extends string>(name: string, allowed: readonly T[]): T[] {
  const raw = process.env[name];
  if (!raw) return [...allowed];
  const items = raw.split(',').map((item) => item.trim()) as T[];
  const unknown = items.filter((item) => !allowed.includes(item));
  if (unknown.length > 0)
    throw new Error(`${name}: unknown ${unknown.join(', ')} (use ${allowed.join(', ')}).`);
  return items;
}

export function readSettings(): BenchSettings {
  const quick = process.env.BENCH_QUICK === '1';
  return {
    quick,
    parts: listFromEnv<BenchPart>('BENCH_PARTS', ['http', 'engine', 'memory', 'revocation']),
    adapters: listFromEnv<AdapterKind>('BENCH_ADAPTERS', ['fastify', 'express']),
    rounds: numberFromEnv('BENCH_ROUNDS', quick ? 2 : 5),
    duration: numberFromEnv('BENCH_DURATION', quick ? 1 : 3),
    warmup: numberFromEnv('BENCH_WARMUP', quick ? 0.3 : 2),
    settle: numberFromEnv('BENCH_SETTLE', quick ? 0.3 : 0.5, { allowZero: true }),
    connections: numberFromEnv('BENCH_CONNECTIONS', 10),
    engineRounds: numberFromEnv('BENCH_ENGINE_ROUNDS', 3),
    engineDuration: numberFromEnv('BENCH_ENGINE_DURATION', quick ? 0.4 : 3),
    engineConcurrency: numberFromEnv('BENCH_CONCURRENCY', 10),
    neverSeenTokens: numberFromEnv('BENCH_NEVER_SEEN_TOKENS', quick ? 8_000 : 40_000),
    memoryRequests: numberFromEnv('BENCH_MEMORY_REQUESTS', quick ? 200_000 : 1_000_000),
    memoryCheckpoint: numberFromEnv('BENCH_MEMORY_CHECKPOINT', 100_000),
    database: {
      host: process.env.BENCH_DB_HOST ?? '127.0.0.1',
      port: numberFromEnv('BENCH_DB_PORT', 3306),
      user: process.env.BENCH_DB_USER ?? 'root',
      password: process.env.BENCH_DB_PASSWORD ?? '',
      name: process.env.BENCH_DB_NAME ?? 'nts_bench',
    },
  };
}

/** Secrets of one run, shared by the parent and its children so every part uses the same keys. */
export interface BenchSecrets {
  secret: string;
  /** The static HS256 key the library signs with and the raw baselines verify with. */
  jwk: JWK;
}

export function newSecrets(): BenchSecrets {
  return {
    secret: randomBytes(48).toString('base64'),
    jwk: { kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'bench-hs256', alg: 'HS256' },
  };
}

/** What a child process gets from the parent (as JSON in BENCH_CHILD). */
export interface ChildContext {
  settings: BenchSettings;
  secrets: BenchSecrets;
}

export const CHILD_CONTEXT_ENV = 'BENCH_CHILD';

export function readChildContext(): ChildContext {
  const raw = process.env[CHILD_CONTEXT_ENV];
  if (!raw) throw new Error('This file is started by bench/run.ts (npm run bench), not directly.');
  return JSON.parse(raw) as ChildContext;
}

/** The user every benchmark session belongs to. */
export const BENCH_USER = 'bench-user';
/** Cookies a real browser sends along with ours (the parser must skip them). */
export const UNRELATED_COOKIES = '_ga=GA1.1.1234567890.1700000000; theme=dark; locale=en-GB';

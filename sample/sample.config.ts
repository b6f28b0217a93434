import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataSourceOptions } from 'typeorm';

/** The repository root, from the source (sample/) or the compiled sample (dist-sample/sample/). */
export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  let directory = start;
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) return start;
    directory = parent;
  }
  return directory;
}

/** The sample keeps its SQLite file and generated secret here (not committed). */
export const DATA_DIR = process.env.SAMPLE_DATA_DIR ?? join(PROJECT_ROOT, 'sample', 'data');

/** SESSION_SECRET from the environment, or one generated on first run and kept in the data folder. */
export function sessionSecret(): string {
  if (process.env.SESSION_SECRET) return process.env.SESSION_SECRET;
  mkdirSync(DATA_DIR, { recursive: true });
  const file = join(DATA_DIR, 'session-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(48).toString('base64'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** Embedded SQLite by default; MySQL/MariaDB or PostgreSQL when DATABASE_URL is set. */
export function databaseOptions(): DataSourceOptions {
  const url = process.env.DATABASE_URL;
  if (url?.startsWith('postgres')) {
    return { type: 'postgres', url, connectTimeoutMS: 3000, extra: { max: 10, query_timeout: 5000 } };
  }
  if (url) {
    return {
      type: 'mysql',
      url,
      charset: 'utf8mb4',
      connectTimeout: 3000,
      enableQueryTimeout: true,
      maxQueryExecutionTime: 5000,
      extra: { connectionLimit: 10 },
    } as DataSourceOptions;
  }
  mkdirSync(DATA_DIR, { recursive: true });
  return { type: 'sqljs', location: join(DATA_DIR, 'sample.sqlite'), autoSave: true };
}

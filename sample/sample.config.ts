import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataSourceOptions } from 'typeorm';
import { sessionEntities, sessionMigrations } from '../lib/index.js';

/** The sample keeps its SQLite file and generated secret here (not committed). */
export const DATA_DIR =
  process.env.SAMPLE_DATA_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'sample', 'data');

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
  const schema = { entities: [...sessionEntities], migrations: [...sessionMigrations], migrationsRun: true };
  const url = process.env.DATABASE_URL;
  if (url) {
    const type = url.startsWith('postgres') ? 'postgres' : 'mysql';
    return { type, url, ...schema } as DataSourceOptions;
  }
  mkdirSync(DATA_DIR, { recursive: true });
  return { type: 'sqljs', location: join(DATA_DIR, 'sample.sqlite'), autoSave: true, ...schema };
}

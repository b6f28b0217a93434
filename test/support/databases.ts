import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { DataSourceOptions } from 'typeorm';

/** The databases the contract tests run on. */
export type DatabaseKind = 'sqlite' | 'mariadb' | 'postgres';
export const ALL_DATABASES: DatabaseKind[] = ['sqlite', 'mariadb', 'postgres'];

export const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root', password: '' };
export const POSTGRES = { host: '127.0.0.1', port: 5432, user: 'postgres' };

async function reachable(kind: DatabaseKind): Promise<boolean> {
  try {
    if (kind === 'mariadb') {
      const connection = await mysql.createConnection({ ...MARIADB, connectTimeout: 3000 });
      await connection.end();
    } else if (kind === 'postgres') {
      const client = new pg.Client({ ...POSTGRES, database: 'postgres', connectionTimeoutMillis: 3000 });
      await client.connect();
      await client.end();
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The servers of `wanted` that answer. In CI an unreachable server fails the run; on a developer's
 * machine without it the suites are left out with a visible notice.
 */
export async function reachableDatabases(wanted: DatabaseKind[] = ALL_DATABASES): Promise<DatabaseKind[]> {
  const found: DatabaseKind[] = [];
  for (const kind of wanted) {
    if (await reachable(kind)) {
      found.push(kind);
    } else if (process.env.CI) {
      throw new Error(`CI requires ${kind} on 127.0.0.1, but it is unreachable (see .ci/run).`);
    } else {
      console.warn(`\n*** ${kind} is unreachable: its suites are NOT run on this machine. ***\n`);
    }
  }
  return found;
}

/** A database of its own for one test file, dropped at the end. */
export interface TestDatabase {
  kind: DatabaseKind;
  options: DataSourceOptions;
  drop(): Promise<void>;
}

/** Connection options that keep pools small and every wait bounded. */
export function connectionOptions(kind: DatabaseKind, database: string, port?: number): DataSourceOptions {
  if (kind === 'mariadb') {
    return {
      type: 'mysql',
      host: MARIADB.host,
      port: port ?? MARIADB.port,
      username: MARIADB.user,
      password: MARIADB.password,
      database,
      charset: 'utf8mb4',
      connectTimeout: 3000,
      // Bounds every statement, so a hung server answers within seconds.
      enableQueryTimeout: true,
      maxQueryExecutionTime: 3000,
      extra: { connectionLimit: 5, maxIdle: 5, enableKeepAlive: true },
    } as DataSourceOptions;
  }
  if (kind === 'postgres') {
    return {
      type: 'postgres',
      host: POSTGRES.host,
      port: port ?? POSTGRES.port,
      username: POSTGRES.user,
      database,
      connectTimeoutMS: 3000,
      extra: { max: 5, statement_timeout: 5000, query_timeout: 6000 },
    } as DataSourceOptions;
  }
  return { type: 'sqljs' } as DataSourceOptions;
}

/**
 * Creates a uniquely named database on the server of `kind` (SQLite: a fresh in-memory one);
 * `mariadbCharset` is the MariaDB database's default character set.
 */
export async function createTestDatabase(
  kind: DatabaseKind,
  mariadbCharset = 'latin1',
): Promise<TestDatabase> {
  const name = `nts_${randomBytes(6).toString('hex')}`;
  if (kind === 'mariadb') {
    const admin = await mysql.createConnection(MARIADB);
    // latin1 on purpose: the migrations must keep non-Latin user ids intact on any default.
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET ${mariadbCharset}`);
    await admin.end();
    return {
      kind,
      options: connectionOptions(kind, name),
      drop: async () => {
        const connection = await mysql.createConnection(MARIADB);
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await connection.end();
      },
    };
  }
  if (kind === 'postgres') {
    const admin = new pg.Client({ ...POSTGRES, database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`);
    await admin.end();
    return {
      kind,
      options: connectionOptions(kind, name),
      drop: async () => {
        const client = new pg.Client({ ...POSTGRES, database: 'postgres' });
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        await client.end();
      },
    };
  }
  return { kind, options: connectionOptions(kind, name), drop: async () => undefined };
}

import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import mysql from 'mysql2/promise';
import { sessionEntities, sessionMigrations } from '../lib/index.js';
import type { DatabaseSettings } from './settings.js';

/** Pool size of every benchmark connection pool (the library's and the raw baselines'). */
export const POOL_SIZE = 10;

function serverOptions(database: DatabaseSettings) {
  return { host: database.host, port: database.port, user: database.user, password: database.password };
}

/** Creates the benchmark database afresh (a crashed run may have left one behind). */
export async function createDatabase(database: DatabaseSettings): Promise<void> {
  const admin = await mysql
    .createConnection({ ...serverOptions(database), connectTimeout: 3000 })
    .catch((error: Error) => {
      throw new Error(
        `MariaDB/MySQL at ${database.host}:${database.port} is unreachable (${error.message}): ` +
          'start it, or point BENCH_DB_HOST / BENCH_DB_PORT / BENCH_DB_USER / BENCH_DB_PASSWORD at one.',
      );
    });
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${database.name}\``);
    await admin.query(`CREATE DATABASE \`${database.name}\` CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
}

export async function dropDatabase(database: DatabaseSettings): Promise<void> {
  const admin = await mysql.createConnection({ ...serverOptions(database), connectTimeout: 3000 });
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${database.name}\``);
  } finally {
    await admin.end();
  }
}

/** A raw mysql2 pool on the benchmark database. */
export function rawPool(database: DatabaseSettings): mysql.Pool {
  return mysql.createPool({
    ...serverOptions(database),
    database: database.name,
    charset: 'utf8mb4',
    connectionLimit: POOL_SIZE,
    maxIdle: POOL_SIZE,
  });
}

/** The library's data source, schema through its own migrations, as an app registers it. */
export function typeOrmOptions(database: DatabaseSettings): TypeOrmModuleOptions {
  return {
    type: 'mysql',
    host: database.host,
    port: database.port,
    username: database.user,
    password: database.password,
    database: database.name,
    charset: 'utf8mb4',
    entities: sessionEntities,
    migrations: sessionMigrations,
    migrationsRun: true,
    retryAttempts: 1,
    logging: false,
    extra: { connectionLimit: POOL_SIZE, maxIdle: POOL_SIZE },
  } as TypeOrmModuleOptions;
}

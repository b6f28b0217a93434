import { Test } from '@nestjs/testing';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  SESSION_CLOCK,
  SessionEngine,
  SessionModule,
  sessionEntities,
  sessionMigrations,
  type SessionModuleOptions,
} from '../../lib/index.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './databases.js';
import { silentTypeOrmLogger } from '../reliability/support/typeorm-logger.js';
import { FakeClock } from './fake-clock.js';
import { captureLogs, type CapturedLogs } from './logs.js';

/**
 * The app's data source as tests configure it: the library's entities and migrations (so every
 * test also runs the migrations), a single quick connection retry, and no console output (fault
 * tests make queries slow, and TypeORM prints every slow query).
 */
export function sessionDatabaseModule(database: DataSourceOptions, extra: Partial<DataSourceOptions> = {}) {
  return TypeOrmModule.forRoot({
    ...database,
    entities: sessionEntities,
    migrations: sessionMigrations,
    migrationsRun: true,
    retryAttempts: 1,
    retryDelay: 200,
    logger: silentTypeOrmLogger,
    ...extra,
  } as TypeOrmModuleOptions);
}

/** A secret for tests only. */
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

/** A Nest application context with the session module on a real database, and its parts. */
export interface EngineApp {
  app: INestApplicationContext;
  engine: SessionEngine;
  dataSource: DataSource;
  clock: FakeClock;
  /** What the app logged (the library logs store failures), instead of printing it. */
  logs: CapturedLogs;
  /** Rows in the session table. */
  countSessions(): Promise<number>;
  close(): Promise<void>;
}

/** Boots the module the way an app does, schema through the library's migrations. */
export async function createEngineApp(
  database: DataSourceOptions,
  options: Partial<SessionModuleOptions> = {},
  clock = new FakeClock(),
): Promise<EngineApp> {
  const logs = captureLogs();
  const moduleRef = await Test.createTestingModule({
    imports: [sessionDatabaseModule(database), SessionModule.forRoot({ secret: TEST_SECRET, ...options })],
  })
    .overrideProvider(SESSION_CLOCK)
    .useValue(clock)
    .setLogger(logs)
    .compile();
  const app = await moduleRef.init();
  const dataSource = app.get(DataSource);
  return {
    app,
    engine: app.get(SessionEngine),
    dataSource,
    clock,
    logs,
    countSessions: async () => {
      const [row] = await dataSource.query('SELECT COUNT(*) AS n FROM session_info');
      return Number(row.n);
    },
    close: () => app.close(),
  };
}

/**
 * Engine apps on one test database of `kind`, for the `describe` block that calls it: `boot` starts
 * one (closed after the test), each test starts from empty tables (key ring included), and the
 * database is dropped at the end. `release` hands an app a test closed itself back.
 */
export function engineAppsOn(kind: DatabaseKind): {
  boot(options?: Partial<SessionModuleOptions>, clock?: FakeClock): Promise<EngineApp>;
  release(app: EngineApp): void;
} {
  let database: TestDatabase;
  const apps: EngineApp[] = [];
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterEach(async () => {
    const [first] = apps;
    if (first) {
      await first.dataSource.query('DELETE FROM session_info');
      await first.dataSource.query('DELETE FROM session_signing_keys');
    }
    for (const app of apps.splice(0)) await app.close();
  });
  afterAll(async () => {
    await database?.drop();
  });
  return {
    async boot(options = {}, clock = new FakeClock()) {
      const app = await createEngineApp(database.options, options, clock);
      apps.push(app);
      return app;
    },
    release(app) {
      apps.splice(apps.indexOf(app), 1);
    },
  };
}

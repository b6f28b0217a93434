import { Test } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { SqljsDriver } from 'typeorm/driver/sqljs/SqljsDriver.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SessionEngine,
  SessionModule,
  createSessionEntities,
  createSessionMigrations,
  type SessionError,
  type SessionModuleOptions,
} from '../lib/index.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { TEST_SECRET } from './support/engine-app.js';
import { onSchemaBeforeRevocationReasons } from './support/older-schema.js';

const databases = await reachableDatabases();

async function boot(
  typeorm: Partial<TypeOrmModuleOptions>,
  options: Partial<SessionModuleOptions> = {},
): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({ retryAttempts: 1, retryDelay: 200, ...typeorm } as TypeOrmModuleOptions),
      SessionModule.forRoot({ secret: TEST_SECRET, ...options }),
    ],
  }).compile();
  return moduleRef.init();
}

describe.each(databases)('upgrading to AddRevocationReasons1764720000000 on %s', (kind) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('keeps live sessions working, persistent, revocable with a reason and counted by the cap', async () => {
    const entities = Object.values(createSessionEntities());
    const migrations = createSessionMigrations();
    const previous = migrations.slice(0, -1);
    const before = await boot({ ...database.options, entities, migrations: previous, migrationsRun: true });
    let sessions: Awaited<ReturnType<SessionEngine['createNewSession']>>[] = [];
    let saved: { database?: Uint8Array } = {};
    try {
      const dataSource = before.get<DataSource>(getDataSourceToken());
      const engine = before.get(SessionEngine);
      sessions = await onSchemaBeforeRevocationReasons(dataSource, async () => [
        await engine.createNewSession('grace', { n: 1 }),
        await engine.createNewSession('grace', { n: 2 }),
      ]);
      if (kind === 'sqlite') saved = { database: (dataSource.driver as SqljsDriver).export() };
    } finally {
      await before.close();
    }
    const after = await boot(
      {
        ...database.options,
        ...saved,
        entities,
        migrations,
        migrationsRun: true,
      } as Partial<TypeOrmModuleOptions>,
      { maxSessionsPerUser: 2 },
    );
    try {
      const engine = after.get(SessionEngine);
      const [first, second] = sessions;
      const refreshed = await engine.refreshSession(first.refreshToken.value);
      expect(refreshed.session).toEqual(first.session);
      // Sessions of the earlier version keep persistent cookies.
      expect(refreshed.newRefreshToken.persistent).toBeUndefined();
      expect(
        await engine.revokeSessionUsingSessionHandle(second.session.handle, { reason: 'upgraded' }),
      ).toBe(true);
      const refused = await engine
        .refreshSession(second.refreshToken.value)
        .catch((error: SessionError) => error);
      expect(refused).toMatchObject({ type: 'UNAUTHORISED', reason: 'upgraded' });
      // The cap counts the upgraded session: at 2, the oldest (the upgraded one) gives way.
      await engine.createNewSession('grace');
      await engine.createNewSession('grace');
      const limited = await engine
        .refreshSession(refreshed.newRefreshToken.value)
        .catch((error: SessionError) => error);
      expect(limited).toMatchObject({ type: 'UNAUTHORISED', reason: 'limit' });
      expect(await engine.listSessionsForUser('grace')).toHaveLength(2);
    } finally {
      await after.close();
    }
  });
});

import { Test } from '@nestjs/testing';
import { TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource, type DataSourceOptions } from 'typeorm';
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
import { insertLegacySessions, type LegacySession } from './support/legacy-sessions.js';

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
    const index = migrations.findIndex((migration) => migration.name === 'AddRevocationReasons1764720000000');
    expect(index).toBeGreaterThan(0);
    // The schema just before this migration, with live sessions in it as that version wrote them.
    const before = new DataSource({
      ...database.options,
      migrations: migrations.slice(0, index),
      migrationsRun: true,
    } as DataSourceOptions);
    await before.initialize();
    let sessions: LegacySession[] = [];
    let saved: { database?: Uint8Array } = {};
    try {
      sessions = await insertLegacySessions(before, ['grace', 'grace']);
      if (kind === 'sqlite') saved = { database: (before.driver as SqljsDriver).export() };
    } finally {
      await before.destroy();
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
      const refreshed = await engine.refreshSession(first!.refreshToken);
      expect(refreshed.session).toEqual({ handle: first!.handle, userId: 'grace', jwtPayload: { n: 1 } });
      // Sessions of the earlier version keep persistent cookies.
      expect(refreshed.newRefreshToken.persistent).toBeUndefined();
      expect(await engine.revokeSessionUsingSessionHandle(second!.handle, { reason: 'upgraded' })).toBe(true);
      const refused = await engine.refreshSession(second!.refreshToken).catch((error: SessionError) => error);
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

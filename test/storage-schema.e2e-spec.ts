import { Test } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { INestApplicationContext } from '@nestjs/common';
import pg from 'pg';
import { DataSource, DefaultNamingStrategy, type DataSourceOptions } from 'typeorm';
import type { SqljsDriver } from 'typeorm/driver/sqljs/SqljsDriver.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SessionEngine,
  SessionModule,
  createSessionEntities,
  createSessionMigrations,
  type SessionTableNames,
} from '../lib/index.js';
import {
  POSTGRES,
  createTestDatabase,
  reachableDatabases,
  type DatabaseKind,
  type TestDatabase,
} from './support/databases.js';
import { TEST_SECRET } from './support/engine-app.js';
import { insertLegacySessions, type LegacySession } from './support/legacy-sessions.js';

const databases = await reachableDatabases();
const servers = databases.filter((kind) => kind !== 'sqlite');

/** A naming of the session tables: data source options and the module's `tables`. */
interface Naming {
  label: string;
  kinds: DatabaseKind[];
  dataSource: Partial<DataSourceOptions>;
  tables: SessionTableNames;
  /** The session table the entities read, as the database names it. */
  sessionTable: string;
}

/** A naming strategy that renames every table, as some apps do to namespace theirs. */
class NamespacingStrategy extends DefaultNamingStrategy {
  override tableName(targetName: string, userSpecifiedName: string | undefined): string {
    return `ns_${super.tableName(targetName, userSpecifiedName)}`;
  }
}

const NAMINGS: Naming[] = [
  { label: 'default names', kinds: databases, dataSource: {}, tables: {}, sessionTable: 'session_info' },
  {
    label: "entityPrefix 'app_'",
    kinds: databases,
    dataSource: { entityPrefix: 'app_' },
    tables: {},
    sessionTable: 'app_session_info',
  },
  {
    label: 'custom table names',
    kinds: databases,
    dataSource: {},
    tables: { sessions: 'auth_sessions', signingKeys: 'auth_keys' },
    sessionTable: 'auth_sessions',
  },
  {
    label: 'a naming strategy that renames tables',
    kinds: databases,
    dataSource: { namingStrategy: new NamespacingStrategy() },
    tables: {},
    sessionTable: 'ns_session_info',
  },
  {
    label: "schema 'sessions' with entityPrefix 'app_'",
    kinds: databases.filter((kind) => kind === 'postgres'),
    dataSource: { schema: 'sessions', entityPrefix: 'app_' } as Partial<DataSourceOptions>,
    tables: {},
    sessionTable: 'sessions.app_session_info',
  },
];

async function createPostgresSchema(database: TestDatabase, schema: string): Promise<void> {
  const client = new pg.Client({
    ...POSTGRES,
    database: (database.options as { database: string }).database,
  });
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"`);
  await client.end();
}

function schemaOf(naming: Naming): string | undefined {
  return (naming.dataSource as { schema?: string }).schema;
}

/** Boots the session module the way an app does, on `typeorm` options. */
async function bootApp(
  typeorm: Partial<TypeOrmModuleOptions>,
  tables: SessionTableNames = {},
): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({ retryAttempts: 1, retryDelay: 200, ...typeorm } as TypeOrmModuleOptions),
      SessionModule.forRoot({ secret: TEST_SECRET, tables }),
    ],
  }).compile();
  return moduleRef.init();
}

/** Boots the app (see {@link bootApp}), then signs in and refreshes. */
async function bootAndRefresh(
  typeorm: Partial<TypeOrmModuleOptions>,
  tables: SessionTableNames = {},
  userId = 'ada',
): Promise<INestApplicationContext> {
  const app = await bootApp(typeorm, tables);
  try {
    const engine = app.get(SessionEngine);
    const created = await engine.createNewSession(userId, { role: 'reader' }, { note: 'hello' });
    const refreshed = await engine.refreshSession(created.refreshToken.value);
    expect(refreshed.session).toEqual({
      handle: created.session.handle,
      userId,
      jwtPayload: { role: 'reader' },
    });
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}

describe('the session migrations and entities describe one schema', () => {
  for (const naming of NAMINGS) {
    describe.each(naming.kinds)(`${naming.label} on %s`, (kind) => {
      let database: TestDatabase;

      beforeAll(async () => {
        database = await createTestDatabase(kind);
        const schema = schemaOf(naming);
        if (schema) await createPostgresSchema(database, schema);
      });

      afterAll(async () => {
        await database?.drop();
      });

      it('leaves TypeORM nothing to synchronize after the migrations', async () => {
        const dataSource = new DataSource({
          ...database.options,
          // TypeORM reads a MariaDB server's column defaults right only with its 'mariadb' driver
          // (with 'mysql' every nullable column looks changed, whatever created it).
          ...(kind === 'mariadb' ? { type: 'mariadb' } : {}),
          ...naming.dataSource,
          entities: Object.values(createSessionEntities(naming.tables)),
          migrations: createSessionMigrations(naming.tables),
        } as DataSourceOptions);
        await dataSource.initialize();
        try {
          await dataSource.runMigrations();
          const planned = await dataSource.driver.createSchemaBuilder().log();
          expect(planned.upQueries.map((query) => query.query)).toEqual([]);
        } finally {
          await dataSource.destroy();
        }
      });

      it('starts the app on the migrated tables, signs in and refreshes', async () => {
        const entities = createSessionEntities(naming.tables);
        const app = await bootAndRefresh(
          {
            ...database.options,
            ...naming.dataSource,
            entities: Object.values(entities),
            migrations: createSessionMigrations(naming.tables),
            migrationsRun: true,
          } as Partial<TypeOrmModuleOptions>,
          naming.tables,
        );
        try {
          const dataSource = app.get<DataSource>(getDataSourceToken());
          expect(dataSource.getMetadata(entities.session).tablePath).toBe(naming.sessionTable);
          const table = naming.sessionTable
            .split('.')
            .map((part) => dataSource.driver.escape(part))
            .join('.');
          const [{ n }] = await dataSource.query(`SELECT COUNT(*) AS n FROM ${table}`);
          expect(Number(n)).toBe(1);
        } finally {
          await app.close();
        }
      });
    });
  }
});

describe.each(databases)('upgrading a database built by older session migrations on %s', (kind) => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase(kind);
  });

  afterEach(async () => {
    await database?.drop();
  });

  it.each([
    ['the first session migration', 1],
    ['0.1.0 (the first two)', 2],
  ])('keeps live sessions of %s working across the new migrations', async (_, shipped) => {
    const entities = Object.values(createSessionEntities());
    const older = new DataSource({
      ...database.options,
      migrations: createSessionMigrations().slice(0, shipped),
      migrationsRun: true,
    } as DataSourceOptions);
    await older.initialize();
    let legacy: LegacySession[];
    let saved: { database?: Uint8Array } = {};
    try {
      legacy = await insertLegacySessions(older, ['dino🦕', 'ada']);
      // sql.js lives in memory: carry the database file over to the next boot.
      if (kind === 'sqlite') saved = { database: (older.driver as SqljsDriver).export() };
    } finally {
      await older.destroy();
    }
    const after = await bootApp({
      ...database.options,
      ...saved,
      entities,
      migrations: createSessionMigrations(),
      migrationsRun: true,
    } as Partial<TypeOrmModuleOptions>);
    try {
      const engine = after.get(SessionEngine);
      const [dino, ada] = legacy;
      // Listed before their next refresh, with empty metadata.
      expect(await engine.listSessionsForUser('dino🦕')).toEqual([
        expect.objectContaining({ handle: dino!.handle, ip: null, device: null, lastActiveAt: null }),
      ]);
      const refreshed = await engine.refreshSession(dino!.refreshToken, {
        metadata: { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0' },
      });
      expect(refreshed.session).toEqual({ handle: dino!.handle, userId: 'dino🦕', jwtPayload: { n: 1 } });
      expect(await engine.getSessionData(dino!.handle)).toEqual({ pet: '🦕' });
      expect(await engine.listSessionsForUser('dino🦕')).toEqual([
        expect.objectContaining({
          ip: '203.0.113.0',
          device: expect.objectContaining({ browser: 'Firefox 133' }),
        }),
      ]);
      expect((await engine.refreshSession(ada!.refreshToken)).session.handle).toBe(ada!.handle);
      const dataSource = after.get<DataSource>(getDataSourceToken());
      expect(await migrationRows(dataSource)).toEqual({
        AddSessionClaimColumns1764547200000: 1,
        AddSessionMetadata1764633600000: 1,
        AddRevocationReasons1764720000000: 1,
        AlignSessionColumnTypes1764460800000: 1,
        CreateRevocationLog1764806400000: 1,
        CreateSessionAuditTable1764892800000: 1,
        CreateSessionTables1763769600000: 1,
        SessionHotPathIndexes1764979200000: 1,
      });
    } finally {
      await after.close();
    }
  });
});

/** Type, nullability, charset and collation of every column of the session tables. */
async function describeColumns(dataSource: DataSource): Promise<unknown[]> {
  return dataSource.query(
    'SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME ' +
      'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ' +
      "AND TABLE_NAME IN ('session_info', 'session_signing_keys', 'session_audit') ORDER BY TABLE_NAME, ORDINAL_POSITION",
  );
}

describe.each(servers.includes('mariadb') ? ['latin1', 'utf8mb3', 'utf8mb4'] : [])(
  'MariaDB with a %s database',
  (charset) => {
    const boots = {
      'synchronize with autoLoadEntities': { autoLoadEntities: true, synchronize: true },
      'the session migrations': {
        entities: Object.values(createSessionEntities()),
        migrations: createSessionMigrations(),
        migrationsRun: true,
      },
    };
    const columns: Record<string, unknown[]> = {};

    for (const [path, typeorm] of Object.entries(boots)) {
      describe(`schema from ${path}`, () => {
        let database: TestDatabase;
        let app: INestApplicationContext;
        let engine: SessionEngine;

        beforeAll(async () => {
          database = await createTestDatabase('mariadb', charset);
          app = await bootAndRefresh({ ...database.options, ...typeorm } as Partial<TypeOrmModuleOptions>);
          engine = app.get(SessionEngine);
          columns[path] = await describeColumns(app.get<DataSource>(getDataSourceToken()));
        });

        afterAll(async () => {
          await app?.close();
          await database?.drop();
        });

        it('keeps emoji in user ids and session data', async () => {
          const data = { pet: 'dino🦕', note: '🙂 ünïcødé' };
          const created = await engine.createNewSession('dino🦕', { badge: '🏅' }, data);
          const refreshed = await engine.refreshSession(created.refreshToken.value);
          expect(refreshed.session.userId).toBe('dino🦕');
          expect(refreshed.session.jwtPayload).toEqual({ badge: '🏅' });
          expect(await engine.getSessionData(created.session.handle)).toEqual(data);
          await engine.updateSessionData(created.session.handle, { pet: '🦖' });
          expect(await engine.getSessionData(created.session.handle)).toEqual({ pet: '🦖' });
          expect(await engine.getAllSessionHandlesForUser('dino🦕')).toEqual([created.session.handle]);
        });

        it("tells apart 'José', 'jose', 'jose ' and 'JOSE'", async () => {
          const users = ['José', 'jose', 'jose ', 'JOSE'];
          const handles = [];
          for (const userId of users) {
            handles.push((await engine.createNewSession(userId, {}, {})).session.handle);
          }
          for (const [index, userId] of users.entries()) {
            expect(await engine.getAllSessionHandlesForUser(userId)).toEqual([handles[index]]);
          }
        });
      });
    }

    it('gives both paths the same columns: types, nullability, utf8mb4_bin', () => {
      const [synchronized, migrated] = Object.values(columns);
      expect(migrated).toHaveLength(45);
      expect(synchronized).toEqual(migrated);
      for (const column of migrated as {
        CHARACTER_SET_NAME: string | null;
        COLLATION_NAME: string | null;
      }[]) {
        if (column.CHARACTER_SET_NAME === null) continue;
        expect(column).toMatchObject({ CHARACTER_SET_NAME: 'utf8mb4', COLLATION_NAME: 'utf8mb4_bin' });
      }
    });
  },
);

describe.runIf(servers.includes('mariadb'))('session tables made another way on MariaDB', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('mariadb');
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('fail start-up with a message that says how to fix them', async () => {
    // Tables as TypeORM's CLI `schema:sync` makes them: the latin1 database's default charset.
    const synchronizer = new DataSource({
      ...database.options,
      entities: Object.values(createSessionEntities()),
      synchronize: true,
    } as DataSourceOptions);
    await synchronizer.initialize();
    await synchronizer.destroy();
    let dataSource: DataSource | undefined;
    const booting = Test.createTestingModule({
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...database.options, entities: Object.values(createSessionEntities()) }),
          dataSourceFactory: async (options) => (dataSource = await new DataSource(options!).initialize()),
        }),
        SessionModule.forRoot({ secret: TEST_SECRET }),
      ],
    }).compile();
    try {
      await expect(booting).rejects.toThrow(
        /session_info\.user_id.*not utf8mb4 with a binary collation.*session migrations.*synchronize: true/s,
      );
    } finally {
      await dataSource?.destroy();
    }
  });
});

/** Counts the rows of TypeORM's migrations table per migration name. */
async function migrationRows(dataSource: DataSource): Promise<Record<string, number>> {
  const rows: { name: string; n: string | number }[] = await dataSource.query(
    'SELECT name, COUNT(*) AS n FROM migrations GROUP BY name ORDER BY name',
  );
  return Object.fromEntries(rows.map((row) => [row.name, Number(row.n)]));
}

describe.each(servers)('replicas booting together on %s', (kind) => {
  describe.each(['all', 'each', 'none'] as const)("migrationsTransactionMode '%s'", (mode) => {
    let database: TestDatabase;

    beforeAll(async () => {
      database = await createTestDatabase(kind);
      // The app's migrations table exists, as after its first deployment: TypeORM creates it
      // itself (check, then CREATE), before any migration can take a lock.
      const first = new DataSource({ ...database.options, migrations: [] } as DataSourceOptions);
      await first.initialize();
      await first.runMigrations();
      await first.destroy();
    });

    afterAll(async () => {
      await database?.drop();
    });

    it('run the session migrations once, and all of them start', async () => {
      const replicas = [1, 2, 3].map(
        () =>
          new DataSource({
            ...database.options,
            entities: Object.values(createSessionEntities()),
            migrations: createSessionMigrations(),
            migrationsRun: true,
            migrationsTransactionMode: mode,
          } as DataSourceOptions),
      );
      const started = await Promise.allSettled(replicas.map((replica) => replica.initialize()));
      try {
        expect(
          started.map((result) => (result.status === 'rejected' ? String(result.reason) : 'up')),
        ).toEqual(['up', 'up', 'up']);
        const [replica] = replicas;
        expect(await migrationRows(replica)).toEqual({
          AddSessionClaimColumns1764547200000: 1,
          AddSessionMetadata1764633600000: 1,
          AddRevocationReasons1764720000000: 1,
          AlignSessionColumnTypes1764460800000: 1,
          CreateRevocationLog1764806400000: 1,
          CreateSessionAuditTable1764892800000: 1,
          CreateSessionTables1763769600000: 1,
          SessionHotPathIndexes1764979200000: 1,
        });
        const tables: { name: string }[] = await replica.query(
          kind === 'postgres'
            ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
            : 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1',
        );
        // Sorted here: the two servers' collations order '_' and letters differently.
        expect(tables.map((table) => table.name).sort()).toEqual([
          'migrations',
          'session_audit',
          'session_info',
          'session_revocation_log',
          'session_revocations',
          'session_signing_keys',
        ]);
      } finally {
        for (const replica of replicas) if (replica.isInitialized) await replica.destroy();
      }
    });
  });
});

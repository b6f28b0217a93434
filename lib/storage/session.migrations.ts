import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { SessionStorageMessages } from '../errors/session-error.messages.js';
import type { SessionTableNames } from '../interfaces/session-options.interface.js';
import { DEFAULT_TABLE_NAMES, sessionEntityNames } from './session.entities.js';
import { createSessionAuditTableMigration } from './migrations/create-session-audit-table.js';
import { addSessionMetadataMigration } from './migrations/add-session-metadata.migration.js';
import { sessionClaimColumnsMigration } from './migrations/1764547200000-session-claim-columns.js';
import { revocationReasonsMigration } from './migrations/revocation-reasons.migration.js';
import { createRevocationLogMigration } from './migrations/create-revocation-log.migration.js';
import { createHotPathIndexesMigration } from './migrations/1764979200000-session-hot-path-indexes.js';

/** A migration class, as TypeORM's `migrations` option takes it. */
export type MigrationClass = new () => MigrationInterface;
/** Where a migration finds the session tables of its naming. */
export type SessionTablePaths = (runner: QueryRunner) => { sessions: string; signingKeys: string };

/** An epoch-ms column of a migration's `Table`. */
export const bigint = (name: string, isNullable = false) => ({ name, type: 'bigint', isNullable });

/** How long a MySQL/MariaDB boot waits for another instance's session migrations, in seconds. */
const MIGRATION_LOCK_TIMEOUT_SECONDS = 60;
/** PostgreSQL advisory lock key of the session migrations (advisory locks are per database). */
const POSTGRES_LOCK_KEY = '7310874120957617001';

/** Whether the runner's database is MySQL or MariaDB. */
export const isMysql = (runner: QueryRunner) =>
  ['mysql', 'mariadb'].includes(runner.connection.driver.options.type);
/** Whether the runner's database is a SQLite flavour. */
export const isSqlite = (runner: QueryRunner) =>
  ['sqljs', 'better-sqlite3', 'capacitor', 'cordova', 'expo', 'nativescript', 'react-native'].includes(
    runner.connection.driver.options.type,
  );

/**
 * The table path the data source's entities read for `givenName`, built the way TypeORM builds
 * `EntityMetadata.tablePath`: naming strategy, `entityPrefix`, then `schema`.
 */
export function tablePath(runner: QueryRunner, entityName: string, givenName: string): string {
  const { namingStrategy, options, driver } = runner.connection;
  let name = namingStrategy.tableName(entityName, givenName);
  if (options.entityPrefix) name = namingStrategy.prefixTableName(options.entityPrefix, name);
  return driver.buildTableName(name, (options as { schema?: string }).schema);
}

/** Connections that hold the MySQL/MariaDB lock or a PostgreSQL session-level lock. */
const lockHolders = new WeakSet<QueryRunner>();

/**
 * Serialises concurrent boots (several replicas running the migrations at once). TypeORM has no
 * lock of its own: each boot reads the executed migrations, then runs the pending ones. The lock is
 * held until the runner's migrations row is written: to the end of the transaction on PostgreSQL
 * (`migrationsTransactionMode` 'all' or 'each'), otherwise until TypeORM releases its query runner.
 * SQLite (sql.js) lives in one process: nothing to lock.
 */
async function lockMigrations(runner: QueryRunner): Promise<void> {
  const type = runner.connection.driver.options.type;
  if (type === 'postgres' && runner.isTransactionActive) {
    await runner.query(`SELECT pg_advisory_xact_lock(${POSTGRES_LOCK_KEY})`);
    return;
  }
  if (lockHolders.has(runner) || (type !== 'postgres' && !isMysql(runner))) return;
  if (type === 'postgres') {
    await runner.query(`SELECT pg_advisory_lock(${POSTGRES_LOCK_KEY})`);
  } else {
    // GET_LOCK names are server-wide: one lock per database.
    const [row] = await runner.query(
      `SELECT GET_LOCK(CONCAT('nestjs-token-session:', DATABASE()), ?) AS acquired`,
      [MIGRATION_LOCK_TIMEOUT_SECONDS],
    );
    if (Number(row?.acquired) !== 1) {
      throw new Error(SessionStorageMessages.migrationLockTimeout(MIGRATION_LOCK_TIMEOUT_SECONDS));
    }
  }
  lockHolders.add(runner);
  const release = runner.release.bind(runner);
  runner.release = async () => {
    runner.release = release;
    lockHolders.delete(runner);
    try {
      await runner.query(
        type === 'postgres'
          ? `SELECT pg_advisory_unlock(${POSTGRES_LOCK_KEY})`
          : `SELECT RELEASE_LOCK(CONCAT('nestjs-token-session:', DATABASE()))`,
      );
    } finally {
      await release();
    }
  };
}

/**
 * Takes the lock, then tells whether another instance ran `migration` while this one waited. That
 * instance's row is removed: TypeORM writes this run's row once `up` returns, so one row remains.
 */
export async function ranElsewhere(runner: QueryRunner, migration: string): Promise<boolean> {
  await lockMigrations(runner);
  const { connection } = runner;
  const table = connection.driver.buildTableName(
    connection.options.migrationsTableName ?? 'migrations',
    (connection.driver.options as { schema?: string }).schema,
    connection.driver.database,
  );
  const result = await runner.manager
    .createQueryBuilder(runner)
    .delete()
    .from(table)
    .where('name = :migration', { migration })
    .execute();
  return (result.affected ?? 0) > 0;
}

/**
 * The migrations that create the session tables under the given names. Run them with your other
 * migrations (`migrations: [...createSessionMigrations()]`, `migrationsRun: true`). The tables get
 * the names the data source's entities read (`entityPrefix`, `schema`, naming strategy), and
 * instances booting at once run them one after the other (a database lock; none on SQLite).
 * @throws Error when a MySQL/MariaDB boot waits more than 60 s for another instance's migrations.
 */
export function createSessionMigrations(tables: SessionTableNames = {}): MigrationClass[] {
  const names = { ...DEFAULT_TABLE_NAMES, ...tables };
  const entityNames = sessionEntityNames(names);
  const paths = (runner: QueryRunner) => ({
    sessions: tablePath(runner, entityNames.sessions, names.sessions),
    signingKeys: tablePath(runner, entityNames.signingKeys, names.signingKeys),
    revocations: tablePath(runner, entityNames.revocations, names.revocations),
  });

  // Shipped: the schema it creates never changes. Without `entityPrefix` or `schema` the paths are
  // the given names, as before; with them, the shipped version created tables the entities never
  // read (the app could not start), so reading them here changes only configurations that failed.
  // The lock and the `ranElsewhere` check only turn a concurrent boot's failure into a no-op.
  class CreateSessionTables1763769600000 implements MigrationInterface {
    name = 'CreateSessionTables1763769600000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (await ranElsewhere(queryRunner, this.name)) return;
      const path = paths(queryRunner);
      await queryRunner.createTable(
        new Table({
          name: path.sessions,
          columns: [
            { name: 'handle', type: 'varchar', length: '32', isPrimary: true },
            { name: 'user_key', type: 'varchar', length: '64' },
            { name: 'user_id', type: 'varchar', length: '255' },
            { name: 'user_id_type', type: 'varchar', length: '6' },
            { name: 'refresh_hash', type: 'varchar', length: '64' },
            { name: 'generation', type: 'int' },
            { name: 'ancestors', type: 'text' },
            { name: 'sealed_live_token', type: 'text', isNullable: true },
            bigint('grace_until'),
            { name: 'session_data', type: 'text' },
            { name: 'jwt_payload', type: 'text' },
            { name: 'access_token_validity', type: 'int', isNullable: true },
            bigint('created_at'),
            bigint('last_refreshed_at'),
            bigint('expires_at'),
            bigint('absolute_expires_at', true),
          ],
        }),
      );
      await queryRunner.createIndices(path.sessions, [
        new TableIndex({ name: `IDX_${names.sessions}_user_key`, columnNames: ['user_key'] }),
        new TableIndex({ name: `IDX_${names.sessions}_expires_at`, columnNames: ['expires_at'] }),
      ]);
      await queryRunner.createTable(
        new Table({
          name: path.signingKeys,
          columns: [
            { name: 'kid', type: 'varchar', length: '128', isPrimary: true },
            { name: 'algorithm', type: 'varchar', length: '16' },
            { name: 'material', type: 'text' },
            bigint('created_at'),
            bigint('usable_from'),
            bigint('sign_until'),
            bigint('verify_until'),
          ],
        }),
      );
      await queryRunner.createIndex(
        path.signingKeys,
        new TableIndex({ name: `IDX_${names.signingKeys}_verify_until`, columnNames: ['verify_until'] }),
      );
      if (isMysql(queryRunner)) {
        // Whatever the database's default, keep any user id and JSON text (emoji included) intact.
        for (const table of [path.sessions, path.signingKeys]) {
          await queryRunner.query(
            `ALTER TABLE ${queryRunner.connection.driver.escape(table)} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
          );
        }
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      const path = paths(queryRunner);
      await queryRunner.dropTable(path.signingKeys);
      await queryRunner.dropTable(path.sessions);
    }
  }

  /**
   * Brings the column types to what the entities declare, so `synchronize` and the migrations give
   * one schema and TypeORM's schema builder plans no change. MySQL/MariaDB: the conversion above
   * turned TEXT into MEDIUMTEXT on a latin1 or utf8mb3 database (not on utf8mb4); TEXT holds every
   * capped value (MAX_SESSION_DATA_BYTES and MAX_JWT_PAYLOAD_BYTES are far below 64 KiB). SQLite:
   * TypeORM declares `int` columns as `integer` (same affinity; the table is rebuilt once).
   */
  class AlignSessionColumnTypes1764460800000 implements MigrationInterface {
    name = 'AlignSessionColumnTypes1764460800000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (await ranElsewhere(queryRunner, this.name)) return;
      const path = paths(queryRunner);
      if (isMysql(queryRunner)) {
        const text = (name: string, nullable = false) =>
          `MODIFY ${queryRunner.connection.driver.escape(name)} text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin ${nullable ? 'NULL' : 'NOT NULL'}`;
        const escape = (table: string) => queryRunner.connection.driver.escape(table);
        await queryRunner.query(
          `ALTER TABLE ${escape(path.sessions)} ${[
            text('ancestors'),
            text('sealed_live_token', true),
            text('session_data'),
            text('jwt_payload'),
          ].join(', ')}`,
        );
        await queryRunner.query(`ALTER TABLE ${escape(path.signingKeys)} ${text('material')}`);
      } else if (isSqlite(queryRunner)) {
        const table = await queryRunner.getTable(path.sessions);
        const integer = (name: string) => {
          const column = table!.findColumnByName(name)!;
          return { oldColumn: column, newColumn: new TableColumn({ ...column, type: 'integer' }) };
        };
        await queryRunner.changeColumns(path.sessions, [
          integer('generation'),
          integer('access_token_validity'),
        ]);
      }
    }

    async down(): Promise<void> {
      // The previous types were accidents (MySQL: the database's default charset; SQLite: the same
      // affinity under another name), and TEXT holds every value: nothing to restore.
    }
  }

  return [
    CreateSessionTables1763769600000,
    AlignSessionColumnTypes1764460800000,
    sessionClaimColumnsMigration(paths),
    addSessionMetadataMigration((runner) => paths(runner).sessions),
    revocationReasonsMigration(names, paths),
    createRevocationLogMigration(
      (runner) => tablePath(runner, entityNames.revocationLog, names.revocationLog),
      names.revocationLog,
    ),
    createSessionAuditTableMigration(names.audit, (runner) =>
      tablePath(runner, entityNames.audit, names.audit),
    ),
    createHotPathIndexesMigration(names, (runner) => paths(runner).sessions),
  ];
}

/** The migrations with the default table names. */
export const sessionMigrations = createSessionMigrations();

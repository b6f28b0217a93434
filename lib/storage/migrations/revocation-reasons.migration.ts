import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { SessionTableNames } from '../../interfaces/session-options.interface.js';
import { bigint, isMysql, isSqlite, ranElsewhere, type MigrationClass } from '../session.migrations.js';

/** The table paths of one table naming, as the data source's entities read them. */
type TablePaths = (runner: QueryRunner) => { sessions: string; revocations: string };

/**
 * The migration of revocation reasons and remember-me (additive: existing sessions keep working).
 * - a revocation table: handle, reason, revoked-at and forget-at (epoch ms), indexed by forget-at
 *   for the cleanup;
 * - `persistent` on the session row (1 for every existing session, which had persistent cookies).
 */
export function revocationReasonsMigration(
  names: Required<SessionTableNames>,
  paths: TablePaths,
): MigrationClass {
  return class AddRevocationReasons1764720000000 implements MigrationInterface {
    name = 'AddRevocationReasons1764720000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (await ranElsewhere(queryRunner, this.name)) return;
      const path = paths(queryRunner);
      await queryRunner.createTable(
        new Table({
          name: path.revocations,
          columns: [
            { name: 'handle', type: 'varchar', length: '32', isPrimary: true },
            { name: 'reason', type: 'varchar', length: '64' },
            bigint('revoked_at'),
            bigint('forget_at'),
          ],
        }),
      );
      await queryRunner.createIndex(
        path.revocations,
        new TableIndex({ name: `IDX_${names.revocations}_forget_at`, columnNames: ['forget_at'] }),
      );
      if (isMysql(queryRunner)) {
        await queryRunner.query(
          `ALTER TABLE ${queryRunner.connection.driver.escape(path.revocations)} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
        );
      }
      // TypeORM declares `int` as `integer` on SQLite (see AlignSessionColumnTypes1764460800000).
      const type = isSqlite(queryRunner) ? 'integer' : 'int';
      await queryRunner.addColumn(
        path.sessions,
        new TableColumn({ name: 'persistent', type, default: 1, isNullable: false }),
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      const path = paths(queryRunner);
      await queryRunner.dropColumn(path.sessions, 'persistent');
      await queryRunner.dropTable(path.revocations);
    }
  };
}

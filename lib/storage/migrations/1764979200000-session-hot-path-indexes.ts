import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { SessionTableNames } from '../../interfaces/session-options.interface.js';
import { ranElsewhere } from '../session.migrations.js';

/** The names of the indexes this migration creates and drops. */
export function hotPathIndexNames(sessions: string) {
  return {
    /** Was: `user_key` alone (a prefix of the new one, so dropped). */
    userKey: `IDX_${sessions}_user_key`,
    /** A user's sessions in listing order: no filesort for "your devices", one range for revoke-all. */
    userCreated: `IDX_${sessions}_user_created`,
    /** Seals past their grace period, found by range instead of a full scan by the cleanup. */
    graceUntil: `IDX_${sessions}_grace_until`,
  };
}

/**
 * Indexes for tables of millions of rows (issue #17): every hot statement is an index lookup or
 * range, never a full scan or a filesort (the EXPLAIN test proves it on MariaDB and PostgreSQL).
 * MariaDB builds them online; PostgreSQL blocks writes to the table while it builds them (seconds
 * per million rows): on a very large table, run this migration in a quiet moment.
 */
export function createHotPathIndexesMigration(
  names: Required<SessionTableNames>,
  sessionTablePath: (runner: QueryRunner) => string,
): new () => MigrationInterface {
  const index = hotPathIndexNames(names.sessions);
  return class SessionHotPathIndexes1764979200000 implements MigrationInterface {
    name = 'SessionHotPathIndexes1764979200000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (await ranElsewhere(queryRunner, this.name)) return;
      const table = sessionTablePath(queryRunner);
      await queryRunner.createIndices(table, [
        new TableIndex({ name: index.userCreated, columnNames: ['user_key', 'created_at', 'handle'] }),
        new TableIndex({ name: index.graceUntil, columnNames: ['grace_until'] }),
      ]);
      await queryRunner.dropIndex(table, index.userKey);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      const table = sessionTablePath(queryRunner);
      await queryRunner.createIndex(
        table,
        new TableIndex({ name: index.userKey, columnNames: ['user_key'] }),
      );
      await queryRunner.dropIndex(table, index.graceUntil);
      await queryRunner.dropIndex(table, index.userCreated);
    }
  };
}

import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';
import {
  isMysql,
  isSqlite,
  ranElsewhere,
  type MigrationClass,
  type SessionTablePaths,
} from '../session.migrations.js';

/**
 * Adds what changing claims, step-up and impersonation keep per session: `payload_version` (how
 * often `jwt_payload` changed; NULL reads as 1), `auth_time` (epoch ms of the last authentication;
 * NULL reads as `created_at`) and `actor` (JSON of the RFC 8693 `act` claim of an impersonation).
 * All nullable without a default: rows of live sessions stay as they are and keep working, and
 * `synchronize` gives the same columns. An impersonation's hard lifetime is the row's existing
 * `absolute_expires_at`.
 */
export function sessionClaimColumnsMigration(paths: SessionTablePaths): MigrationClass {
  return class AddSessionClaimColumns1764547200000 implements MigrationInterface {
    name = 'AddSessionClaimColumns1764547200000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (await ranElsewhere(queryRunner, this.name)) return;
      const { sessions } = paths(queryRunner);
      if (isMysql(queryRunner)) {
        // One statement (no table copy per column); the text column byte-exact like the others.
        const escape = (name: string) => queryRunner.connection.driver.escape(name);
        await queryRunner.query(
          `ALTER TABLE ${escape(sessions)} ADD ${escape('payload_version')} int NULL, ` +
            `ADD ${escape('auth_time')} bigint NULL, ` +
            `ADD ${escape('actor')} text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL`,
        );
        return;
      }
      await queryRunner.addColumns(sessions, [
        // TypeORM declares `int` as `integer` on SQLite (see AlignSessionColumnTypes1764460800000).
        new TableColumn({
          name: 'payload_version',
          type: isSqlite(queryRunner) ? 'integer' : 'int',
          isNullable: true,
        }),
        new TableColumn({ name: 'auth_time', type: 'bigint', isNullable: true }),
        new TableColumn({ name: 'actor', type: 'text', isNullable: true }),
      ]);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      const { sessions } = paths(queryRunner);
      await queryRunner.dropColumns(sessions, ['actor', 'auth_time', 'payload_version']);
    }
  };
}

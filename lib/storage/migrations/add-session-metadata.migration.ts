import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';
import { isMysql, ranElsewhere } from '../session.migrations.js';

/**
 * The migration that adds the session metadata columns ("your devices": IP, user agent, device,
 * login method, label, last activity) to the session table `sessionsTable` names. All nullable:
 * rows written before it stay valid and list with empty metadata until their next refresh.
 */
export function addSessionMetadataMigration(
  sessionsTable: (runner: QueryRunner) => string,
): new () => MigrationInterface {
  return class AddSessionMetadata1764633600000 implements MigrationInterface {
    name = 'AddSessionMetadata1764633600000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (await ranElsewhere(queryRunner, this.name)) return;
      // Byte-exact and emoji-safe on MySQL/MariaDB, like every text column of the table.
      const charset = isMysql(queryRunner) ? { charset: 'utf8mb4', collation: 'utf8mb4_bin' } : {};
      const nullableText = (name: string, length: number) =>
        new TableColumn({ name, type: 'varchar', length: String(length), isNullable: true, ...charset });
      await queryRunner.addColumns(sessionsTable(queryRunner), [
        nullableText('ip', 64),
        nullableText('user_agent', 512),
        nullableText('device_browser', 64),
        nullableText('device_os', 64),
        nullableText('device_type', 16),
        nullableText('login_method', 64),
        nullableText('label', 128),
        new TableColumn({ name: 'last_active_at', type: 'bigint', isNullable: true }),
      ]);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropColumns(sessionsTable(queryRunner), [
        'ip',
        'user_agent',
        'device_browser',
        'device_os',
        'device_type',
        'login_method',
        'label',
        'last_active_at',
      ]);
    }
  };
}

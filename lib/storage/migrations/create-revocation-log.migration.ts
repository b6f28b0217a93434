import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { bigint, isMysql, ranElsewhere } from '../session.migrations.js';

/**
 * The migration that adds the revocation log (issue #16): one row per revoked session, stale
 * generation or payload version, or retired signing key, written in the revoking transaction and
 * read by the revocation bus. The table stays empty without the `revocation` option.
 */
export function createRevocationLogMigration(
  path: (runner: QueryRunner) => string,
  tableName: string,
): new () => MigrationInterface {
  class CreateRevocationLog1764806400000 implements MigrationInterface {
    name = 'CreateRevocationLog1764806400000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (await ranElsewhere(queryRunner, this.name)) return;
      const table = path(queryRunner);
      await queryRunner.createTable(
        new Table({
          name: table,
          columns: [
            // SQLite auto-increments only an INTEGER PRIMARY KEY, and the entity serves every database.
            {
              name: 'id',
              type: 'integer',
              isPrimary: true,
              isGenerated: true,
              generationStrategy: 'increment',
            },
            { name: 'kind', type: 'varchar', length: '16' },
            { name: 'subject', type: 'varchar', length: '128' },
            { name: 'user_key', type: 'varchar', length: '64', isNullable: true },
            bigint('value', true),
            { name: 'cause', type: 'varchar', length: '24' },
            { name: 'reason', type: 'varchar', length: '255', isNullable: true },
            bigint('created_at'),
          ],
        }),
      );
      await queryRunner.createIndex(
        table,
        new TableIndex({ name: `IDX_${tableName}_created_at`, columnNames: ['created_at'] }),
      );
      if (isMysql(queryRunner)) {
        await queryRunner.query(
          `ALTER TABLE ${queryRunner.connection.driver.escape(table)} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
        );
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropTable(path(queryRunner));
    }
  }
  return CreateRevocationLog1764806400000;
}

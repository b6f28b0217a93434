import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { isMysql, ranElsewhere } from '../session.migrations.js';

type MigrationClass = new () => MigrationInterface;

const varchar = (name: string, length: number, isNullable = true) => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable,
});

/**
 * The migration that creates the audit table `TypeOrmAuditSink` writes (empty unless an audit sink
 * is configured). `tablePath` gives the path the entities read, as for the other session tables.
 */
export function createSessionAuditTableMigration(
  tableName: string,
  tablePath: (runner: QueryRunner) => string,
): MigrationClass {
  // Shipped with the audit trail: the schema it creates never changes.
  return class CreateSessionAuditTable1764892800000 implements MigrationInterface {
    name = 'CreateSessionAuditTable1764892800000';

    async up(queryRunner: QueryRunner): Promise<void> {
      if (await ranElsewhere(queryRunner, this.name)) return;
      const path = tablePath(queryRunner);
      await queryRunner.createTable(
        new Table({
          name: path,
          columns: [
            { ...varchar('id', 32, false), isPrimary: true },
            { name: 'occurred_at', type: 'bigint', isNullable: false },
            varchar('type', 64, false),
            varchar('session_handle', 32),
            varchar('user_id', 255),
            varchar('ip', 64),
            varchar('user_agent', 512),
            varchar('actor', 255),
            varchar('reason', 255),
            { name: 'details', type: 'text', isNullable: true },
          ],
        }),
      );
      await queryRunner.createIndices(path, [
        new TableIndex({ name: `IDX_${tableName}_occurred_at`, columnNames: ['occurred_at'] }),
        new TableIndex({ name: `IDX_${tableName}_user_id`, columnNames: ['user_id'] }),
      ]);
      if (isMysql(queryRunner)) {
        // User ids compared byte-exactly, emoji kept, as in the session table. The conversion turns
        // TEXT into MEDIUMTEXT on a latin1 or utf8mb3 database: back to the entity's TEXT.
        const table = queryRunner.connection.driver.escape(path);
        await queryRunner.query(`ALTER TABLE ${table} CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
        await queryRunner.query(
          `ALTER TABLE ${table} MODIFY \`details\` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL`,
        );
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropTable(tablePath(queryRunner));
    }
  };
}

import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The sample's own tables (users and notes); the session tables come from the library's migrations. */
export class CreateSampleTables1763769700000 implements MigrationInterface {
  name = 'CreateSampleTables1763769700000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'sample_users',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'username', type: 'varchar', length: '64', isUnique: true },
          { name: 'password_hash', type: 'varchar', length: '200' },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'sample_notes',
        columns: [
          {
            name: 'id',
            type: 'integer',
            isPrimary: true,
            isGenerated: true,
            generationStrategy: 'increment',
          },
          { name: 'user_id', type: 'int' },
          { name: 'text', type: 'varchar', length: '500' },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
    );
    await queryRunner.createIndex('sample_notes', new TableIndex({ columnNames: ['user_id'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('sample_notes');
    await queryRunner.dropTable('sample_users');
  }
}

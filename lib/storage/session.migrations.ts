import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import type { SessionTableNames } from '../interfaces/session-options.interface.js';
import { DEFAULT_TABLE_NAMES } from './session.entities.js';

type MigrationClass = new () => MigrationInterface;

const bigint = (name: string, isNullable = false) => ({ name, type: 'bigint', isNullable });

/**
 * The migrations that create the session tables under the given names. Run them with your other
 * migrations (`migrations: [...createSessionMigrations()]`, `migrationsRun: true`).
 */
export function createSessionMigrations(tables: SessionTableNames = {}): MigrationClass[] {
  const names = { ...DEFAULT_TABLE_NAMES, ...tables };

  class CreateSessionTables1763769600000 implements MigrationInterface {
    name = 'CreateSessionTables1763769600000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.createTable(
        new Table({
          name: names.sessions,
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
      await queryRunner.createIndices(names.sessions, [
        new TableIndex({ name: `IDX_${names.sessions}_user_key`, columnNames: ['user_key'] }),
        new TableIndex({ name: `IDX_${names.sessions}_expires_at`, columnNames: ['expires_at'] }),
      ]);
      await queryRunner.createTable(
        new Table({
          name: names.signingKeys,
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
        names.signingKeys,
        new TableIndex({ name: `IDX_${names.signingKeys}_verify_until`, columnNames: ['verify_until'] }),
      );
      if (
        queryRunner.connection.driver.options.type === 'mysql' ||
        queryRunner.connection.driver.options.type === 'mariadb'
      ) {
        // Whatever the database's default, keep any user id and JSON text (emoji included) intact.
        for (const table of [names.sessions, names.signingKeys]) {
          await queryRunner.query(
            `ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
          );
        }
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.dropTable(names.signingKeys);
      await queryRunner.dropTable(names.sessions);
    }
  }

  return [CreateSessionTables1763769600000];
}

/** The migrations with the default table names. */
export const sessionMigrations = createSessionMigrations();

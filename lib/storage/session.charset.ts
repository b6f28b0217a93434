import type { DataSource, EntityMetadata } from 'typeorm';
import { SessionStorageMessages } from '../errors/session-error.messages.js';
import type { SessionEntities } from './session.entities.js';

/** A MySQL/MariaDB text column of a session table, as information_schema describes it. */
interface TextColumn {
  table: string;
  name: string;
  columnType: string;
  nullable: boolean;
  charset: string;
  collation: string;
}

const isByteExact = (column: TextColumn) => column.charset === 'utf8mb4' && column.collation.endsWith('_bin');

async function textColumns(dataSource: DataSource, metadata: EntityMetadata): Promise<TextColumn[]> {
  const rows: Record<string, string>[] = await dataSource.query(
    'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable, ' +
      'CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation FROM information_schema.COLUMNS ' +
      'WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND CHARACTER_SET_NAME IS NOT NULL ' +
      'ORDER BY ORDINAL_POSITION',
    [metadata.database ?? null, metadata.tableName],
  );
  return rows.map((row) => ({
    table: metadata.tableName,
    name: row.name,
    columnType: row.columnType,
    nullable: row.nullable === 'YES',
    charset: row.charset,
    collation: row.collation,
  }));
}

/**
 * Makes sure the MySQL/MariaDB session tables store text as utf8mb4 with a binary collation, as the
 * session migrations create them (DESIGN.md, Storage: user ids compare byte-exactly, emoji survive).
 * TypeORM cannot carry this in the entities: they serve every database, and PostgreSQL and SQLite
 * reject MySQL's charset and collation names. So with `synchronize: true`, which gives the schema
 * to TypeORM, this converts the columns TypeORM just created on a latin1 or utf8mb3 database (types
 * and nullability unchanged); without it, such tables fail start-up with a message.
 * @throws Error when the tables are not byte-exact and `synchronize` is off.
 */
export async function ensureByteExactText(dataSource: DataSource, entities: SessionEntities): Promise<void> {
  if (!['mysql', 'mariadb'].includes(dataSource.options.type)) return;
  const wrong: TextColumn[] = [];
  for (const entity of Object.values(entities)) {
    const columns = await textColumns(dataSource, dataSource.getMetadata(entity));
    wrong.push(...columns.filter((column) => !isByteExact(column)));
  }
  if (wrong.length === 0) return;
  if (!dataSource.options.synchronize) {
    throw new Error(
      SessionStorageMessages.notByteExact(wrong.map((column) => `${column.table}.${column.name}`)),
    );
  }
  const { driver } = dataSource;
  for (const table of new Set(wrong.map((column) => column.table))) {
    const changes = wrong
      .filter((column) => column.table === table)
      .map(
        (column) =>
          `MODIFY ${driver.escape(column.name)} ${column.columnType} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin ` +
          (column.nullable ? 'NULL' : 'NOT NULL'),
      );
    await dataSource.query(
      `ALTER TABLE ${driver.escape(table)} DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, ${changes.join(', ')}`,
    );
  }
}

import type { DataSource, EntitySchema } from 'typeorm';
import { METADATA_PROPERTIES, SESSION_ROW, sessionColumns, type SessionColumn } from './session-row.js';
import type { SessionRecord } from './session-store.js';

export const STATE_COLUMNS = sessionColumns(
  'userKey',
  'generation',
  'ancestors',
  'expiresAt',
  'lastActiveAt',
  'payloadVersion',
);
export const SUMMARY_COLUMNS = sessionColumns(
  'handle',
  'createdAt',
  'lastRefreshedAt',
  'expiresAt',
  ...METADATA_PROPERTIES,
);
/** Metadata a refresh may update; each keeps its stored value when given null (`COALESCE`). */
export const ACTIVITY_COLUMNS = sessionColumns(
  'ip',
  'userAgent',
  'deviceBrowser',
  'deviceOs',
  'deviceType',
  'lastActiveAt',
);
export const ROTATED_COLUMNS = sessionColumns(
  'refreshHash',
  'generation',
  'ancestors',
  'sealedLiveToken',
  'graceUntil',
  'lastRefreshedAt',
  'expiresAt',
);

/** The statements of the request path, written once per data source. */
export interface SessionStatements {
  insert: string;
  /** The insert that applies only before a deadline on the database's clock (none without a clock). */
  insertBefore: string | undefined;
  find: string;
  findWithClock: string;
  findState: string;
  findOfUser: string;
  rotate: string;
  /** The rotation that applies only before a deadline on the database's clock (none without a clock). */
  rotateBefore: string | undefined;
  clock: string | undefined;
}

/**
 * Writes the request path's statements for the data source's session table (its naming, schema
 * and driver), from the session row (`SESSION_ROW`): new columns flow into every statement.
 * `databaseNowMs` is the SQL of the database clock in epoch ms (none on SQLite).
 */
export function writeSessionStatements(
  dataSource: DataSource,
  entity: EntitySchema<SessionRecord>,
  databaseNowMs: string | undefined,
): SessionStatements {
  const { driver } = dataSource;
  const metadata = dataSource.getMetadata(entity);
  const table = metadata.tablePath
    .split('.')
    .map((part) => driver.escape(part))
    .join('.');
  const column = (entry: SessionColumn) =>
    driver.escape(metadata.findColumnWithPropertyName(entry.property)!.databaseName);
  const [handle, userKey, refreshHash, createdAt, expiresAt] = sessionColumns(
    'handle',
    'userKey',
    'refreshHash',
    'createdAt',
    'expiresAt',
  ).map(column);
  /** Selects the columns under their property names, as {@link decodeRow} reads them. */
  const select = (columns: SessionColumn[]) =>
    columns.map((entry) => `${column(entry)} AS ${driver.escape(entry.property)}`).join(', ');
  // Each statement numbers its parameters from the first.
  let index = 0;
  const parameter = () => driver.createParameter(`p${index}`, index++);
  const statement = (write: () => string) => {
    index = 0;
    return write();
  };
  const clockNow = databaseNowMs;
  const postgres = dataSource.options.type === 'postgres';
  const insertColumns = SESSION_ROW.map(column).join(', ');
  const insert = statement(
    () => `INSERT INTO ${table} (${insertColumns}) VALUES (${SESSION_ROW.map(() => parameter()).join(', ')})`,
  );
  // PostgreSQL types a parameter in a SELECT list as text unless told the column's type.
  const selectedValue = (entry: SessionColumn) =>
    postgres ? `CAST(${parameter()} AS ${entry.postgresType})` : parameter();
  const insertBefore = clockNow
    ? statement(
        () =>
          `INSERT INTO ${table} (${insertColumns}) SELECT ${SESSION_ROW.map(selectedValue).join(', ')}` +
          `${postgres ? '' : ' FROM DUAL'} WHERE ${clockNow} < ${parameter()}`,
      )
    : undefined;
  const clockColumn = clockNow ? `, ${clockNow} AS ${driver.escape('databaseNow')}` : '';
  const byHandle = (columns: SessionColumn[], extra = '') =>
    statement(() => `SELECT ${select(columns)}${extra} FROM ${table} WHERE ${handle} = ${parameter()}`);
  // A metadata column given null keeps its value (capture off, or nothing new to record).
  const keepUnlessGiven = (entry: SessionColumn) =>
    `${column(entry)} = COALESCE(${postgres ? `CAST(${parameter()} AS ${entry.postgresType})` : parameter()}, ${column(entry)})`;
  const rotate = statement(
    () =>
      `UPDATE ${table} SET ${ROTATED_COLUMNS.map((entry) => `${column(entry)} = ${parameter()}`).join(', ')}, ` +
      `${ACTIVITY_COLUMNS.map(keepUnlessGiven).join(', ')} ` +
      `WHERE ${handle} = ${parameter()} AND ${refreshHash} = ${parameter()}`,
  );
  // The same rotation with a deadline: its parameter follows the rotation's.
  const rotateBefore = clockNow ? `${rotate} AND ${clockNow} < ${parameter()}` : undefined;

  return {
    insert,
    insertBefore,
    find: byHandle(SESSION_ROW),
    findWithClock: byHandle(SESSION_ROW, clockColumn),
    findState: byHandle(STATE_COLUMNS),
    findOfUser: statement(
      () =>
        `SELECT ${select(SUMMARY_COLUMNS)} FROM ${table} ` +
        `WHERE ${userKey} = ${parameter()} AND ${expiresAt} > ${parameter()} ` +
        `ORDER BY ${createdAt} ASC, ${handle} ASC`,
    ),
    rotate,
    rotateBefore,
    clock: clockNow ? `SELECT ${clockNow} AS ${driver.escape('databaseNow')}` : undefined,
  };
}

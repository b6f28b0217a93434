import type { EntitySchemaColumnOptions } from 'typeorm';
import type { SessionRecord } from './session-store.js';

/** How a value travels between a {@link SessionRecord} and its database column. */
interface ColumnCodec {
  encode(value: unknown): unknown;
  decode(value: unknown): unknown;
}

const AS_IS: ColumnCodec = { encode: (value) => value, decode: (value) => value };
// MySQL and PostgreSQL answer BIGINT as a string; epoch milliseconds fit a double exactly.
const NUMBER: ColumnCodec = { encode: (value) => value, decode: (value) => Number(value) };
const NULLABLE_NUMBER: ColumnCodec = {
  encode: (value) => value,
  decode: (value) => (value === null || value === undefined ? null : Number(value)),
};
/** A version counter added by a later migration: NULL (rows written before it) reads as 1. */
const VERSION: ColumnCodec = {
  encode: (value) => value,
  decode: (value) => (value === null || value === undefined ? 1 : Number(value)),
};
// `int` 0/1: one representation in every database and driver (booleans differ between them).
const FLAG: ColumnCodec = {
  encode: (value) => (value === false ? 0 : 1),
  decode: (value) => Number(value) !== 0,
};
const JSON_TEXT: ColumnCodec = {
  encode: (value) => JSON.stringify(value),
  decode: (value) => JSON.parse(value as string) as unknown,
};

/** One column of the session table: where a record property lives and how it is stored. */
export interface SessionColumn<P extends keyof SessionRecord = keyof SessionRecord> extends ColumnCodec {
  property: P;
  /** Its name in the database, as the session migrations create it. */
  name: string;
  /** Its TypeORM type, length, nullability and key (the name and transformer come from here). */
  options: Pick<EntitySchemaColumnOptions, 'type' | 'length' | 'nullable' | 'primary' | 'default'>;
  /** The PostgreSQL type a parameter is cast to where it reaches the column through a SELECT. */
  postgresType: 'text' | 'integer' | 'bigint';
}

function column<P extends keyof SessionRecord>(
  property: P,
  name: string,
  options: SessionColumn['options'],
  codec: ColumnCodec = AS_IS,
): SessionColumn<P> {
  const postgresType = options.type === 'int' ? 'integer' : options.type === 'bigint' ? 'bigint' : 'text';
  return { property, name, options, postgresType, encode: codec.encode, decode: codec.decode };
}

/** Epoch milliseconds. */
const millis = <P extends keyof SessionRecord>(property: P, name: string, nullable = false) =>
  column(property, name, { type: 'bigint', nullable }, nullable ? NULLABLE_NUMBER : NUMBER);

/**
 * The session row, defined once: the entity schema, the store's statements and its row decoder are
 * written from it. The session migrations are written by hand (a shipped migration never changes);
 * the schema-drift test proves they create what this table describes.
 */
export const SESSION_ROW = [
  column('handle', 'handle', { type: 'varchar', length: 32, primary: true }),
  column('userKey', 'user_key', { type: 'varchar', length: 64 }),
  column('userId', 'user_id', { type: 'varchar', length: 255 }),
  column('userIdType', 'user_id_type', { type: 'varchar', length: 6 }),
  column('refreshHash', 'refresh_hash', { type: 'varchar', length: 64 }),
  column('generation', 'generation', { type: 'int' }, NUMBER),
  column('ancestors', 'ancestors', { type: 'text' }, JSON_TEXT),
  column('sealedLiveToken', 'sealed_live_token', { type: 'text', nullable: true }),
  millis('graceUntil', 'grace_until'),
  column('sessionData', 'session_data', { type: 'text' }),
  column('jwtPayload', 'jwt_payload', { type: 'text' }),
  column('accessTokenValidity', 'access_token_validity', { type: 'int', nullable: true }, NULLABLE_NUMBER),
  millis('createdAt', 'created_at'),
  millis('lastRefreshedAt', 'last_refreshed_at'),
  millis('expiresAt', 'expires_at'),
  millis('absoluteExpiresAt', 'absolute_expires_at', true),
  // AddSessionClaimColumns1764547200000
  column('payloadVersion', 'payload_version', { type: 'int', nullable: true }, VERSION),
  millis('authTime', 'auth_time', true),
  column('actor', 'actor', { type: 'text', nullable: true }),
  // Session metadata ("your devices"), added by AddSessionMetadata1764633600000; null when not captured.
  column('ip', 'ip', { type: 'varchar', length: 64, nullable: true }),
  column('userAgent', 'user_agent', { type: 'varchar', length: 512, nullable: true }),
  column('deviceBrowser', 'device_browser', { type: 'varchar', length: 64, nullable: true }),
  column('deviceOs', 'device_os', { type: 'varchar', length: 64, nullable: true }),
  column('deviceType', 'device_type', { type: 'varchar', length: 16, nullable: true }),
  column('loginMethod', 'login_method', { type: 'varchar', length: 64, nullable: true }),
  column('label', 'label', { type: 'varchar', length: 128, nullable: true }),
  millis('lastActiveAt', 'last_active_at', true),
  // Added by migration 1764720000000 (rows before it are persistent).
  column('persistent', 'persistent', { type: 'int', default: 1 }, FLAG),
];

/** Every property of a record has its column (a compile-time check). */
const covered: Exclude<keyof SessionRecord, (typeof SESSION_ROW)[number]['property']> extends never
  ? true
  : never = true;
void covered;

/** The session metadata columns ("your devices"), in table order; all nullable. */
export const METADATA_PROPERTIES = [
  'ip',
  'userAgent',
  'deviceBrowser',
  'deviceOs',
  'deviceType',
  'loginMethod',
  'label',
  'lastActiveAt',
] as const satisfies readonly (keyof SessionRecord)[];

/** The columns of the given properties, in the given order. */
export function sessionColumns<P extends keyof SessionRecord>(...properties: P[]): SessionColumn<P>[] {
  return properties.map(
    (property) => SESSION_ROW.find((entry) => entry.property === property) as SessionColumn<P>,
  );
}

/** The TypeORM options of a column: its own, its name, and its codec as a transformer. */
export function entityColumnOptions(entry: SessionColumn): EntitySchemaColumnOptions {
  const transformer =
    entry.decode === AS_IS.decode ? {} : { transformer: { to: entry.encode, from: entry.decode } };
  return { ...entry.options, name: entry.name, ...transformer };
}

/** The TypeORM options of an epoch-ms column of another table (the signing keys' times). */
export function millisColumnOptions(name: string): EntitySchemaColumnOptions {
  return { type: 'bigint', name, transformer: { to: NUMBER.encode, from: NUMBER.decode } };
}

/**
 * A row of a statement that selected `columns` under their property names, as those fields of a
 * record; the store's only way from a database row to a record.
 */
export function decodeRow<P extends keyof SessionRecord>(
  row: Record<string, unknown>,
  columns: readonly SessionColumn<P>[],
): Pick<SessionRecord, P> {
  const fields: Partial<Record<keyof SessionRecord, unknown>> = {};
  for (const entry of columns) fields[entry.property] = entry.decode(row[entry.property]);
  return fields as Pick<SessionRecord, P>;
}

/** The values of `columns` of a record (or part of one), in their order, as the database takes them. */
export function encodeRow<P extends keyof SessionRecord>(
  record: Pick<SessionRecord, P>,
  columns: readonly SessionColumn<P>[],
): unknown[] {
  return columns.map((entry) => entry.encode(record[entry.property]));
}

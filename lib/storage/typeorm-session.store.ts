import {
  IsNull,
  LessThanOrEqual,
  MoreThan,
  Not,
  type DataSource,
  type QueryResult,
  type Repository,
} from 'typeorm';
import type { StoredSigningKey } from './signing-key-store.js';
import type { SessionEntities } from './session.entities.js';
import type {
  SessionRead,
  SessionRecord,
  SessionRotation,
  SessionState,
  SessionStore,
  SessionSummary,
} from './session-store.js';

const RETRYABLE_CODES = new Set([
  'ER_LOCK_DEADLOCK', // MySQL/MariaDB deadlock
  'ER_LOCK_WAIT_TIMEOUT',
  '40P01', // PostgreSQL deadlock_detected
  '40001', // serialization_failure
  '55P03', // lock_not_available
]);
const MAX_ATTEMPTS = 3;

const DATABASE_NOW_MS: Partial<Record<string, string>> = {
  // SYSDATE, unlike NOW, is read when the row is checked: after any lock wait, not at statement start.
  mysql: 'UNIX_TIMESTAMP(SYSDATE(3)) * 1000',
  mariadb: 'UNIX_TIMESTAMP(SYSDATE(3)) * 1000',
  postgres: 'EXTRACT(EPOCH FROM clock_timestamp()) * 1000',
};

function isRetryable(error: unknown): boolean {
  const code =
    (error as { code?: unknown; driverError?: { code?: unknown } })?.driverError?.code ??
    (error as { code?: unknown })?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

/** Runs a statement again after a deadlock or lock-wait timeout, a bounded number of times. */
export async function withRetry<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error;
    }
  }
}

/**
 * Only primitives of the column's type reach a WHERE clause: TypeORM reads `{ id: undefined }` as
 * "no condition" and an object as an operator, and MariaDB compares a text column with a number
 * numerically, so a stray value could match other rows.
 */
function text(value: string): string {
  if (typeof value === 'string') return value;
  throw new TypeError(`Refusing a non-string value (${typeof value}) for a text column.`);
}

function millis(value: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new TypeError(`Refusing a non-finite-number value (${typeof value}) for a time column.`);
}

/** How a column's value travels between the record and the database row. */
type ColumnKind = 'text' | 'nullable-text' | 'int' | 'nullable-int' | 'millis' | 'nullable-millis' | 'json';

const SESSION_COLUMNS: [keyof SessionRecord, ColumnKind][] = [
  ['handle', 'text'],
  ['userKey', 'text'],
  ['userId', 'text'],
  ['userIdType', 'text'],
  ['refreshHash', 'text'],
  ['generation', 'int'],
  ['ancestors', 'json'],
  ['sealedLiveToken', 'nullable-text'],
  ['graceUntil', 'millis'],
  ['sessionData', 'text'],
  ['jwtPayload', 'text'],
  ['accessTokenValidity', 'nullable-int'],
  ['createdAt', 'millis'],
  ['lastRefreshedAt', 'millis'],
  ['expiresAt', 'millis'],
  ['absoluteExpiresAt', 'nullable-millis'],
];
const ROTATED_COLUMNS: (keyof SessionRotation)[] = [
  'refreshHash',
  'generation',
  'ancestors',
  'sealedLiveToken',
  'graceUntil',
  'lastRefreshedAt',
  'expiresAt',
];

function toDatabase(kind: ColumnKind, value: unknown): unknown {
  return kind === 'json' ? JSON.stringify(value) : value;
}

function fromDatabase(kind: ColumnKind, value: unknown): unknown {
  switch (kind) {
    case 'json':
      return JSON.parse(value as string);
    case 'int':
    case 'millis':
      // MySQL and PostgreSQL answer BIGINT as a string; epoch milliseconds fit a double exactly.
      return Number(value);
    case 'nullable-int':
    case 'nullable-millis':
      return value === null ? null : Number(value);
    default:
      return value;
  }
}

/** A row of the `find` statements as a record. */
function toRecord(row: unknown): SessionRecord | undefined {
  if (row === undefined) return undefined;
  const record: Record<string, unknown> = {};
  for (const [property, kind] of SESSION_COLUMNS) {
    record[property] = fromDatabase(kind, (row as Record<string, unknown>)[property]);
  }
  return record as unknown as SessionRecord;
}

/** PostgreSQL types of the column kinds, for parameters that reach a column through a SELECT. */
const POSTGRES_TYPES: Record<ColumnKind, string> = {
  text: 'text',
  'nullable-text': 'text',
  json: 'text',
  int: 'integer',
  'nullable-int': 'integer',
  millis: 'bigint',
  'nullable-millis': 'bigint',
};

/** The statements of the request path, written once per data source. */
interface SessionStatements {
  insert: string;
  /** The insert that applies only before a deadline on the database's clock (none without a clock). */
  insertBefore: string | undefined;
  find: string;
  findWithClock: string;
  findState: string;
  rotate: string;
  /** The rotation that applies only before a deadline on the database's clock (none without a clock). */
  rotateBefore: string | undefined;
  clock: string | undefined;
}

/**
 * {@link SessionStore} on a TypeORM data source (MySQL/MariaDB, PostgreSQL, SQLite via sql.js).
 * The request path (insert, find, rotate) runs parameterised SQL written once from the entity
 * metadata, since TypeORM's query builder costs several times the query itself; everything else
 * goes through TypeORM's repositories.
 */
export class TypeOrmSessionStore implements SessionStore {
  private readonly sessions: Repository<SessionRecord>;
  private readonly signingKeys: Repository<StoredSigningKey>;
  private statementCache: SessionStatements | undefined;

  /** SQL for the database's clock in epoch ms; none for in-process SQLite, which cannot answer late. */
  private readonly databaseNowMs: string | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly entities: SessionEntities,
  ) {
    this.sessions = dataSource.getRepository(entities.session);
    this.signingKeys = dataSource.getRepository(entities.signingKey);
    this.databaseNowMs = DATABASE_NOW_MS[dataSource.options.type];
  }

  async readDatabaseClock(): Promise<number | undefined> {
    const sql = this.statements().clock;
    if (sql === undefined) return undefined;
    const { records } = await this.run(sql, []);
    return Number((records[0] as Record<string, unknown>).databaseNow);
  }

  async insertSession(record: SessionRecord, deadline?: number): Promise<boolean> {
    const values = SESSION_COLUMNS.map(([property, kind]) => toDatabase(kind, record[property]));
    const { insert, insertBefore } = this.statements();
    if (deadline === undefined || insertBefore === undefined) {
      await this.run(insert, values);
      return true;
    }
    // Like a rotation: a statement that reaches the database after the caller gave up inserts nothing,
    // so no session exists whose tokens were never delivered.
    values.push(millis(deadline));
    const result = await withRetry(() => this.run(insertBefore, values));
    return result.affected === 1;
  }

  async findSession(handle: string): Promise<SessionRecord | undefined> {
    const { records } = await this.run(this.statements().find, [text(handle)]);
    return toRecord(records[0]);
  }

  async findSessionWithClock(handle: string): Promise<SessionRead> {
    const { records } = await this.run(this.statements().findWithClock, [text(handle)]);
    const clock = (records[0] as Record<string, unknown> | undefined)?.databaseNow;
    // The clock rides on the row; with no row there is nothing to rotate and no deadline to set.
    return {
      record: toRecord(records[0]),
      databaseNow: clock === undefined || clock === null ? undefined : Number(clock),
    };
  }

  async findSessionState(handle: string): Promise<SessionState | undefined> {
    const { records } = await this.run(this.statements().findState, [text(handle)]);
    const row = records[0] as Record<string, unknown> | undefined;
    if (row === undefined) return undefined;
    return {
      userKey: String(row.userKey),
      generation: Number(row.generation),
      expiresAt: Number(row.expiresAt),
      ancestors: JSON.parse(row.ancestors as string) as SessionState['ancestors'],
    };
  }

  async rotateRefreshToken(
    handle: string,
    expectedHash: string,
    rotation: SessionRotation,
    deadline: number | undefined,
  ): Promise<boolean> {
    // One conditional UPDATE decides the race: no lock is held across round trips. It applies only
    // before `deadline` on the database's clock, so a statement that arrives after the caller gave up
    // cannot rotate a token the client never received.
    const values = ROTATED_COLUMNS.map((property) =>
      toDatabase(property === 'ancestors' ? 'json' : 'text', rotation[property]),
    );
    values.push(text(handle), text(expectedHash));
    const { rotate, rotateBefore } = this.statements();
    let sql = rotate;
    if (deadline !== undefined && rotateBefore !== undefined) {
      values.push(millis(deadline));
      sql = rotateBefore;
    }
    const result = await withRetry(() => this.run(sql, values));
    return result.affected === 1;
  }

  /** Runs one statement on a pooled connection, with the affected-row count every driver reports. */
  private async run(sql: string, parameters: unknown[]): Promise<QueryResult> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await runner.query(sql, parameters, true);
    } finally {
      await runner.release();
    }
  }

  private statements(): SessionStatements {
    if (this.statementCache) return this.statementCache;
    const { driver } = this.dataSource;
    const metadata = this.dataSource.getMetadata(this.entities.session);
    const table = metadata.tablePath
      .split('.')
      .map((part) => driver.escape(part))
      .join('.');
    const column = (property: string) =>
      driver.escape(metadata.findColumnWithPropertyName(property)!.databaseName);
    const clockNow = this.databaseNowMs;
    const postgres = this.dataSource.options.type === 'postgres';
    let index = 0;
    const parameter = () => driver.createParameter(`p${index}`, index++);
    const insertColumns = SESSION_COLUMNS.map(([property]) => column(property)).join(', ');
    const insertValues = SESSION_COLUMNS.map(() => parameter()).join(', ');
    const insert = `INSERT INTO ${table} (${insertColumns}) VALUES (${insertValues})`;
    let insertBefore: string | undefined;
    if (clockNow) {
      index = 0;
      // PostgreSQL types a parameter in a SELECT list as text unless told the column's type.
      const selectedValues = SESSION_COLUMNS.map(([, kind]) =>
        postgres ? `CAST(${parameter()} AS ${POSTGRES_TYPES[kind]})` : parameter(),
      ).join(', ');
      const from = postgres ? '' : ' FROM DUAL';
      insertBefore =
        `INSERT INTO ${table} (${insertColumns}) SELECT ${selectedValues}${from} ` +
        `WHERE ${clockNow} < ${parameter()}`;
    }
    index = 0;
    const selected = SESSION_COLUMNS.map(([property]) => `${column(property)} AS ${driver.escape(property)}`);
    const find = `SELECT ${selected.join(', ')} FROM ${table} WHERE ${column('handle')} = ${parameter()}`;
    const clockColumn = clockNow ? `, ${clockNow} AS ${driver.escape('databaseNow')}` : '';
    index = 0;
    const findWithClock =
      `SELECT ${selected.join(', ')}${clockColumn} FROM ${table} ` +
      `WHERE ${column('handle')} = ${parameter()}`;
    index = 0;
    const state = (['userKey', 'generation', 'ancestors', 'expiresAt'] as const).map(
      (property) => `${column(property)} AS ${driver.escape(property)}`,
    );
    const findState = `SELECT ${state.join(', ')} FROM ${table} WHERE ${column('handle')} = ${parameter()}`;
    index = 0;
    const assignments = ROTATED_COLUMNS.map((property) => `${column(property)} = ${parameter()}`).join(', ');
    const rotate =
      `UPDATE ${table} SET ${assignments} ` +
      `WHERE ${column('handle')} = ${parameter()} AND ${column('refreshHash')} = ${parameter()}`;
    const rotateBefore = clockNow ? `${rotate} AND ${clockNow} < ${parameter()}` : undefined;
    const clock = clockNow ? `SELECT ${clockNow} AS ${driver.escape('databaseNow')}` : undefined;
    this.statementCache = {
      insert,
      insertBefore,
      find,
      findWithClock,
      findState,
      rotate,
      rotateBefore,
      clock,
    };
    return this.statementCache;
  }

  async updateSessionData(handle: string, sessionData: string, now: number): Promise<boolean> {
    const result = await withRetry(() =>
      this.sessions.update({ handle: text(handle), expiresAt: MoreThan(millis(now)) }, { sessionData }),
    );
    return result.affected === 1;
  }

  async deleteSession(handle: string): Promise<boolean> {
    const result = await withRetry(() => this.sessions.delete({ handle: text(handle) }));
    return (result.affected ?? 0) > 0;
  }

  async deleteSessionOfUser(handle: string, userKey: string): Promise<boolean> {
    const result = await withRetry(() =>
      this.sessions.delete({ handle: text(handle), userKey: text(userKey) }),
    );
    return (result.affected ?? 0) > 0;
  }

  async deleteOtherSessionsOfUser(userKey: string, keptHandle: string): Promise<number> {
    const result = await withRetry(() =>
      this.sessions.delete({ userKey: text(userKey), handle: Not(text(keptHandle)) }),
    );
    return result.affected ?? 0;
  }

  async deleteSessionsOfUser(userKey: string): Promise<number> {
    const result = await withRetry(() => this.sessions.delete({ userKey: text(userKey) }));
    return result.affected ?? 0;
  }

  async findSessionsOfUser(userKey: string, now: number): Promise<SessionSummary[]> {
    return this.sessions.find({
      select: { handle: true, createdAt: true, lastRefreshedAt: true, expiresAt: true },
      where: { userKey: text(userKey), expiresAt: MoreThan(millis(now)) },
      order: { createdAt: 'ASC', handle: 'ASC' },
    });
  }

  async deleteExpired(now: number): Promise<number> {
    const removed = await this.sessions.delete({ expiresAt: LessThanOrEqual(millis(now)) });
    // The live token is kept sealed only while a rotated token may still be replayed.
    await this.sessions.update(
      { graceUntil: LessThanOrEqual(millis(now)), sealedLiveToken: Not(IsNull()) },
      { sealedLiveToken: null, ancestors: [], graceUntil: 0 },
    );
    await this.signingKeys.delete({ verifyUntil: LessThanOrEqual(millis(now)) });
    return removed.affected ?? 0;
  }

  async loadSigningKeys(now: number): Promise<StoredSigningKey[]> {
    return this.signingKeys.find({ where: { verifyUntil: MoreThan(millis(now)) } });
  }

  async insertSigningKey(key: StoredSigningKey): Promise<void> {
    await this.signingKeys.insert(key);
  }

  async retireSigningKeys(kids: string[], signUntil: number, verifyUntil: number): Promise<void> {
    for (const kid of kids) {
      await this.signingKeys.update({ kid: text(kid) }, { signUntil, verifyUntil });
    }
  }
}

import { IsNull, LessThanOrEqual, MoreThan, Not, type DataSource, type Repository } from 'typeorm';
import type { StoredSigningKey } from '../tokens/key-ring.js';
import type { SessionEntities } from './session.entities.js';
import type { SessionRecord, SessionRotation, SessionStore, SessionSummary } from './session-store.js';

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

async function withRetry<T>(operation: () => Promise<T>): Promise<T> {
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

/** {@link SessionStore} on a TypeORM data source (MySQL/MariaDB, PostgreSQL, SQLite via sql.js). */
export class TypeOrmSessionStore implements SessionStore {
  private readonly sessions: Repository<SessionRecord>;
  private readonly signingKeys: Repository<StoredSigningKey>;

  /** SQL for the database's clock in epoch ms; none for in-process SQLite, which cannot answer late. */
  private readonly databaseNowMs: string | undefined;

  constructor(dataSource: DataSource, entities: SessionEntities) {
    this.sessions = dataSource.getRepository(entities.session);
    this.signingKeys = dataSource.getRepository(entities.signingKey);
    this.databaseNowMs = DATABASE_NOW_MS[dataSource.options.type];
  }

  async insertSession(record: SessionRecord): Promise<void> {
    await this.sessions.insert(record);
  }

  async findSession(handle: string): Promise<SessionRecord | undefined> {
    return (await this.sessions.findOneBy({ handle: text(handle) })) ?? undefined;
  }

  async rotateRefreshToken(
    handle: string,
    expectedHash: string,
    rotation: SessionRotation,
    deadline: number,
  ): Promise<boolean> {
    // One conditional UPDATE decides the race: no lock is held across round trips. It applies only
    // before `deadline` on the database's clock, so a statement that arrives after the caller gave up
    // cannot rotate a token the client never received.
    const update = () => {
      const query = this.sessions
        .createQueryBuilder()
        .update()
        .set(rotation)
        .where('handle = :handle AND refresh_hash = :expectedHash', {
          handle: text(handle),
          expectedHash: text(expectedHash),
        });
      if (this.databaseNowMs)
        query.andWhere(`${this.databaseNowMs} < :deadline`, { deadline: millis(deadline) });
      return query.execute();
    };
    const result = await withRetry(update);
    return result.affected === 1;
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

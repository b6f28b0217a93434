import {
  IsNull,
  LessThanOrEqual,
  MoreThan,
  Not,
  Or,
  Raw,
  type DataSource,
  type EntityManager,
  type QueryResult,
  type Repository,
} from 'typeorm';
import type { BatchedCleaner, CleanupBatching } from './batched-cleaner.js';
import { createSessionCleaner } from './session-cleaner.js';
import {
  ACTIVITY_COLUMNS,
  ROTATED_COLUMNS,
  STATE_COLUMNS,
  SUMMARY_COLUMNS,
  writeSessionStatements,
  type SessionStatements,
} from './session-statements.js';
import { DATABASE_NOW_MS, millis, text, withRetry } from './typeorm-values.js';
import { directQuery, type DirectQuery, type DirectResult } from './direct-query.js';
import { SESSION_ROW, decodeRow, encodeRow } from './session-row.js';
import type { StoredSigningKey } from './signing-key-store.js';
import type { TypeOrmRevocationLog } from './revocation-log.js';
import type { SessionEntities } from './session.entities.js';
import { TypeOrmRevocations } from './typeorm-revocations.js';
import type {
  SessionActivity,
  LimitedInsert,
  Revocation,
  SessionLimit,
  SessionRead,
  SessionRecord,
  SessionRotation,
  SessionState,
  SessionStore,
  SessionSummary,
} from './session-store.js';

/**
 * {@link SessionStore} on a TypeORM data source (MySQL/MariaDB, PostgreSQL, SQLite via sql.js).
 * The request path (insert, find, rotate, list) runs parameterised SQL written once from the
 * session row (`SESSION_ROW`), since TypeORM's query builder costs several times the query itself;
 * everything else goes through TypeORM's repositories.
 */
export class TypeOrmSessionStore implements SessionStore {
  private readonly sessions: Repository<SessionRecord>;
  private readonly signingKeys: Repository<StoredSigningKey>;
  private statementCache: SessionStatements | undefined;
  /** Revocations with their reasons, and the capped insert. */
  private readonly revocations: TypeOrmRevocations;
  private cleanerCache: BatchedCleaner | undefined;
  /** The driver's pool underneath the data source (`null`: none for this driver). */
  private direct: DirectQuery | null | undefined;

  /** SQL for the database's clock in epoch ms; none for in-process SQLite, which cannot answer late. */
  private readonly databaseNowMs: string | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly entities: SessionEntities,
    /** Once active (the `revocation` option), revoking calls also write the revocation log. */
    private readonly revocationLog?: TypeOrmRevocationLog,
  ) {
    this.sessions = dataSource.getRepository(entities.session);
    this.signingKeys = dataSource.getRepository(entities.signingKey);
    this.databaseNowMs = DATABASE_NOW_MS[dataSource.options.type];
    this.revocations = new TypeOrmRevocations(
      dataSource,
      entities,
      (sql, parameters) => this.run(sql, parameters),
      revocationLog,
    );
  }

  async readDatabaseClock(): Promise<number | undefined> {
    const sql = this.statements().clock;
    if (sql === undefined) return undefined;
    const { records } = await this.run(sql, []);
    return Number((records[0] as Record<string, unknown>).databaseNow);
  }

  async insertSession(record: SessionRecord, deadline?: number): Promise<boolean> {
    const values = encodeRow(record, SESSION_ROW);
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
    return records[0] === undefined ? undefined : decodeRow(records[0], SESSION_ROW);
  }

  async findSessionWithClock(handle: string): Promise<SessionRead> {
    const { records } = await this.run(this.statements().findWithClock, [text(handle)]);
    const row = records[0] as Record<string, unknown> | undefined;
    // The clock rides on the row; with no row there is nothing to rotate and no deadline to set.
    if (row === undefined) return { record: undefined, databaseNow: undefined };
    const clock = row.databaseNow;
    return {
      record: decodeRow(row, SESSION_ROW),
      databaseNow: clock === undefined || clock === null ? undefined : Number(clock),
    };
  }

  async findSessionState(handle: string): Promise<SessionState | undefined> {
    const { records } = await this.run(this.statements().findState, [text(handle)]);
    return records[0] === undefined ? undefined : decodeRow(records[0], STATE_COLUMNS);
  }

  async rotateRefreshToken(
    handle: string,
    expectedHash: string,
    rotation: SessionRotation & SessionActivity,
    deadline: number | undefined,
  ): Promise<boolean> {
    // One conditional UPDATE decides the race: no lock is held across round trips. It applies only
    // before `deadline` on the database's clock, so a statement that arrives after the caller gave up
    // cannot rotate a token the client never received.
    const values = encodeRow(rotation, ROTATED_COLUMNS);
    values.push(...ACTIVITY_COLUMNS.map((entry) => entry.encode(rotation[entry.property] ?? null)));
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
  private async run(sql: string, parameters: unknown[]): Promise<QueryResult | DirectResult> {
    // Straight on the driver's pool where it can be (MySQL/MariaDB, PostgreSQL), else a query runner.
    if (this.direct === undefined) this.direct = directQuery(this.dataSource) ?? null;
    if (this.direct) return this.direct(sql, parameters);
    const runner = this.dataSource.createQueryRunner();
    try {
      return await runner.query(sql, parameters, true);
    } finally {
      await runner.release();
    }
  }

  private statements(): SessionStatements {
    this.statementCache ??= writeSessionStatements(
      this.dataSource,
      this.entities.session,
      this.databaseNowMs,
    );
    return this.statementCache;
  }

  async touchSession(handle: string, now: number, notAfter: number): Promise<boolean> {
    const result = await withRetry(() =>
      this.sessions.update(
        { handle: text(handle), lastActiveAt: Or(IsNull(), LessThanOrEqual(millis(notAfter))) },
        { lastActiveAt: millis(now) },
      ),
    );
    return result.affected === 1;
  }

  async updateSessionData(handle: string, sessionData: string, now: number): Promise<boolean> {
    const result = await withRetry(() =>
      this.sessions.update({ handle: text(handle), expiresAt: MoreThan(millis(now)) }, { sessionData }),
    );
    return result.affected === 1;
  }

  async updateJwtPayload(
    handle: string,
    expectedVersion: number,
    jwtPayload: string,
    now: number,
  ): Promise<boolean> {
    if (!Number.isSafeInteger(expectedVersion)) throw new TypeError('Refusing a non-integer version.');
    // Compare-and-set on the version: of two concurrent changes, the second re-reads and merges again.
    const where = {
      handle: text(handle),
      expiresAt: MoreThan(millis(now)),
      payloadVersion: Raw((column) => `COALESCE(${column}, 1) = :expectedVersion`, { expectedVersion }),
    };
    const changes = { jwtPayload, payloadVersion: expectedVersion + 1 };
    const update = async (manager: EntityManager) =>
      (await manager.getRepository(this.entities.session).update(where, changes)).affected === 1;
    // With the bus, the bump is logged in the update's transaction and published.
    const log = this.revocationLog;
    if (log?.active) return withRetry(() => log.payloadVersionChanged(handle, expectedVersion + 1, update));
    return withRetry(() => update(this.dataSource.manager));
  }

  async updateAuthTime(handle: string, userKey: string, authTime: number, now: number): Promise<boolean> {
    const result = await withRetry(() =>
      this.sessions.update(
        // Never an impersonation: the actor's proof is not the user's.
        { handle: text(handle), userKey: text(userKey), expiresAt: MoreThan(millis(now)), actor: IsNull() },
        { authTime: millis(authTime) },
      ),
    );
    return result.affected === 1;
  }

  async findExpiredImpersonations(
    now: number,
  ): Promise<Pick<SessionRecord, 'handle' | 'userId' | 'userIdType' | 'actor'>[]> {
    return this.sessions.find({
      select: { handle: true, userId: true, userIdType: true, actor: true },
      where: { expiresAt: LessThanOrEqual(millis(now)), actor: Not(IsNull()) },
      take: 1000,
    });
  }

  async findImpersonationsOfUser(
    userKey: string,
  ): Promise<Pick<SessionRecord, 'handle' | 'userId' | 'userIdType' | 'actor'>[]> {
    return this.sessions.find({
      select: { handle: true, userId: true, userIdType: true, actor: true },
      where: { userKey: text(userKey), actor: Not(IsNull()) },
      take: 1000,
    });
  }

  async deleteSession(handle: string, revocation?: Revocation): Promise<boolean> {
    if (this.revocationLog?.active) return (await this.loggedDelete({ handle }, 'revoke', revocation)) > 0;
    if (revocation) return (await this.revocations.revoke({ handle }, revocation)) > 0;
    const result = await withRetry(() => this.sessions.delete({ handle: text(handle) }));
    return (result.affected ?? 0) > 0;
  }

  async deleteSessionOfUser(handle: string, userKey: string, revocation?: Revocation): Promise<boolean> {
    if (this.revocationLog?.active) {
      return (await this.loggedDelete({ handle, userKey }, 'revoke-for-user', revocation)) > 0;
    }
    if (revocation) return (await this.revocations.revoke({ handle, userKey }, revocation)) > 0;
    const result = await withRetry(() =>
      this.sessions.delete({ handle: text(handle), userKey: text(userKey) }),
    );
    return (result.affected ?? 0) > 0;
  }

  async deleteOtherSessionsOfUser(
    userKey: string,
    keptHandle: string,
    revocation?: Revocation,
  ): Promise<number> {
    if (this.revocationLog?.active) {
      return this.loggedDelete({ userKey, exceptHandle: keptHandle }, 'revoke-others', revocation);
    }
    if (revocation) return this.revocations.revoke({ userKey, exceptHandle: keptHandle }, revocation);
    const result = await withRetry(() =>
      this.sessions.delete({ userKey: text(userKey), handle: Not(text(keptHandle)) }),
    );
    return result.affected ?? 0;
  }

  async deleteSessionsOfUser(userKey: string, revocation?: Revocation): Promise<number> {
    if (this.revocationLog?.active) return this.loggedDelete({ userKey }, 'revoke-all', revocation);
    if (revocation) return this.revocations.revoke({ userKey }, revocation);
    const result = await withRetry(() => this.sessions.delete({ userKey: text(userKey) }));
    return result.affected ?? 0;
  }

  async findSessionsOfUser(userKey: string, now: number): Promise<SessionSummary[]> {
    const { records } = await this.run(this.statements().findOfUser, [text(userKey), millis(now)]);
    return records.map((row: Record<string, unknown>) => decodeRow(row, SUMMARY_COLUMNS));
  }

  /**
   * A revocation with the revocation bus on: the delete, its log entries and its reasons (for the
   * holders) in one transaction, then published.
   */
  private loggedDelete(
    which: { handle?: string; userKey?: string; exceptHandle?: string },
    cause: string,
    revocation: Revocation | undefined,
  ): Promise<number> {
    const where = Object.fromEntries(Object.entries(which).map(([key, value]) => [key, text(value)]));
    const record = revocation
      ? (manager: EntityManager, handles: string[]) => this.revocations.recordIn(manager, handles, revocation)
      : undefined;
    return withRetry(() =>
      this.revocationLog!.deleteSessions(where, cause, revocation?.reason ?? null, record),
    );
  }

  async deleteExpired(now: number, batching?: CleanupBatching): Promise<number> {
    const result = await this.cleaner.run(millis(now), batching);
    // Log entries age out by creation time (one token lifetime), not by an expiry column.
    await this.revocationLog?.deleteExpired(millis(now));
    return result.rows.sessions ?? 0;
  }

  /**
   * The batched cleaner behind {@link deleteExpired}: expired sessions, then seals past their grace
   * period (cleared, the row stays), then signing keys past their verification. Other tables
   * (spent seals, revocation reasons, revocation-log entries) join with `cleaner.register(...)`.
   */
  get cleaner(): BatchedCleaner {
    this.cleanerCache ??= createSessionCleaner(this.dataSource, this.entities);
    return this.cleanerCache;
  }

  findRevocation(handle: string, now: number): Promise<Revocation | undefined> {
    return this.revocations.find(handle, now);
  }

  insertSessionWithinLimit(
    record: SessionRecord,
    limit: SessionLimit,
    deadline?: number,
  ): Promise<LimitedInsert> {
    const { insert, insertBefore } = this.statements();
    return this.revocations.insertWithinLimit(record.userKey, limit, async (run) => {
      const values = encodeRow(record, SESSION_ROW);
      if (deadline === undefined || insertBefore === undefined) {
        await run(insert, values);
        return true;
      }
      values.push(millis(deadline));
      return (await run(insertBefore, values)).affected === 1;
    });
  }

  async loadSigningKeys(now: number): Promise<StoredSigningKey[]> {
    return this.signingKeys.find({ where: { verifyUntil: MoreThan(millis(now)) } });
  }

  async insertSigningKey(key: StoredSigningKey): Promise<void> {
    await this.signingKeys.insert(key);
  }

  async retireSigningKeys(kids: string[], signUntil: number, verifyUntil: number): Promise<void> {
    // An immediate retirement (nothing left to verify) is a revocation every instance must hear of.
    if (this.revocationLog?.active && verifyUntil <= signUntil) {
      await this.revocationLog.logged(async (manager) => {
        for (const kid of kids) {
          await manager
            .getRepository(this.entities.signingKey)
            .update({ kid: text(kid) }, { signUntil, verifyUntil });
        }
        const entry = {
          kind: 'key',
          userKey: null,
          value: null,
          cause: 'key-retired',
          reason: null,
        } as const;
        return { result: undefined, entries: kids.map((kid) => ({ ...entry, subject: kid })) };
      });
      return;
    }
    for (const kid of kids) {
      await this.signingKeys.update({ kid: text(kid) }, { signUntil, verifyUntil });
    }
  }
}

import type { DataSource, EntityManager, QueryResult } from 'typeorm';
import { SessionStorageMessages } from '../errors/session-error.messages.js';
import type { RevocationEntry } from './revocation-log.port.js';
import type { TypeOrmRevocationLog } from './revocation-log.js';
import type { SessionEntities } from './session.entities.js';
import type { LimitedInsert, Revocation, SessionLimit } from './session-store.js';
import { millis, text, withRetry } from './typeorm-values.js';

/** Runs one statement, in the transaction of the operation at hand. */
type Run = (sql: string, parameters: unknown[]) => Promise<Pick<QueryResult, 'records' | 'affected'>>;

/** Which sessions a revocation deletes. */
export interface RevokedSessions {
  handle?: string;
  userKey?: string;
  /** Every session of `userKey` but this one. */
  exceptHandle?: string;
}

/** PostgreSQL advisory-lock class of the per-user session-cap lock (the user's hash is the object). */
const POSTGRES_LIMIT_LOCK_CLASS = 73108741;

/**
 * The revocation and session-cap statements of `TypeOrmSessionStore`: deletes that record their
 * reason in the same transaction, and the capped insert under a per-user lock (MySQL/MariaDB
 * `GET_LOCK`, PostgreSQL transaction-level advisory lock, in-process queue on SQLite, whose one
 * connection cannot hold concurrent transactions).
 */
export class TypeOrmRevocations {
  private readonly kind: 'mysql' | 'postgres' | 'single';
  /** SQLite: operations run one at a time (TypeORM shares one query runner). */
  private queue: Promise<unknown> = Promise.resolve();
  private names: ReturnType<TypeOrmRevocations['resolveNames']> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly entities: SessionEntities,
    /** Runs one statement outside any transaction. */
    private readonly run: Run,
    /** Once active, sessions the cap revokes are logged in the insert's transaction and published. */
    private readonly revocationLog?: TypeOrmRevocationLog,
  ) {
    const type = dataSource.options.type;
    this.kind =
      type === 'mysql' || type === 'mariadb' ? 'mysql' : type === 'postgres' ? 'postgres' : 'single';
  }

  /** Deletes the sessions, recording `revocation` for each deleted one; returns how many. */
  async revoke(which: RevokedSessions, revocation: Revocation): Promise<number> {
    const n = this.sql();
    return this.transaction(undefined, async (run) => {
      const conditions: string[] = [];
      const values: unknown[] = [];
      let index = 0;
      const parameter = (value: unknown) => {
        values.push(value);
        return this.dataSource.driver.createParameter(`p${index}`, index++);
      };
      if (which.handle !== undefined) conditions.push(`${n.handle} = ${parameter(text(which.handle))}`);
      if (which.userKey !== undefined) conditions.push(`${n.userKey} = ${parameter(text(which.userKey))}`);
      if (which.exceptHandle !== undefined) {
        conditions.push(`${n.handle} <> ${parameter(text(which.exceptHandle))}`);
      }
      // Locked: a concurrent revocation of the same rows waits, and cannot record them twice.
      const lock = this.kind === 'single' ? '' : ' FOR UPDATE';
      const { records } = await run(
        `SELECT ${n.handle} AS ${n.as('handle')} FROM ${n.sessions} WHERE ${conditions.join(' AND ')}${lock}`,
        values,
      );
      const handles = records.map((row: Record<string, unknown>) => String(row.handle));
      return this.deleteAndRecord(run, handles, revocation);
    });
  }

  /** Records `revocation` for deleted sessions inside another operation's transaction. */
  async recordIn(manager: EntityManager, handles: string[], revocation: Revocation): Promise<void> {
    if (handles.length === 0) return;
    await manager.getRepository(this.entities.revocation).insert(
      handles.map((handle) => ({
        handle,
        reason: revocation.reason,
        revokedAt: millis(revocation.revokedAt),
        forgetAt: millis(revocation.forgetAt),
      })),
    );
  }

  /** The recorded revocation of a session, unless forgotten by `now`. */
  async find(handle: string, now: number): Promise<Revocation | undefined> {
    const n = this.sql();
    const p = (i: number) => this.dataSource.driver.createParameter(`p${i}`, i);
    const { records } = await this.run(
      `SELECT ${n.reason} AS ${n.as('reason')}, ${n.revokedAt} AS ${n.as('revokedAt')}, ${n.forgetAt} AS ${n.as('forgetAt')} ` +
        `FROM ${n.revocations} WHERE ${n.revocationHandle} = ${p(0)} AND ${n.forgetAt} > ${p(1)}`,
      [text(handle), millis(now)],
    );
    const row = records[0] as Record<string, unknown> | undefined;
    if (row === undefined) return undefined;
    return { reason: String(row.reason), revokedAt: Number(row.revokedAt), forgetAt: Number(row.forgetAt) };
  }

  /**
   * Inserts a session (`insert` runs the statement) under the user's cap, in one transaction holding
   * the user's lock: count the live sessions, delete those that give way, insert.
   */
  async insertWithinLimit(
    userKey: string,
    limit: SessionLimit,
    insert: (run: Run) => Promise<boolean>,
  ): Promise<LimitedInsert> {
    const n = this.sql();
    const p = (i: number) => this.dataSource.driver.createParameter(`p${i}`, i);
    const late = new Error('late');
    const log = this.revocationLog?.active ? this.revocationLog : undefined;
    try {
      const { outcome, logged } = await this.transaction(
        { userKey: text(userKey), waitSeconds: limit.lockWaitSeconds },
        async (run, manager) => {
          const { records } = await run(
            `SELECT ${n.handle} AS ${n.as('handle')}, ${n.createdAt} AS ${n.as('createdAt')}, ` +
              `${n.lastRefreshedAt} AS ${n.as('lastRefreshedAt')}, ${n.lastActiveAt} AS ${n.as('lastActiveAt')} ` +
              `FROM ${n.sessions} WHERE ${n.userKey} = ${p(0)} AND ${n.expiresAt} > ${p(1)}`,
            [userKey, millis(limit.now)],
          );
          const live = (records as Record<string, unknown>[]).map((row) => ({
            handle: String(row.handle),
            createdAt: Number(row.createdAt),
            // Least recently active: the last request seen (metadata), else the last refresh.
            activeAt: Number(row.lastActiveAt ?? row.lastRefreshedAt),
          }));
          const excess = live.length - limit.max + 1;
          let revokedHandles: string[] = [];
          let logged: RevocationEntry[] = [];
          if (excess > 0) {
            if (limit.policy === 'refuse') return { outcome: { outcome: 'refused' as const }, logged };
            const by = limit.policy === 'revoke-oldest' ? 'createdAt' : 'activeAt';
            live.sort((a, b) => a[by] - b[by] || (a.handle < b.handle ? -1 : 1));
            revokedHandles = live.slice(0, excess).map((entry) => entry.handle);
            await this.deleteAndRecord(run, revokedHandles, limit.revocation);
            if (log) {
              const entry = { kind: 'session', userKey, value: null, cause: 'limit' } as const;
              const reason = limit.revocation?.reason ?? null;
              logged = await log.insert(
                manager,
                revokedHandles.map((subject) => ({ ...entry, subject, reason })),
              );
            }
          }
          // A late insert rolls the deletions (and their log entries) back too: nothing changed.
          if (!(await insert(run))) throw late;
          return { outcome: { outcome: 'inserted' as const, revokedHandles }, logged };
        },
      );
      // Committed: the other instances hear of the sessions that gave way.
      log?.publish(logged);
      return outcome;
    } catch (error) {
      if (error === late) return { outcome: 'late' };
      throw error;
    }
  }

  private async deleteAndRecord(
    run: Run,
    handles: string[],
    revocation: Revocation | undefined,
  ): Promise<number> {
    if (handles.length === 0) return 0;
    const n = this.sql();
    const p = (i: number) => this.dataSource.driver.createParameter(`p${i}`, i);
    const deleted = await run(
      `DELETE FROM ${n.sessions} WHERE ${n.handle} IN (${handles.map((_, i) => p(i)).join(', ')})`,
      handles,
    );
    if (revocation !== undefined) {
      const values = handles.flatMap((handle) => [
        handle,
        revocation.reason,
        millis(revocation.revokedAt),
        millis(revocation.forgetAt),
      ]);
      const rows = handles.map(
        (_, row) => `(${[0, 1, 2, 3].map((column) => p(row * 4 + column)).join(', ')})`,
      );
      await run(
        `INSERT INTO ${n.revocations} (${n.revocationHandle}, ${n.reason}, ${n.revokedAt}, ${n.forgetAt}) ` +
          `VALUES ${rows.join(', ')}`,
        values,
      );
    }
    return deleted.affected ?? handles.length;
  }

  /**
   * Runs `work` in one transaction (SQLite: in this store's queue, without one), retried after a
   * deadlock. With `lock`, holds the user's lock first, waiting at most `waitSeconds`.
   */
  private async transaction<T>(
    lock: { userKey: string; waitSeconds: number } | undefined,
    work: (run: Run, manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    if (this.kind === 'single') {
      const result = this.queue.then(() => work(this.run, this.dataSource.manager));
      this.queue = result.catch(() => undefined);
      return result;
    }
    return withRetry(async () => {
      const runner = this.dataSource.createQueryRunner();
      const run: Run = (sql, parameters) => runner.query(sql, parameters, true);
      let named: string | undefined;
      try {
        if (lock && this.kind === 'mysql') {
          // GET_LOCK names are server-wide (at most 64 characters): the database name keeps them apart.
          const [row] = await runner.query(
            `SELECT CONCAT('nts:', LEFT(DATABASE(), 24), ':', ?) AS name, GET_LOCK(CONCAT('nts:', LEFT(DATABASE(), 24), ':', ?), ?) AS acquired`,
            [lock.userKey.slice(0, 32), lock.userKey.slice(0, 32), lock.waitSeconds],
          );
          if (Number(row?.acquired) !== 1) throw new Error(SessionStorageMessages.sessionLimitLockTimeout);
          named = String(row.name);
        }
        await runner.startTransaction();
        try {
          if (lock && this.kind === 'postgres') {
            await runner.query(`SET LOCAL lock_timeout = '${Math.max(1, Math.floor(lock.waitSeconds))}s'`);
            await runner.query(`SELECT pg_advisory_xact_lock(${POSTGRES_LIMIT_LOCK_CLASS}, hashtext($1))`, [
              lock.userKey,
            ]);
          }
          const result = await work(run, runner.manager);
          await runner.commitTransaction();
          return result;
        } catch (error) {
          if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
          throw error;
        }
      } finally {
        try {
          if (named !== undefined) await runner.query('SELECT RELEASE_LOCK(?)', [named]);
        } finally {
          await runner.release();
        }
      }
    });
  }

  private sql() {
    this.names ??= this.resolveNames();
    return this.names;
  }

  private resolveNames() {
    const { driver } = this.dataSource;
    const path = (target: SessionEntities[keyof SessionEntities]) =>
      this.dataSource
        .getMetadata(target)
        .tablePath.split('.')
        .map((part) => driver.escape(part))
        .join('.');
    const sessionMeta = this.dataSource.getMetadata(this.entities.session);
    const revocationMeta = this.dataSource.getMetadata(this.entities.revocation);
    const session = (property: string) =>
      driver.escape(sessionMeta.findColumnWithPropertyName(property)!.databaseName);
    const revocation = (property: string) =>
      driver.escape(revocationMeta.findColumnWithPropertyName(property)!.databaseName);
    return {
      sessions: path(this.entities.session),
      revocations: path(this.entities.revocation),
      handle: session('handle'),
      userKey: session('userKey'),
      createdAt: session('createdAt'),
      lastRefreshedAt: session('lastRefreshedAt'),
      lastActiveAt: session('lastActiveAt'),
      expiresAt: session('expiresAt'),
      revocationHandle: revocation('handle'),
      reason: revocation('reason'),
      revokedAt: revocation('revokedAt'),
      forgetAt: revocation('forgetAt'),
      /** A result alias under its property name, as the readers above expect it. */
      as: (alias: string) => driver.escape(alias),
    };
  }
}

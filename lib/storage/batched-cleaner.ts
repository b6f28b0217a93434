import type { DataSource, QueryRunner } from 'typeorm';

/**
 * A table whose due rows the cleaner removes (or clears) in batches. Register more with
 * {@link BatchedCleaner.register}: spent seals, revocation reasons, revocation-log entries.
 */
export interface CleanupTarget {
  /** Its key in {@link CleanupResult.rows}. */
  name: string;
  /** The table path as the database names it (`schema.table` where a schema is set), unescaped. */
  table: string;
  /** Its single-column primary key. */
  primaryKey: string;
  /**
   * An epoch-ms column: a row is due once it is > 0 and ≤ now. It must be indexed (the batches
   * are read by a range on it, never by a full scan).
   */
  expiryColumn: string;
  /**
   * Instead of deleting a due row, set these columns (column name → SQL literal), for example
   * `{ sealed_live_token: 'NULL', grace_until: '0' }`. Must take the row out of the due range.
   */
  clear?: Record<string, string>;
}

/** How a cleanup run paces itself. */
export interface CleanupBatching {
  /** Rows per statement. */
  batchSize: number;
  /** Pause between two batches, in milliseconds (lets the request path have the database). */
  pauseMs: number;
  /** Stops the run between two batches (module destroy). */
  signal?: AbortSignal;
  /** Longest wait for one statement (the lock included), in milliseconds; the run then fails. */
  statementTimeoutMs?: number;
}

/** What one run did; `ran: false` when another instance held the cleanup lock (nothing done). */
export interface CleanupResult {
  ran: boolean;
  /** Rows removed or cleared, by target name. */
  rows: Record<string, number>;
  batches: number;
}

export const DEFAULT_CLEANUP_BATCHING: CleanupBatching = { batchSize: 1000, pauseMs: 100 };

const isMysql = (type: string) => type === 'mysql' || type === 'mariadb';

/**
 * Removes due rows of its targets in bounded batches, on one instance at a time.
 * - One instance: a database lock taken without waiting (MySQL/MariaDB `GET_LOCK(name, 0)`,
 *   PostgreSQL `pg_try_advisory_lock`) on one connection that runs the whole run; an instance
 *   that does not get it skips this run. SQLite (sql.js) lives in one process: no lock.
 * - Bounded batches by primary key: each batch reads up to `batchSize` primary keys of due rows by
 *   a range on the (indexed) expiry column, a plain read that locks nothing, then deletes exactly
 *   those rows by primary key, re-checking that they are still due. Only rows that are already
 *   expired are locked, and only for one short statement: a live session's refresh never waits
 *   on the cleanup (a range `DELETE … WHERE expires_at <= ?` would lock index ranges and, in
 *   REPEATABLE READ, every row it scans).
 * - A pause between batches; the run stops between batches when `signal` aborts.
 * Each statement is bounded by `statementTimeoutMs` (the engine passes `databaseTimeout`), not the run.
 */
export class BatchedCleaner {
  private readonly targets: CleanupTarget[] = [];
  private running = false;

  constructor(
    private readonly dataSource: DataSource,
    /** Names the lock: instances cleaning the same tables share it. */
    private readonly lockKey: string,
  ) {}

  /** Adds a table to every following run (in registration order). */
  register(target: CleanupTarget): void {
    this.targets.push(target);
  }

  /**
   * One run over every target, each until no due row is left (`now`: epoch ms on the app's clock,
   * as the rows' times are).
   * @throws the driver's error when a statement fails (the lock is released first).
   */
  async run(now: number, batching: CleanupBatching = DEFAULT_CLEANUP_BATCHING): Promise<CleanupResult> {
    const result: CleanupResult = { ran: false, rows: {}, batches: 0 };
    if (this.running) return result;
    this.running = true;
    const runner = this.dataSource.createQueryRunner();
    const locking = this.lock(runner);
    // Unlocks and releases the connection; after a timed-out statement it runs in the background,
    // once the statement ends, so a connection never returns to the pool holding the lock.
    const finish = async () => {
      try {
        if (await locking.catch(() => false)) await this.unlock(runner);
      } finally {
        this.running = false;
        await runner.release();
      }
    };
    try {
      result.ran = await this.bounded(locking, batching);
      const query = (sql: string, parameters: unknown[], raw = false) =>
        this.bounded(raw ? runner.query(sql, parameters, true) : runner.query(sql, parameters), batching);
      for (const target of result.ran ? this.targets : []) {
        result.rows[target.name] = await this.clean(query, target, now, batching, result);
      }
    } catch (error) {
      void finish().catch(() => undefined);
      throw error;
    }
    await finish();
    return result;
  }

  /** A statement within `statementTimeoutMs`, when set. */
  private async bounded<T>(statement: Promise<T>, { statementTimeoutMs }: CleanupBatching): Promise<T> {
    if (statementTimeoutMs === undefined) return statement;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`cleanup statement without an answer within ${statementTimeoutMs} ms`)),
        statementTimeoutMs,
      );
    });
    try {
      return await Promise.race([statement, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async clean(
    query: (sql: string, parameters: unknown[], raw?: boolean) => Promise<any>,
    target: CleanupTarget,
    now: number,
    { batchSize, pauseMs, signal }: CleanupBatching,
    result: CleanupResult,
  ): Promise<number> {
    const { driver } = this.dataSource;
    const table = target.table
      .split('.')
      .map((part) => driver.escape(part))
      .join('.');
    const key = driver.escape(target.primaryKey);
    const expiry = driver.escape(target.expiryColumn);
    const select =
      `SELECT ${key} AS ${driver.escape('id')}, ${expiry} AS ${driver.escape('due')} FROM ${table} ` +
      `WHERE ${expiry} >= ${driver.createParameter('p0', 0)} AND ${expiry} <= ${driver.createParameter('p1', 1)} ` +
      `ORDER BY ${expiry} LIMIT ${Math.trunc(batchSize)}`;
    const set = target.clear
      ? Object.entries(target.clear)
          .map(([column, value]) => `${driver.escape(column)} = ${value}`)
          .join(', ')
      : undefined;
    let done = 0;
    // Rows that share the last batch's expiry may be left: the next batch starts at that expiry.
    let from = 1;
    for (;;) {
      if (signal?.aborted) return done;
      const rows = (await query(select, [from, now])) as { id: string; due: unknown }[];
      if (rows.length === 0) return done;
      const ids = rows.map((row) => row.id);
      const list = ids.map((_, i) => driver.createParameter(`p${i}`, i)).join(', ');
      const bound = driver.createParameter(`p${ids.length}`, ids.length);
      const condition = `${key} IN (${list}) AND ${expiry} > 0 AND ${expiry} <= ${bound}`;
      const sql = set
        ? `UPDATE ${table} SET ${set} WHERE ${condition}`
        : `DELETE FROM ${table} WHERE ${condition}`;
      const written = await query(sql, [...ids, now], true);
      const affected = Number(written.affected ?? 0);
      done += affected;
      result.batches++;
      const last = Number(rows[rows.length - 1].due);
      // Nothing changed (rows changed under us): step past this expiry, so the run always ends.
      from = affected === 0 ? last + 1 : last;
      if (rows.length < batchSize) return done;
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  private async lock(runner: QueryRunner): Promise<boolean> {
    const type = this.dataSource.options.type;
    if (isMysql(type)) {
      const [row] = await runner.query(`SELECT GET_LOCK(${this.mysqlLockName()}, 0) AS acquired`, [
        this.lockKey,
      ]);
      return Number(row?.acquired) === 1;
    }
    if (type === 'postgres') {
      const [row] = await runner.query('SELECT pg_try_advisory_lock(hashtext($1)) AS acquired', [
        this.lockName(),
      ]);
      return row?.acquired === true;
    }
    return true;
  }

  private async unlock(runner: QueryRunner): Promise<void> {
    const type = this.dataSource.options.type;
    if (isMysql(type)) {
      await runner.query(`SELECT RELEASE_LOCK(${this.mysqlLockName()})`, [this.lockKey]);
    } else if (type === 'postgres') {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [this.lockName()]);
    }
  }

  /** `GET_LOCK` names are server-wide and at most 64 characters: the database and key, hashed. */
  private mysqlLockName(): string {
    return `CONCAT('nts-cleanup:', MD5(CONCAT(DATABASE(), '.', ?)))`;
  }

  /** PostgreSQL advisory locks are per database already. */
  private lockName(): string {
    return `nts-cleanup:${this.lockKey}`;
  }
}

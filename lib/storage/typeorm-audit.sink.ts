import { randomBytes } from 'node:crypto';
import type { DataSource, Repository } from 'typeorm';
import type { SessionAuditEvent, SessionAuditSink } from '../interfaces/observability-options.interface.js';
import type { SessionTableNames } from '../interfaces/session-options.interface.js';
import { AUDIT_COLUMN_LENGTHS, type SessionAuditRow } from './session-audit.entity.js';
import { createSessionEntities } from './session.entities.js';

const SECOND = 1000;

/** Options of {@link TypeOrmAuditSink}. */
export interface TypeOrmAuditSinkOptions {
  /** The module's table names (the `tables` extra), if it has its own. */
  tables?: SessionTableNames;
  /**
   * How long rows are kept, in seconds.
   * @default 7776000 (90 days)
   */
  retention?: number;
  /**
   * How often rows older than `retention` are removed, in seconds (0 turns it off; the timer never
   * keeps the process alive).
   * @default 3600
   */
  cleanupInterval?: number;
  /**
   * Rows removed per statement, so a cleanup never holds long locks.
   * @default 1000
   */
  cleanupBatchSize?: number;
}

let counter = 0;

/** A time-ordered id: epoch ms (12 hex digits), a per-process counter, random digits. */
function auditId(time: number): string {
  counter = (counter + 1) % 0x1000000;
  const ms = Math.max(0, Math.floor(time)).toString(16).padStart(12, '0').slice(-12);
  return `${ms}${counter.toString(16).padStart(6, '0')}${randomBytes(7).toString('hex')}`;
}

const cut = (value: string | undefined, length: number) =>
  value === undefined ? null : value.length > length ? value.slice(0, length) : value;

/** The row of an audit event (values longer than their column are cut). */
export function auditRowOf(event: SessionAuditEvent): SessionAuditRow {
  const details = Object.keys(event.details).length > 0 ? JSON.stringify(event.details) : null;
  return {
    id: auditId(event.time),
    occurredAt: event.time,
    type: cut(event.type, AUDIT_COLUMN_LENGTHS.type)!,
    sessionHandle: cut(event.sessionHandle, AUDIT_COLUMN_LENGTHS.sessionHandle),
    userId: cut(event.userId, AUDIT_COLUMN_LENGTHS.userId),
    ip: cut(event.ip, AUDIT_COLUMN_LENGTHS.ip),
    userAgent: cut(event.userAgent, AUDIT_COLUMN_LENGTHS.userAgent),
    actor: cut(event.actor, AUDIT_COLUMN_LENGTHS.actor),
    reason: cut(event.reason, AUDIT_COLUMN_LENGTHS.reason),
    details,
  };
}

/**
 * An audit sink writing to the audit table (`session_audit`, created by the session migrations) on
 * a TypeORM data source holding the session entities: one multi-row INSERT per batch. Rows older
 * than `retention` are removed in the background, in batches.
 * @example
 * ```ts
 * SessionModule.forRootAsync({
 *   inject: [DataSource],
 *   useFactory: (dataSource: DataSource) => ({ secret, audit: { sink: new TypeOrmAuditSink(dataSource) } }),
 * });
 * ```
 */
export class TypeOrmAuditSink implements SessionAuditSink {
  private readonly retentionMs: number;
  private readonly batchSize: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private cleanupRun: Promise<unknown> | undefined;
  private readonly entity: ReturnType<typeof createSessionEntities>['audit'];

  constructor(
    private readonly dataSource: DataSource,
    options: TypeOrmAuditSinkOptions = {},
  ) {
    this.entity = createSessionEntities(options.tables).audit;
    this.retentionMs = (options.retention ?? 7_776_000) * SECOND;
    this.batchSize = options.cleanupBatchSize ?? 1000;
    const interval = options.cleanupInterval ?? 3600;
    if (interval > 0) {
      this.timer = setInterval(() => {
        this.cleanupRun ??= this.removeExpired()
          .catch(() => undefined)
          .finally(() => (this.cleanupRun = undefined));
      }, interval * SECOND);
      this.timer.unref();
    }
  }

  private get repository(): Repository<SessionAuditRow> {
    return this.dataSource.getRepository(this.entity);
  }

  async write(events: readonly SessionAuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.repository.createQueryBuilder().insert().values(events.map(auditRowOf)).execute();
  }

  /**
   * Removes rows older than `retention` (before `now`, epoch ms), `cleanupBatchSize` at a time;
   * returns how many.
   */
  async removeExpired(now = Date.now()): Promise<number> {
    const cutoff = now - this.retentionMs;
    let removed = 0;
    for (;;) {
      const rows: { id: string }[] = await this.repository
        .createQueryBuilder('audit')
        .select('audit.id', 'id')
        .where('audit.occurredAt < :cutoff', { cutoff })
        .orderBy('audit.occurredAt', 'ASC')
        .limit(this.batchSize)
        .getRawMany();
      if (rows.length === 0) return removed;
      await this.repository.delete(rows.map((row) => row.id));
      removed += rows.length;
      if (rows.length < this.batchSize) return removed;
    }
  }

  /** Stops the cleanup timer and waits for a cleanup in flight. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.cleanupRun;
  }
}

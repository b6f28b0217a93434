import {
  EntitySchema,
  In,
  LessThanOrEqual,
  MoreThan,
  Not,
  type DataSource,
  type EntityManager,
} from 'typeorm';
import { millisColumnOptions as millis } from './session-row.js';
import type { SessionEntities } from './session.entities.js';
import type { RevocationEntry, RevocationLogReader, RevocationSink } from './revocation-log.port.js';

export type { RevocationEntry } from './revocation-log.port.js';

/** Default table name of the revocation log. */
export const DEFAULT_REVOCATION_LOG_TABLE = 'session_revocation_log';

/** The entity of the revocation log under `tableName`. */
export function createRevocationLogEntity(
  entityName: string,
  tableName: string,
): EntitySchema<RevocationEntry> {
  // One instance per name, whatever the other tables are called: TypeORM must not see two
  // entities of one table (autoLoadEntities collects every registration of the process).
  const cached = entityCache.get(entityName);
  if (cached) return cached;
  const entity = new EntitySchema<RevocationEntry>({
    name: entityName,
    tableName,
    columns: {
      id: {
        type: 'integer',
        primary: true,
        generated: 'increment',
        transformer: { to: (value: unknown) => value, from: (value: unknown) => Number(value) },
      },
      kind: { type: 'varchar', length: 16 },
      subject: { type: 'varchar', length: 128 },
      userKey: { type: 'varchar', length: 64, name: 'user_key', nullable: true },
      value: { ...millis('value'), nullable: true },
      cause: { type: 'varchar', length: 24 },
      reason: { type: 'varchar', length: 255, nullable: true },
      createdAt: millis('created_at'),
    },
    indices: [{ name: `IDX_${tableName}_created_at`, columns: ['createdAt'] }],
  });
  entityCache.set(entityName, entity);
  return entity;
}

const entityCache = new Map<string, EntitySchema<RevocationEntry>>();

/** Operations the engine runs through the plain `deleteSession`, told apart by their built-in reason. */
const CAUSE_OF_REASON: Record<string, string> = {
  theft: 'theft',
  'impersonation-ended': 'impersonation-ended',
};

/**
 * The logged cause of a deletion: theft and an ended impersonation delete by handle with their own
 * reason; logged under their operation, the other instances' `session.revoked` names it as this
 * instance's does. (Without reasons, `revocationReasonRetention: 0`, they log as `'revoke'`.)
 */
function causeOf(cause: string, reason: string | null): string {
  return cause === 'revoke' && reason !== null ? (CAUSE_OF_REASON[reason] ?? cause) : cause;
}

/** A row of a deletion: the session and its user. */
interface Doomed {
  handle: string;
  userKey: string;
}

/**
 * The revocation log on a TypeORM data source. While inactive (no `revocation` option), the store's
 * revoking calls run as before; once active, each deletes the rows it revokes and logs them in one
 * transaction, then hands the committed entries to the sink (the bus publishes them).
 */
export class TypeOrmRevocationLog implements RevocationLogReader {
  private sink: RevocationSink | undefined;
  private retention = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly entities: SessionEntities,
    private readonly now: () => number = Date.now,
  ) {}

  get active(): boolean {
    return this.sink !== undefined;
  }

  activate(sink: RevocationSink, retention: number): void {
    this.sink = sink;
    this.retention = retention;
  }

  async read(afterId: number, since: number, limit: number): Promise<RevocationEntry[]> {
    return this.dataSource.getRepository(this.entities.revocationLog).find({
      where: { id: MoreThan(afterId), createdAt: MoreThan(since) },
      order: { id: 'ASC' },
      take: limit,
    });
  }

  connectionSettings(): Record<string, unknown> & { type: string } {
    return {
      ...(this.dataSource.options as unknown as Record<string, unknown>),
      type: this.dataSource.options.type,
    };
  }

  /**
   * Deletes the sessions `where` selects and logs one `session` entry per deleted row, in one
   * transaction; returns how many were deleted. Deleting by the selected handles (not by `where`
   * again) means no row is deleted without its entry, whatever commits meanwhile.
   */
  async deleteSessions(
    where: { handle?: string; userKey?: string; exceptHandle?: string },
    cause: string,
    reason: string | null = null,
    /** More writes of the same revocation (its reasons), in the same transaction. */
    within?: (manager: EntityManager, handles: string[]) => Promise<void>,
  ): Promise<number> {
    const entries = await this.dataSource.transaction(async (manager) => {
      const sessions = manager.getRepository(this.entities.session);
      const doomed: Doomed[] = await sessions.find({
        select: { handle: true, userKey: true },
        where: {
          ...(where.handle !== undefined ? { handle: where.handle } : {}),
          ...(where.userKey !== undefined ? { userKey: where.userKey } : {}),
          ...(where.exceptHandle !== undefined ? { handle: Not(where.exceptHandle) } : {}),
        },
      });
      if (doomed.length === 0) return [];
      const handles = doomed.map((row) => row.handle);
      const result = await sessions.delete({ handle: In(handles) });
      if ((result.affected ?? handles.length) === 0) return [];
      await within?.(manager, handles);
      return this.insert(
        manager,
        doomed.map((row) => ({
          kind: 'session',
          subject: row.handle,
          userKey: row.userKey,
          value: null,
          cause: causeOf(cause, reason),
          reason,
        })),
      );
    });
    this.publish(entries);
    return entries.length;
  }

  /** Logs entries (key retirements, payload-version bumps) inside `manager`'s transaction. */
  async insert(
    manager: EntityManager,
    entries: Omit<RevocationEntry, 'id' | 'createdAt'>[],
  ): Promise<RevocationEntry[]> {
    const createdAt = this.now();
    const rows: RevocationEntry[] = entries.map((entry) => ({ ...entry, createdAt }));
    // One row per statement: every driver then reports the row's own id.
    for (const row of rows) {
      const result = await manager.getRepository(this.entities.revocationLog).insert({ ...row });
      const id = result.identifiers[0]?.id;
      if (id !== undefined && id !== null) row.id = Number(id);
    }
    return rows;
  }

  /** Runs `work` in a transaction that also logs what it returns, then publishes the entries. */
  async logged<T>(
    work: (
      manager: EntityManager,
    ) => Promise<{ result: T; entries: Omit<RevocationEntry, 'id' | 'createdAt'>[] }>,
  ): Promise<T> {
    const { result, entries } = await this.dataSource.transaction(async (manager) => {
      const done = await work(manager);
      return { result: done.result, entries: await this.insert(manager, done.entries) };
    });
    this.publish(entries);
    return result;
  }

  /**
   * Runs `update` (a payload change's compare-and-set) in a transaction that logs, when it changed
   * the row, a `payload-version` entry: tokens of session `handle` minted below `version` are stale.
   */
  payloadVersionChanged(
    handle: string,
    version: number,
    update: (manager: EntityManager) => Promise<boolean>,
  ): Promise<boolean> {
    return this.logged(async (manager) => {
      const changed = await update(manager);
      const entry = { kind: 'payload-version', subject: handle, userKey: null, value: version } as const;
      return {
        result: changed,
        entries: changed ? [{ ...entry, cause: 'payload-changed', reason: null }] : [],
      };
    });
  }

  /** Removes entries older than the retention (no token they name can still be accepted). */
  async deleteExpired(now: number): Promise<void> {
    if (!this.active) return;
    await this.dataSource
      .getRepository(this.entities.revocationLog)
      .delete({ createdAt: LessThanOrEqual(now - this.retention) });
  }

  /** Hands entries logged in a transaction of the caller's to the bus, once it has committed. */
  publish(entries: RevocationEntry[]): void {
    if (entries.length > 0) this.sink?.(entries);
  }
}

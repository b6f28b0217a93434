import { EntitySchema } from 'typeorm';
import { millisColumnOptions as millis } from './session-row.js';

/** One row of the audit table (see `TypeOrmAuditSink`). */
export interface SessionAuditRow {
  /** Time-ordered id: 12 hex digits of epoch ms, then a counter and random digits. */
  id: string;
  /** Epoch milliseconds. */
  occurredAt: number;
  type: string;
  sessionHandle: string | null;
  userId: string | null;
  ip: string | null;
  userAgent: string | null;
  actor: string | null;
  reason: string | null;
  /** The event's other fields as JSON text. */
  details: string | null;
}

/** Column lengths of the audit table: longer values are cut to fit. */
export const AUDIT_COLUMN_LENGTHS = {
  type: 64,
  sessionHandle: 32,
  userId: 255,
  ip: 64,
  userAgent: 512,
  actor: 255,
  reason: 255,
} as const;

const nullable = (name: string, length: number) => ({
  type: 'varchar' as const,
  length,
  name,
  nullable: true,
});

const cache = new Map<string, EntitySchema<SessionAuditRow>>();

/**
 * The audit table's entity schema: one instance per table name whatever the other tables' names,
 * as TypeORM needs (`autoLoadEntities` gathers every registration of a process).
 */
export function createSessionAuditEntity(
  entityName: string,
  tableName: string,
): EntitySchema<SessionAuditRow> {
  const cached = cache.get(entityName);
  if (cached) return cached;
  const entity = new EntitySchema<SessionAuditRow>({
    name: entityName,
    tableName,
    columns: {
      id: { type: 'varchar', length: 32, primary: true },
      occurredAt: millis('occurred_at'),
      type: { type: 'varchar', length: AUDIT_COLUMN_LENGTHS.type },
      sessionHandle: nullable('session_handle', AUDIT_COLUMN_LENGTHS.sessionHandle),
      userId: nullable('user_id', AUDIT_COLUMN_LENGTHS.userId),
      ip: nullable('ip', AUDIT_COLUMN_LENGTHS.ip),
      userAgent: nullable('user_agent', AUDIT_COLUMN_LENGTHS.userAgent),
      actor: nullable('actor', AUDIT_COLUMN_LENGTHS.actor),
      reason: nullable('reason', AUDIT_COLUMN_LENGTHS.reason),
      details: { type: 'text', nullable: true },
    },
    indices: [
      { name: `IDX_${tableName}_occurred_at`, columns: ['occurredAt'] },
      { name: `IDX_${tableName}_user_id`, columns: ['userId'] },
    ],
  });
  cache.set(entityName, entity);
  return entity;
}

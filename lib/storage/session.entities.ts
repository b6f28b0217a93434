import { EntitySchema } from 'typeorm';
import type { SessionTableNames } from '../interfaces/session-options.interface.js';
import { DEFAULT_REVOCATION_LOG_TABLE, createRevocationLogEntity } from './revocation-log.js';
import type { RevocationEntry } from './revocation-log.port.js';
import { SESSION_ROW, entityColumnOptions, millisColumnOptions as millis } from './session-row.js';
import type { Revocation, SessionRecord } from './session-store.js';
import type { StoredSigningKey } from './signing-key-store.js';
import { createSessionAuditEntity, type SessionAuditRow } from './session-audit.entity.js';

/** Default table names. */
export const DEFAULT_TABLE_NAMES: Required<SessionTableNames> = {
  sessions: 'session_info',
  signingKeys: 'session_signing_keys',
  audit: 'session_audit',
  revocations: 'session_revocations',
  revocationLog: DEFAULT_REVOCATION_LOG_TABLE,
};

/** The session entities of one table naming. */
export interface SessionEntities {
  session: EntitySchema<SessionRecord>;
  signingKey: EntitySchema<StoredSigningKey>;
  /** The revocation log (written only with the `revocation` option). */
  revocationLog: EntitySchema<RevocationEntry>;
  /** The audit trail written by `TypeOrmAuditSink` (empty unless one is configured). */
  audit: EntitySchema<SessionAuditRow>;
  /** Revocation reasons kept for the revoked sessions' holders (migration 1764720000000). */
  revocation: EntitySchema<StoredRevocation>;
}

/** A revocation row: {@link Revocation} of one session handle. */
export interface StoredRevocation extends Revocation {
  handle: string;
}

const cache = new Map<string, SessionEntities>();
const revocationCache = new Map<string, EntitySchema<StoredRevocation>>();

/**
 * The revocation entity of one table name, shared by every naming that uses it (session tables of
 * their own may share one revocation table: handles are unique), so TypeORM sees it once.
 */
function revocationEntity(tableName: string, entityName: string): EntitySchema<StoredRevocation> {
  let entity = revocationCache.get(tableName);
  if (!entity) {
    entity = new EntitySchema<StoredRevocation>({
      name: entityName,
      tableName,
      columns: {
        handle: { type: 'varchar', length: 32, primary: true },
        reason: { type: 'varchar', length: 64 },
        revokedAt: millis('revoked_at'),
        forgetAt: millis('forget_at'),
      },
      indices: [{ name: `IDX_${tableName}_forget_at`, columns: ['forgetAt'] }],
    });
    revocationCache.set(tableName, entity);
  }
  return entity;
}

/** The entity names (TypeORM targets) of one table naming; naming strategies receive them. */
export function sessionEntityNames(names: Required<SessionTableNames>): Required<SessionTableNames> {
  return {
    sessions: `NtsSession_${names.sessions}`,
    signingKeys: `NtsSigningKey_${names.signingKeys}`,
    audit: `NtsAudit_${names.audit}`,
    revocations: `NtsRevocation_${names.revocations}`,
    revocationLog: `NtsRevocationLog_${names.revocationLog}`,
  };
}

/**
 * The entity schemas for the given table names (the same instances for the same names, as
 * TypeORM needs). List them in your data source, or rely on `autoLoadEntities: true`.
 */
export function createSessionEntities(tables: SessionTableNames = {}): SessionEntities {
  const names = { ...DEFAULT_TABLE_NAMES, ...tables };
  const cacheKey = [
    names.sessions,
    names.signingKeys,
    names.audit,
    names.revocations,
    names.revocationLog,
  ].join('\u0000');
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const entityNames = sessionEntityNames(names);
  const entities: SessionEntities = {
    session: new EntitySchema<SessionRecord>({
      name: entityNames.sessions,
      tableName: names.sessions,
      columns: Object.fromEntries(SESSION_ROW.map((entry) => [entry.property, entityColumnOptions(entry)])),
      indices: [
        { name: `IDX_${names.sessions}_expires_at`, columns: ['expiresAt'] },
        // SessionHotPathIndexes1764979200000 replaced the `user_key` index with these.
        { name: `IDX_${names.sessions}_user_created`, columns: ['userKey', 'createdAt', 'handle'] },
        { name: `IDX_${names.sessions}_grace_until`, columns: ['graceUntil'] },
      ],
    }),
    signingKey: new EntitySchema<StoredSigningKey>({
      name: entityNames.signingKeys,
      tableName: names.signingKeys,
      columns: {
        kid: { type: 'varchar', length: 128, primary: true },
        algorithm: { type: 'varchar', length: 16 },
        material: { type: 'text' },
        createdAt: millis('created_at'),
        usableFrom: millis('usable_from'),
        signUntil: millis('sign_until'),
        verifyUntil: millis('verify_until'),
      },
      indices: [{ name: `IDX_${names.signingKeys}_verify_until`, columns: ['verifyUntil'] }],
    }),
    audit: createSessionAuditEntity(entityNames.audit, names.audit),
    revocation: revocationEntity(names.revocations, entityNames.revocations),
    revocationLog: createRevocationLogEntity(entityNames.revocationLog, names.revocationLog),
  };
  cache.set(cacheKey, entities);
  return entities;
}

/** The entity schemas with the default table names. */
export const sessionEntities = Object.values(createSessionEntities());

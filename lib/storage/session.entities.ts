import { EntitySchema } from 'typeorm';
import type { SessionTableNames } from '../interfaces/session-options.interface.js';
import { SESSION_ROW, entityColumnOptions, millisColumnOptions as millis } from './session-row.js';
import type { SessionRecord } from './session-store.js';
import type { StoredSigningKey } from './signing-key-store.js';

/** Default table names. */
export const DEFAULT_TABLE_NAMES: Required<SessionTableNames> = {
  sessions: 'session_info',
  signingKeys: 'session_signing_keys',
};

/** The session entities of one table naming. */
export interface SessionEntities {
  session: EntitySchema<SessionRecord>;
  signingKey: EntitySchema<StoredSigningKey>;
}

const cache = new Map<string, SessionEntities>();

/** The entity names (TypeORM targets) of one table naming; naming strategies receive them. */
export function sessionEntityNames(names: Required<SessionTableNames>): Required<SessionTableNames> {
  return { sessions: `NtsSession_${names.sessions}`, signingKeys: `NtsSigningKey_${names.signingKeys}` };
}

/**
 * The entity schemas for the given table names (the same instances for the same names, as
 * TypeORM needs). List them in your data source, or rely on `autoLoadEntities: true`.
 */
export function createSessionEntities(tables: SessionTableNames = {}): SessionEntities {
  const names = { ...DEFAULT_TABLE_NAMES, ...tables };
  const cacheKey = `${names.sessions}\u0000${names.signingKeys}`;
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
  };
  cache.set(cacheKey, entities);
  return entities;
}

/** The entity schemas with the default table names. */
export const sessionEntities = Object.values(createSessionEntities());

import { EntitySchema, type ValueTransformer } from 'typeorm';
import type { SessionTableNames } from '../interfaces/session-options.interface.js';
import type { RefreshAncestor, SessionRecord } from './session-store.js';
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

// MySQL and PostgreSQL return BIGINT as a string; epoch milliseconds fit a double exactly.
const bigintAsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

const jsonArray: ValueTransformer = {
  to: (value: RefreshAncestor[]) => JSON.stringify(value),
  from: (value: string) => JSON.parse(value) as RefreshAncestor[],
};

const millis = (name: string, nullable = false) =>
  ({ type: 'bigint', name, nullable, transformer: bigintAsNumber }) as const;

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
      columns: {
        handle: { type: 'varchar', length: 32, primary: true },
        userKey: { type: 'varchar', length: 64, name: 'user_key' },
        userId: { type: 'varchar', length: 255, name: 'user_id' },
        userIdType: { type: 'varchar', length: 6, name: 'user_id_type' },
        refreshHash: { type: 'varchar', length: 64, name: 'refresh_hash' },
        generation: { type: 'int' },
        ancestors: { type: 'text', transformer: jsonArray },
        sealedLiveToken: { type: 'text', name: 'sealed_live_token', nullable: true },
        graceUntil: millis('grace_until'),
        sessionData: { type: 'text', name: 'session_data' },
        jwtPayload: { type: 'text', name: 'jwt_payload' },
        accessTokenValidity: { type: 'int', name: 'access_token_validity', nullable: true },
        createdAt: millis('created_at'),
        lastRefreshedAt: millis('last_refreshed_at'),
        expiresAt: millis('expires_at'),
        absoluteExpiresAt: millis('absolute_expires_at', true),
      },
      indices: [
        { name: `IDX_${names.sessions}_user_key`, columns: ['userKey'] },
        { name: `IDX_${names.sessions}_expires_at`, columns: ['expiresAt'] },
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

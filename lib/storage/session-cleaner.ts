import type { DataSource } from 'typeorm';
import { BatchedCleaner } from './batched-cleaner.js';
import type { SessionEntities } from './session.entities.js';

/**
 * The session tables' cleaner: expired sessions, then seals past their grace period (cleared, the
 * row stays), signing keys past their verification and forgotten revocation reasons. Other tables
 * join with `register(...)`.
 */
export function createSessionCleaner(dataSource: DataSource, entities: SessionEntities): BatchedCleaner {
  const name = (entity: SessionEntities[keyof SessionEntities], property: string) =>
    dataSource.getMetadata(entity).findColumnWithPropertyName(property)!.databaseName;
  const sessions = dataSource.getMetadata(entities.session).tablePath;
  const cleaner = new BatchedCleaner(dataSource, sessions);
  const handle = name(entities.session, 'handle');
  cleaner.register({
    name: 'sessions',
    table: sessions,
    primaryKey: handle,
    expiryColumn: name(entities.session, 'expiresAt'),
  });
  // The live token is kept sealed only while a rotated token may still be replayed.
  cleaner.register({
    name: 'seals',
    table: sessions,
    primaryKey: handle,
    expiryColumn: name(entities.session, 'graceUntil'),
    clear: {
      [name(entities.session, 'sealedLiveToken')]: 'NULL',
      [name(entities.session, 'ancestors')]: "'[]'",
      [name(entities.session, 'graceUntil')]: '0',
    },
  });
  cleaner.register({
    name: 'signingKeys',
    table: dataSource.getMetadata(entities.signingKey).tablePath,
    primaryKey: name(entities.signingKey, 'kid'),
    expiryColumn: name(entities.signingKey, 'verifyUntil'),
  });
  // Revocation reasons, once forgotten.
  cleaner.register({
    name: 'revocationReasons',
    table: dataSource.getMetadata(entities.revocation).tablePath,
    primaryKey: name(entities.revocation, 'handle'),
    expiryColumn: name(entities.revocation, 'forgetAt'),
  });
  return cleaner;
}

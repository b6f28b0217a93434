import { SignJWT, type JWK } from 'jose';
import { randomBytes } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { SqljsDriver } from 'typeorm/driver/sqljs/SqljsDriver.js';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSessionMigrations, type CreatedSession } from '../../lib/index.js';
import { rejectsWith } from '../support/assertions.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from '../support/databases.js';
import { createEngineApp } from '../support/engine-app.js';
import { FakeClock } from '../support/fake-clock.js';

const databases = await reachableDatabases();

/** The session columns as the migrations before AddSessionClaimColumns1764547200000 created them. */
const OLD_COLUMNS = [
  'handle',
  'user_key',
  'user_id',
  'user_id_type',
  'refresh_hash',
  'generation',
  'ancestors',
  'sealed_live_token',
  'grace_until',
  'session_data',
  'jwt_payload',
  'access_token_validity',
  'created_at',
  'last_refreshed_at',
  'expires_at',
  'absolute_expires_at',
];

// Static keys: a token signed before the upgrade verifies after it without carrying the key ring over.
const jwk: JWK = { kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'upgrade-key', alg: 'HS256' };
const options = { accessToken: { signingKey: { keys: [jwk] } }, cleanupInterval: 0 };

describe.each(databases)('upgrading live sessions across AddSessionClaimColumns on %s', (kind) => {
  const clock = new FakeClock();
  const sessions: CreatedSession[] = [];
  let rows: Record<string, unknown>[] = [];
  /** An access token as 0.1.0 signed it: no payload version, no auth_time. */
  let legacyToken: string;

  beforeAll(async () => {
    // The rows of live sessions, as the versions before this migration wrote them.
    const template = await createTestDatabase('sqlite');
    const app = await createEngineApp(template.options, options, clock);
    try {
      sessions.push(await app.engine.createNewSession('dino🦕', { role: 'reader' }, { pet: '🦕' }));
      sessions.push(await app.engine.createNewSession(42, { role: 'admin' }));
      // One past a rotation, its ancestor inside the grace period.
      const refreshed = await app.engine.refreshSession(sessions[1].refreshToken.value);
      sessions[1] = {
        ...sessions[1],
        refreshToken: refreshed.newRefreshToken,
        accessToken: refreshed.newAccessToken,
      };
      rows = await app.dataSource.query(`SELECT ${OLD_COLUMNS.join(', ')} FROM session_info`);
    } finally {
      await app.close();
      await template.drop();
    }
    const now = Math.floor(clock.now() / 1000);
    legacyToken = await new SignJWT({ sid: sessions[0].session.handle, gen: 1, pld: { role: 'reader' } })
      .setProtectedHeader({ alg: 'HS256', kid: 'upgrade-key', typ: 'at+jwt' })
      .setSubject('dino🦕')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(Buffer.from(jwk.k!, 'base64url'));
  });
  let database: TestDatabase;
  beforeEach(async () => {
    database = await createTestDatabase(kind);
  });
  afterEach(async () => {
    await database?.drop();
  });

  it.each([
    ['the first migration', 1],
    ['the first two migrations', 2],
  ])('keeps them working after %s: get, checkDatabase, refresh, merge, revoke', async (_, shipped) => {
    const old = new DataSource({
      ...database.options,
      migrations: createSessionMigrations().slice(0, shipped),
    } as DataSourceOptions);
    await old.initialize();
    let saved: { database?: Uint8Array } = {};
    try {
      await old.runMigrations();
      const parameters = OLD_COLUMNS.map((_, index) => old.driver.createParameter(`p${index}`, index));
      for (const row of rows) {
        await old.query(
          `INSERT INTO session_info (${OLD_COLUMNS.join(', ')}) VALUES (${parameters.join(', ')})`,
          OLD_COLUMNS.map((column) => row[column]),
        );
      }
      if (kind === 'sqlite') saved = { database: (old.driver as SqljsDriver).export() };
    } finally {
      await old.destroy();
    }

    const app = await createEngineApp({ ...database.options, ...saved } as DataSourceOptions, options, clock);
    try {
      const { engine, dataSource } = app;
      const migrations = await dataSource.query('SELECT name FROM migrations ORDER BY name');
      expect(migrations.map((row: { name: string }) => row.name)).toContain(
        'AddSessionClaimColumns1764547200000',
      );
      const [dino, numeric] = sessions;
      // Tokens of before the upgrade, and one from before this version, still verify on a database check.
      for (const token of [dino.accessToken.value, legacyToken, numeric.accessToken.value]) {
        await expect(engine.getSession(token, null, { checkDatabase: true })).resolves.toBeTruthy();
      }
      expect(await engine.getSessionData(dino.session.handle)).toEqual({ pet: '🦕' });
      // A payload change from version 1 (NULL in the row) sends the older tokens to refresh.
      expect(await engine.mergeIntoAccessTokenPayload(dino.session.handle, { role: 'editor' })).toBe(true);
      await rejectsWith(engine.getSession(legacyToken, null, { checkDatabase: true }), 'TRY_REFRESH_TOKEN');
      const refreshed = await engine.refreshSession(dino.refreshToken.value);
      expect(refreshed.session).toEqual({
        handle: dino.session.handle,
        userId: 'dino🦕',
        jwtPayload: { role: 'editor' },
      });
      await engine.getSession(refreshed.newAccessToken.value, null, { checkDatabase: true });
      // The rotated one refreshes and revokes as before.
      const again = await engine.refreshSession(numeric.refreshToken.value);
      expect(again.session).toEqual({
        handle: numeric.session.handle,
        userId: 42,
        jwtPayload: { role: 'admin' },
      });
      expect(await engine.revokeSessionUsingSessionHandle(numeric.session.handle)).toBe(true);
      await rejectsWith(engine.refreshSession(again.newRefreshToken.value), 'UNAUTHORISED');
    } finally {
      await app.close();
    }
  });
});

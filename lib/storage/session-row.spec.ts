import { describe, expect, it } from 'vitest';
import { SESSION_ROW, decodeRow, encodeRow, entityColumnOptions, sessionColumns } from './session-row.js';
import type { SessionRecord } from './session-store.js';

const record: SessionRecord = {
  handle: 'a'.repeat(32),
  userKey: 'b'.repeat(64),
  userId: '42',
  userIdType: 'number',
  refreshHash: 'c'.repeat(64),
  generation: 3,
  ancestors: [{ hash: 'd'.repeat(64), generation: 2, rotatedAt: 1_700_000_000_000 }],
  sealedLiveToken: 'sealed',
  graceUntil: 1_700_000_010_000,
  sessionData: '{"cart":[1]}',
  jwtPayload: '{"role":"reader"}',
  accessTokenValidity: null,
  createdAt: 1_699_999_000_000,
  lastRefreshedAt: 1_700_000_000_000,
  expiresAt: 1_708_640_000_000,
  absoluteExpiresAt: null,
  payloadVersion: 2,
  authTime: 1_699_999_500_000,
  actor: '{"sub":"admin"}',
  ip: '203.0.113.0',
  userAgent: 'Mozilla/5.0 🦊',
  deviceBrowser: 'Firefox 133',
  deviceOs: 'Linux',
  deviceType: 'desktop',
  loginMethod: 'password',
  label: null,
  lastActiveAt: 1_700_000_000_000,
  persistent: false,
};

/** The row as `query` answers it, under the property names the statements select. */
const asSelected = (values: unknown[], properties = SESSION_ROW.map((entry) => entry.property)) =>
  Object.fromEntries(properties.map((property, index) => [property, values[index]]));

describe('the session row', () => {
  it('round-trips a record through its columns', () => {
    expect(decodeRow(asSelected(encodeRow(record, SESSION_ROW)), SESSION_ROW)).toEqual(record);
  });

  it('reads BIGINT answered as a string (MySQL, PostgreSQL) as a number and JSON text as its value', () => {
    const values = encodeRow(record, SESSION_ROW).map((value) =>
      typeof value === 'number' ? String(value) : value,
    );
    const decoded = decodeRow(asSelected(values), SESSION_ROW);
    expect(decoded).toEqual(record);
    expect(typeof decoded.expiresAt).toBe('number');
  });

  it('reads only the selected columns', () => {
    const columns = sessionColumns('userKey', 'generation', 'ancestors', 'expiresAt');
    const row = asSelected(
      encodeRow(record, columns).map((value) => (typeof value === 'number' ? String(value) : value)),
      columns.map((entry) => entry.property),
    );
    expect(decodeRow(row, columns)).toEqual({
      userKey: record.userKey,
      generation: 3,
      ancestors: record.ancestors,
      expiresAt: record.expiresAt,
    });
  });

  it('keeps NULL of the nullable columns', () => {
    const values = encodeRow({ ...record, accessTokenValidity: 60, absoluteExpiresAt: 5 }, SESSION_ROW);
    const nullable = SESSION_ROW.filter((entry) => entry.options.nullable).map((entry) => entry.property);
    const metadata = [
      'ip',
      'userAgent',
      'deviceBrowser',
      'deviceOs',
      'deviceType',
      'loginMethod',
      'label',
      'lastActiveAt',
    ] as const;
    expect(nullable).toEqual([
      'sealedLiveToken',
      'accessTokenValidity',
      'absoluteExpiresAt',
      'payloadVersion',
      'authTime',
      'actor',
      ...metadata,
    ]);
    const noMetadata = Object.fromEntries(metadata.map((property) => [property, null]));
    const row = {
      ...asSelected(values),
      sealedLiveToken: null,
      accessTokenValidity: null,
      absoluteExpiresAt: null,
      payloadVersion: null,
      authTime: null,
      actor: null,
      ...noMetadata,
    };
    // A row written before AddSessionClaimColumns1764547200000: payload version 1, no auth_time, no actor.
    expect(decodeRow(row, SESSION_ROW)).toEqual({
      ...record,
      sealedLiveToken: null,
      payloadVersion: 1,
      authTime: null,
      actor: null,
      ...noMetadata,
    });
  });

  it('gives every column one name, and the entity its codec as a transformer', () => {
    const names = SESSION_ROW.map((entry) => entry.name);
    expect(new Set(names).size).toBe(names.length);
    const [ancestors] = sessionColumns('ancestors');
    expect(entityColumnOptions(ancestors)).toMatchObject({ type: 'text', name: 'ancestors' });
    expect(entityColumnOptions(ancestors).transformer).toBeDefined();
    expect(entityColumnOptions(sessionColumns('userId')[0])).toEqual({
      type: 'varchar',
      length: 255,
      name: 'user_id',
    });
  });
});

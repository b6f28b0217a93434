import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionError, createSessionEntities, type SessionEngine } from '../../lib/index.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { createEngineApp, type EngineApp } from '../support/engine-app.js';

const key = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'role', 'sub', 'exp', 'pld'),
);
/** Values a patch may hold: JSON, null (remove), and what JSON cannot carry or what is too large. */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 3, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      undefined,
      Number.NaN,
      Infinity,
      () => 1,
      new Date(0),
      new Map(),
      10n,
      Symbol('s'),
      'x'.repeat(3000),
    ),
  },
);
const patch = fc.oneof(
  { weight: 8, arbitrary: fc.dictionary(key, value, { maxKeys: 6 }) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.array(fc.integer()), fc.string(), fc.integer()) },
);
const payload = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 });

/** Whether a value is JSON exactly (what the library must accept when it fits). */
function isJson(item: unknown): boolean {
  if (item === null || typeof item === 'string' || typeof item === 'boolean') return true;
  if (typeof item === 'number') return Number.isFinite(item);
  if (Array.isArray(item)) return item.every(isJson);
  if (typeof item !== 'object' || Object.getPrototypeOf(item) !== Object.prototype) return false;
  return Object.values(item).every(isJson);
}

describe('mergeIntoAccessTokenPayload on any patch (SQLite)', () => {
  let database: TestDatabase;
  let app: EngineApp;
  let engine: SessionEngine;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await createEngineApp(database.options, { cleanupInterval: 0 });
    engine = app.engine;
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  async function row(handle: string) {
    const stored = await app.dataSource
      .getRepository(createSessionEntities().session)
      .findOneByOrFail({ handle });
    return {
      payload: JSON.parse(stored.jwtPayload) as Record<string, unknown>,
      version: stored.payloadVersion,
    };
  }

  it('applies exactly or is refused with GENERAL_ERROR and nothing written', async () => {
    await fc.assert(
      fc.asyncProperty(payload, patch, async (initial, change) => {
        const created = await engine.createNewSession('prop-user', initial);
        const { handle } = created.session;
        const before = await row(handle);
        let outcome: unknown;
        try {
          outcome = await engine.mergeIntoAccessTokenPayload(handle, change as Record<string, unknown>);
        } catch (error) {
          outcome = error;
        }
        const after = await row(handle);
        const plainJson =
          change !== null && typeof change === 'object' && !Array.isArray(change) && isJson(change);
        if (outcome === true) {
          expect(after.version).toBe(before.version + 1);
          const entries = Object.entries(change as Record<string, unknown>);
          const expectedKeys = new Set(Object.keys(before.payload));
          for (const [name, item] of entries) {
            if (item === null) expectedKeys.delete(name);
            else expectedKeys.add(name);
          }
          expect(new Set(Object.keys(after.payload))).toEqual(expectedKeys);
          for (const name of expectedKeys) {
            const patched = entries.find(([entry]) => entry === name);
            // Values are stored as JSON, which writes -0 as 0.
            const expected = patched
              ? (JSON.parse(JSON.stringify(patched[1])) as unknown)
              : before.payload[name];
            expect(after.payload[name]).toEqual(expected);
          }
          // The merged payload reaches the next access token.
          const refreshed = await engine.refreshSession(created.refreshToken.value);
          expect(refreshed.session.jwtPayload).toEqual(after.payload);
        } else {
          expect(outcome).toBeInstanceOf(SessionError);
          expect((outcome as SessionError).type).toBe('GENERAL_ERROR');
          expect(after).toEqual(before);
          // Only what JSON cannot carry, or what would not fit, is refused.
          if (plainJson) {
            const mergedBytes = Buffer.byteLength(
              JSON.stringify({ ...before.payload, ...(change as object) }),
            );
            expect(mergedBytes).toBeGreaterThan(1000);
          }
        }
        await engine.revokeSessionUsingSessionHandle(handle);
      }),
      { numRuns: 150 },
    );
  });
});

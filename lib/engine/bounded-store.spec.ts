import { describe, expect, it, vi } from 'vitest';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { SessionRecord, SessionRotation, SessionStore } from '../storage/session-store.js';
import type { StoredSigningKey } from '../storage/signing-key-store.js';
import { BoundedSessionStore } from './bounded-store.js';

/** A store call that never answers (a held connection, a stalled network). */
const hang = () => new Promise<never>(() => undefined);
const refuse = () => Promise.reject(new Error('connection refused'));

/** An in-memory stand-in for the store: each method answers as the test says. */
function fakeStore(methods: Partial<Record<keyof SessionStore, (...args: never[]) => unknown>>) {
  const store = {} as Record<string, unknown>;
  const names: (keyof SessionStore)[] = [
    'readDatabaseClock',
    'insertSession',
    'findSession',
    'findSessionWithClock',
    'findSessionState',
    'rotateRefreshToken',
    'updateSessionData',
    'deleteSession',
    'deleteSessionOfUser',
    'deleteOtherSessionsOfUser',
    'deleteSessionsOfUser',
    'findSessionsOfUser',
    'deleteExpired',
    'loadSigningKeys',
    'insertSigningKey',
    'retireSigningKeys',
  ];
  for (const name of names) store[name] = vi.fn(methods[name] ?? (() => Promise.resolve(undefined)));
  return store as unknown as SessionStore;
}

function bounded(methods: Parameters<typeof fakeStore>[0], databaseTimeout = 0.05) {
  const store = fakeStore(methods);
  const logger = { error: vi.fn<(message: string) => void>() };
  return { store, logger, db: new BoundedSessionStore(store, databaseTimeout, logger) };
}

async function failure(call: Promise<unknown>): Promise<SessionError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SessionError);
  expect((error as SessionError).type).toBe('GENERAL_ERROR');
  return error as SessionError;
}

const record = { handle: 'a'.repeat(32) } as SessionRecord;
const rotation = {} as SessionRotation;
const DATABASE_NOW = 1_700_000_000_000;

describe('the bounded session store', () => {
  it.each([
    ['a read that never answers', { findSession: hang }, 'read', Messages.databaseUnavailable],
    ['a read that fails', { findSession: refuse }, 'read', Messages.databaseUnavailable],
    [
      'an unguarded write that never answers',
      { deleteSession: hang },
      'delete',
      Messages.databaseOutcomeUnknown,
    ],
    ['an unguarded write that fails', { deleteSession: refuse }, 'delete', Messages.databaseOutcomeUnknown],
    [
      'a guarded write that never answers',
      { readDatabaseClock: () => Promise.resolve(DATABASE_NOW), insertSession: hang },
      'insert',
      Messages.databaseUnavailable,
    ],
    [
      'a guarded write that fails (it may have committed)',
      { readDatabaseClock: () => Promise.resolve(DATABASE_NOW), insertSession: refuse },
      'insert',
      Messages.databaseOutcomeUnknown,
    ],
    [
      'a write without a database clock that never answers (no deadline)',
      { readDatabaseClock: () => Promise.resolve(undefined), insertSession: hang },
      'insert',
      Messages.databaseOutcomeUnknown,
    ],
  ] as const)(
    'turns %s into one logged GENERAL_ERROR saying what it may have changed',
    async (_, methods, call, message) => {
      const { db, logger } = bounded(methods);
      const calls = {
        read: () => db.findSession(record.handle),
        delete: () => db.deleteSession(record.handle),
        insert: () => db.insertSession(record),
      };
      const error = await failure(calls[call]());
      expect(error.message).toBe(message);
      expect(error.cause).toBeInstanceOf(Error);
      expect(logger.error).toHaveBeenCalledTimes(1);
      const outcome = message === Messages.databaseUnavailable ? 'nothing was changed' : 'outcome unknown';
      expect(logger.error.mock.calls[0][0]).toBe(
        `Session store failure (${outcome}): ${(error.cause as Error).message}`,
      );
    },
  );

  it('names databaseTimeout as the cause of a timeout', async () => {
    const { db, logger } = bounded({ findSessionState: hang });
    await failure(db.findSessionState(record.handle));
    expect(logger.error).toHaveBeenCalledWith(
      'Session store failure (nothing was changed): no answer within databaseTimeout (0.05 s)',
    );
  });

  it("gives a sign-in insert a deadline on the database's clock within databaseTimeout less the reply margin", async () => {
    const { db, store } = bounded(
      { readDatabaseClock: () => Promise.resolve(DATABASE_NOW), insertSession: () => Promise.resolve(true) },
      2,
    );
    await db.insertSession(record);
    const [inserted, deadline] = vi.mocked(store.insertSession).mock.calls[0];
    expect(inserted).toBe(record);
    expect(db.replyMarginMs).toBe(250);
    expect(deadline).toBeGreaterThan(DATABASE_NOW);
    expect(deadline).toBeLessThanOrEqual(DATABASE_NOW + 2000 - 250);
  });

  it('refuses a sign-in whose insert reached the database after its deadline, logging it once', async () => {
    const { db, logger } = bounded({
      readDatabaseClock: () => Promise.resolve(DATABASE_NOW),
      insertSession: () => Promise.resolve(false),
    });
    const error = await failure(db.insertSession(record));
    expect(error.message).toBe(Messages.databaseUnavailable);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0][0]).toMatch(
      /^Session store failure: Sign-in refused: its write reached/,
    );
  });

  it('gives a rotation a deadline only when the row was read with a database clock', async () => {
    const { db, store } = bounded({ rotateRefreshToken: () => Promise.resolve(true) }, 1);
    expect(await db.rotateRefreshToken(record.handle, 'old-hash', rotation, undefined)).toBe(true);
    expect(await db.rotateRefreshToken(record.handle, 'old-hash', rotation, DATABASE_NOW)).toBe(true);
    const deadlines = vi.mocked(store.rotateRefreshToken).mock.calls.map((call) => call[3]);
    expect(deadlines[0]).toBeUndefined();
    expect(deadlines[1]).toBeGreaterThan(DATABASE_NOW);
    expect(deadlines[1]).toBeLessThanOrEqual(DATABASE_NOW + 1000 - db.replyMarginMs);
  });

  it('passes a SessionError through unchanged and unlogged', async () => {
    const own = new SessionError(SessionError.UNAUTHORISED, 'own');
    const { db, logger } = bounded({ findSession: () => Promise.reject(own) });
    await expect(db.findSession(record.handle)).rejects.toBe(own);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('answers with the store when it answers in time', async () => {
    const { db } = bounded({ deleteSessionsOfUser: () => Promise.resolve(3) });
    expect(await db.deleteSessionsOfUser('user-key')).toBe(3);
  });
});

describe('the bounded signing-key store', () => {
  const key = { kid: 'k' } as StoredSigningKey;

  it.each([
    ['a ring load that never answers', { loadSigningKeys: hang }, 'load', Messages.keyRingUnavailable],
    ['a ring load that fails', { loadSigningKeys: refuse }, 'load', Messages.keyRingUnavailable],
    ['a key insert that never answers', { insertSigningKey: hang }, 'insert', Messages.keyRingOutcomeUnknown],
    ['a key retirement that fails', { retireSigningKeys: refuse }, 'retire', Messages.keyRingOutcomeUnknown],
  ] as const)(
    'reports %s as the signing-key ring failing, logged once',
    async (_, methods, call, message) => {
      const { db, logger } = bounded(methods);
      const calls = {
        load: () => db.signingKeys.loadSigningKeys(DATABASE_NOW),
        insert: () => db.signingKeys.insertSigningKey(key),
        retire: () => db.signingKeys.retireSigningKeys(['k'], DATABASE_NOW, DATABASE_NOW),
      };
      const error = await failure(calls[call]());
      expect(error.message).toBe(message);
      expect(logger.error).toHaveBeenCalledTimes(1);
      expect(logger.error.mock.calls[0][0]).toMatch(
        /^Signing-key ring failure \((nothing was changed|outcome unknown)\): /,
      );
    },
  );

  it('logs a key-ring operation that times out once, not again when the call inside it times out', async () => {
    const { db, logger } = bounded({ loadSigningKeys: hang });
    let inner: Promise<unknown> | undefined;
    const error = await failure(
      db.keyRing('read', () => (inner = db.signingKeys.loadSigningKeys(DATABASE_NOW))),
    );
    expect(error.message).toBe(Messages.keyRingUnavailable);
    await failure(inner!);
    expect(logger.error).toHaveBeenCalledTimes(1);
  });

  it('bounds a whole key-ring operation and logs a failure inside it once', async () => {
    const { db, logger } = bounded({ loadSigningKeys: refuse });
    const error = await failure(db.keyRing('read', () => db.signingKeys.loadSigningKeys(DATABASE_NOW)));
    expect(error.message).toBe(Messages.keyRingUnavailable);
    expect(logger.error).toHaveBeenCalledTimes(1);
    const stuck = await failure(db.keyRing('write', hang));
    expect(stuck.message).toBe(Messages.keyRingOutcomeUnknown);
  });
});

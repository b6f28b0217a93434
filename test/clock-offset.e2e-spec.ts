import { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  vi,
  type MockInstance,
} from 'vitest';
import { SessionErrorMessages as Messages } from '../lib/errors/session-error.messages.js';
import { SESSION_STORE, type SessionStore } from '../lib/testing/index.js';
import { rejectsWith } from './support/assertions.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { createEngineApp, type EngineApp } from './support/engine-app.js';
import { FakeClock } from './support/fake-clock.js';

/*
 * The app host's clock (Date.now and the injected session clock together, as on a real host) is
 * set off from the database's by up to 30 s either way. Every lifetime must keep working: each
 * decision compares times of one clock only. A 2 s grace period makes databaseTimeout 1 s, so the
 * rotation deadline once computed on the app host and compared on the database failed at a 1 s
 * offset already.
 */

const OFFSETS_S = [-30, -6, -1, 1, 6, 30];
const GRACE_S = 2;
const VALIDITY_S = 3600;
const OPTIONS = { refreshToken: { gracePeriod: GRACE_S, validity: VALIDITY_S }, cleanupInterval: 0 };
/** Longer than databaseTimeout (1 s), so the client has been answered when the statement arrives. */
const HOLD_MS = 1500;

const wallClock = Date.now;

const databases = await reachableDatabases();

describe.each(databases)('sessions on %s with the app clock off from the database clock', (kind) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.drop();
  });

  describe.each(OFFSETS_S)('by %i s', (offsetS) => {
    let ctx: EngineApp;
    let store: SessionStore;
    let dateNow: MockInstance<() => number>;
    let loggedErrors: MockInstance<Logger['error']>;
    let user = '';
    let sequence = 0;

    beforeAll(async () => {
      dateNow = vi.spyOn(Date, 'now').mockImplementation(() => wallClock() + offsetS * 1000);
      ctx = await createEngineApp(database.options, OPTIONS, new FakeClock(Date.now()));
      store = ctx.app.get<SessionStore>(SESSION_STORE);
    });
    afterAll(async () => {
      await ctx?.close();
      dateNow?.mockRestore();
    });
    beforeEach(() => {
      user = `clock-user-${offsetS}-${sequence++}`;
      loggedErrors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    });
    afterEach(() => {
      loggedErrors.mockRestore();
    });

    it('creates, verifies, refreshes, replays within the grace period and detects theft after it', async () => {
      const { engine, clock } = ctx;
      const created = await engine.createNewSession(user);
      await expect(
        engine.getSession(created.accessToken.value, null, { checkDatabase: true }),
      ).resolves.toMatchObject({ session: { userId: user } });

      const first = await engine.refreshSession(created.refreshToken.value);
      expect(first.session.userId).toBe(user);
      clock.advance(GRACE_S / 2);
      const replay = await engine.refreshSession(created.refreshToken.value);
      expect(replay.newRefreshToken.value).toBe(first.newRefreshToken.value);
      for (const token of [created.accessToken.value, first.newAccessToken.value]) {
        await expect(engine.getSession(token, null, { checkDatabase: true })).resolves.toBeDefined();
      }

      clock.advance(GRACE_S);
      await rejectsWith(
        engine.getSession(created.accessToken.value, null, { checkDatabase: true }),
        'TRY_REFRESH_TOKEN',
      );
      const second = await engine.refreshSession(first.newRefreshToken.value);
      await rejectsWith(
        engine.refreshSession(created.refreshToken.value),
        'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED',
      );
      await rejectsWith(engine.refreshSession(second.newRefreshToken.value), 'UNAUTHORISED');
      expect(loggedErrors).not.toHaveBeenCalled();
    });

    it('expires access tokens and sessions on time: refresh, listing and cleanup agree', async () => {
      const { engine, clock } = ctx;
      const created = await engine.createNewSession(user);
      expect(await engine.getAllSessionHandlesForUser(user)).toEqual([created.session.handle]);
      clock.advance(VALIDITY_S - 1);
      await rejectsWith(engine.getSession(created.accessToken.value, null), 'TRY_REFRESH_TOKEN');
      const refreshed = await engine.refreshSession(created.refreshToken.value);
      clock.advance(VALIDITY_S - 1);
      expect(await engine.getAllSessionHandlesForUser(user)).toEqual([created.session.handle]);
      clock.advance(2);
      await rejectsWith(engine.refreshSession(refreshed.newRefreshToken.value), 'UNAUTHORISED');
      expect(await engine.getAllSessionHandlesForUser(user)).toEqual([]);
      expect(await engine.removeExpiredSessions()).toBeGreaterThanOrEqual(1);
      await expect(engine.getSessionData(created.session.handle)).rejects.toMatchObject({
        type: 'UNAUTHORISED',
      });
      expect(loggedErrors).not.toHaveBeenCalled();
    });

    // In-process SQLite cannot answer late: its writes have no deadline.
    if (kind !== 'sqlite') {
      it('never lets a rotation that reaches the database after databaseTimeout commit', async () => {
        const { engine, clock } = ctx;
        const created = await engine.createNewSession(user);
        const rotate = store.rotateRefreshToken.bind(store);
        let late: Promise<boolean> | undefined;
        const held = vi.spyOn(store, 'rotateRefreshToken').mockImplementationOnce((...args) => {
          late = sleep(HOLD_MS).then(() => rotate(...args));
          return late;
        });
        try {
          const error = await rejectsWith(engine.refreshSession(created.refreshToken.value), 'GENERAL_ERROR');
          expect(error.message).toBe(Messages.databaseUnavailable);
          expect(await late).toBe(false);
        } finally {
          held.mockRestore();
        }
        expect(loggedErrors).toHaveBeenCalledTimes(1);
        expect(loggedErrors.mock.calls[0][0]).toMatch(/no answer within databaseTimeout/);
        // Long after the grace period the client's token is still the current one: no theft.
        clock.advance(GRACE_S * 5);
        await expect(engine.refreshSession(created.refreshToken.value)).resolves.toMatchObject({
          session: { userId: user },
        });
      });

      it('never lets a sign-in that reaches the database after databaseTimeout insert its session', async () => {
        const insert = store.insertSession.bind(store);
        let late: Promise<boolean> | undefined;
        const held = vi.spyOn(store, 'insertSession').mockImplementationOnce((...args) => {
          late = sleep(HOLD_MS).then(() => insert(...args));
          return late;
        });
        try {
          const error = await rejectsWith(ctx.engine.createNewSession(user), 'GENERAL_ERROR');
          expect(error.message).toBe(Messages.databaseUnavailable);
          expect(await late).toBe(false);
        } finally {
          held.mockRestore();
        }
        expect(await ctx.engine.listSessionsForUser(user)).toEqual([]);
        expect(loggedErrors).toHaveBeenCalledTimes(1);
      });

      it('logs a write refused by its deadline once, with its cause, and changes nothing', async () => {
        const { engine } = ctx;
        const created = await engine.createNewSession(user);
        // As if each read had been answered long ago: the writes after it arrive past their deadline.
        const find = store.findSessionWithClock.bind(store);
        const readClock = store.readDatabaseClock.bind(store);
        const early = [
          vi.spyOn(store, 'findSessionWithClock').mockImplementation(async (handle) => {
            const read = await find(handle);
            return { ...read, databaseNow: read.databaseNow! - 10_000 };
          }),
          vi.spyOn(store, 'readDatabaseClock').mockImplementation(async () => (await readClock())! - 10_000),
        ];
        try {
          const refresh = await rejectsWith(
            engine.refreshSession(created.refreshToken.value),
            'GENERAL_ERROR',
          );
          expect(refresh.message).toBe(Messages.databaseUnavailable);
          const login = await rejectsWith(engine.createNewSession(user), 'GENERAL_ERROR');
          expect(login.message).toBe(Messages.databaseUnavailable);
        } finally {
          for (const spy of early) spy.mockRestore();
        }
        expect(loggedErrors.mock.calls.map(([message]) => message)).toEqual([
          expect.stringMatching(/Refresh refused: its write reached the database after its deadline/),
          expect.stringMatching(/Sign-in refused: its write reached the database after its deadline/),
        ]);
        expect(await engine.getAllSessionHandlesForUser(user)).toEqual([created.session.handle]);
        const refreshed = await engine.refreshSession(created.refreshToken.value);
        expect(refreshed.session.handle).toBe(created.session.handle);
      });
    }
  });
});

// Two hosts share a database server (in-memory SQLite is one process's own).
const servers = databases.filter((kind) => kind !== 'sqlite');

describe.each(servers)('two app hosts on %s whose clocks differ by 30 s', (kind) => {
  let database: TestDatabase;
  let ahead: EngineApp;
  let behind: EngineApp;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    ahead = await createEngineApp(database.options, OPTIONS, new FakeClock(wallClock() + 15_000));
    behind = await createEngineApp(database.options, OPTIONS, new FakeClock(wallClock() - 15_000));
  });
  afterAll(async () => {
    await ahead?.close();
    await behind?.close();
    await database?.drop();
  });

  it('answers the loser of a concurrent refresh as a replay, not as theft, whichever host won', async () => {
    for (const [winner, loser] of [
      [behind, ahead],
      [ahead, behind],
    ]) {
      const created = await winner.engine.createNewSession('two-hosts');
      const store = loser.app.get<SessionStore>(SESSION_STORE);
      const rotate = store.rotateRefreshToken.bind(store);
      let won: Awaited<ReturnType<EngineApp['engine']['refreshSession']>> | undefined;
      // The other host rotates between the loser's read and its conditional UPDATE.
      const race = vi.spyOn(store, 'rotateRefreshToken').mockImplementationOnce(async (...args) => {
        won = await winner.engine.refreshSession(created.refreshToken.value);
        return rotate(...args);
      });
      try {
        const lost = await loser.engine.refreshSession(created.refreshToken.value);
        expect(lost.newRefreshToken.value).toBe(won!.newRefreshToken.value);
      } finally {
        race.mockRestore();
      }
      await expect(winner.engine.refreshSession(won!.newRefreshToken.value)).resolves.toBeDefined();
    }
  });
});

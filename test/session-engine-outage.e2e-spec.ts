import { Logger } from '@nestjs/common';
import { createHmac, randomBytes } from 'node:crypto';
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
import { SessionError } from '../lib/index.js';
import { SESSION_STORE, type SessionStore } from '../lib/testing/index.js';
import { deriveSubKeys } from '../lib/tokens/secrets.js';
import {
  MARIADB,
  POSTGRES,
  connectionOptions,
  createTestDatabase,
  reachableDatabases,
  type TestDatabase,
} from './support/databases.js';
import { rejectsWith } from './support/assertions.js';
import { TEST_SECRET, createEngineApp, type EngineApp } from './support/engine-app.js';
import { TcpProxy } from './support/tcp-proxy.js';

const databases = (await reachableDatabases(['mariadb', 'postgres'])) as ('mariadb' | 'postgres')[];

async function generalError(promise: Promise<unknown>): Promise<number> {
  const started = Date.now();
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SessionError);
  expect((error as SessionError).type).toBe('GENERAL_ERROR');
  expect((error as SessionError).getStatus()).toBe(500);
  return Date.now() - started;
}

describe.each(databases)('SessionEngine on %s during a database outage', (kind) => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let ctx: EngineApp;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const server = kind === 'mariadb' ? MARIADB : POSTGRES;
    proxy = await new TcpProxy(server.host, server.port).start();
    const name = (database.options as { database: string }).database;
    ctx = await createEngineApp(connectionOptions(kind, name, proxy.port));
  });

  afterAll(async () => {
    proxy?.restore();
    await ctx?.close();
    await proxy?.stop();
    await database?.drop();
  });
  it('answers GENERAL_ERROR (never UNAUTHORISED), keeps stateless checks working, and recovers', async () => {
    const created = await ctx.engine.createNewSession('outage-user', {}, { kept: true });
    const rowsBefore = await ctx.countSessions();
    proxy.cut();

    await generalError(ctx.engine.refreshSession(created.refreshToken.value));
    await generalError(ctx.engine.createNewSession('during-outage'));
    await generalError(ctx.engine.getSession(created.accessToken.value, null, { checkDatabase: true }));
    await generalError(ctx.engine.getSessionData(created.session.handle));
    await generalError(ctx.engine.updateSessionData(created.session.handle, { kept: false }));
    await generalError(ctx.engine.revokeAllSessionsForUser('outage-user'));
    // A genuine key id this instance has not loaded needs the database: that is not the token's fault.
    const random = randomBytes(8).toString('hex');
    const kid =
      random +
      createHmac('sha256', deriveSubKeys(TEST_SECRET).keyId).update(random).digest('hex').slice(0, 16);
    const [, payload, signature] = created.accessToken.value.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid })).toString('base64url');
    await generalError(ctx.engine.getSession(`${header}.${payload}.${signature}`, null));
    // Each failed call is logged once, with the driver's reason, for the operator.
    const logged = ctx.logs.take('ERROR');
    expect(logged).toHaveLength(7);
    for (const line of logged) {
      expect(line).toMatch(
        /^ERROR \[SessionEngine\] (Session store|Signing-key ring) failure \((nothing was changed|outcome unknown)\): \w/,
      );
    }
    // Access-token checks need no database.
    await expect(
      ctx.engine.getSession(created.accessToken.value, created.antiCsrfToken!),
    ).resolves.toMatchObject({
      session: { userId: 'outage-user' },
    });

    proxy.restore();
    const refreshed = await ctx.engine.refreshSession(created.refreshToken.value);
    expect(refreshed.session.userId).toBe('outage-user');
    expect(await ctx.engine.getSessionData(created.session.handle)).toEqual({ kept: true });
    expect(await ctx.countSessions()).toBe(rowsBefore);
  });

  it('never lets a rotation that reaches the database after its deadline commit', async () => {
    const slow = await createEngineApp(database.options, { databaseTimeout: 0.5 });
    try {
      const created = await slow.engine.createNewSession('late-user');
      const store = slow.app.get<SessionStore>(SESSION_STORE);
      const rotate = store.rotateRefreshToken.bind(store);
      let lateResult: Promise<boolean> | undefined;
      // The statement is held up on its way to the database past the engine's deadline.
      vi.spyOn(store, 'rotateRefreshToken').mockImplementationOnce((...args) => {
        lateResult = new Promise((resolve) => setTimeout(resolve, 900)).then(() => rotate(...args));
        return lateResult;
      });
      await generalError(slow.engine.refreshSession(created.refreshToken.value));
      expect(slow.logs.take('ERROR')).toEqual([
        'ERROR [SessionEngine] Session store failure (nothing was changed): no answer within databaseTimeout (0.5 s)',
      ]);
      expect(await lateResult).toBe(false);
      // Long after the grace period the client's token is still the current one: no theft.
      slow.clock.advance(60);
      await expect(slow.engine.refreshSession(created.refreshToken.value)).resolves.toMatchObject({
        session: { userId: 'late-user' },
      });
    } finally {
      await slow.close();
    }
  });
});

describe.each(databases)('what a call to %s that times out promises', (kind) => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let ctx: EngineApp;
  let store: SessionStore;
  let loggedErrors: MockInstance<Logger['error']>;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const server = kind === 'mariadb' ? MARIADB : POSTGRES;
    proxy = await new TcpProxy(server.host, server.port).start();
    const name = (database.options as { database: string }).database;
    ctx = await createEngineApp(connectionOptions(kind, name, proxy.port), {
      databaseTimeout: 0.5,
      cleanupInterval: 0,
    });
    store = ctx.app.get<SessionStore>(SESSION_STORE);
    // Statements held by the paused proxy are slow on purpose.
    vi.spyOn(ctx.dataSource.logger, 'logQuerySlow').mockImplementation(() => undefined);
  });
  afterAll(async () => {
    proxy?.restore();
    await ctx?.close();
    await proxy?.stop();
    await database?.drop();
  });
  beforeEach(() => {
    loggedErrors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    proxy.restore();
    loggedErrors.mockRestore();
  });

  it('never lets a sign-in whose insert is held in the network past databaseTimeout leave a session behind', async () => {
    const rowsBefore = await ctx.countSessions();
    const insert = store.insertSession.bind(store);
    let late: Promise<unknown> | undefined;
    vi.spyOn(store, 'insertSession').mockImplementationOnce((...args) => {
      // The network stalls just as the INSERT leaves the app; it reaches the database after the answer.
      proxy.pause();
      late = insert(...args);
      return late as Promise<boolean>;
    });
    const error = await rejectsWith(ctx.engine.createNewSession('held-sign-in'), 'GENERAL_ERROR');
    expect(error.message).toBe(Messages.databaseUnavailable);
    proxy.restore();
    await late;
    expect(await ctx.engine.listSessionsForUser('held-sign-in')).toEqual([]);
    expect(await ctx.engine.getAllSessionHandlesForUser('held-sign-in')).toEqual([]);
    expect(await ctx.countSessions()).toBe(rowsBefore);
    expect(loggedErrors).toHaveBeenCalledTimes(1);
    expect(loggedErrors.mock.calls[0][0]).toMatch(
      /\(nothing was changed\): no answer within databaseTimeout/,
    );
  });

  it('says a timed-out read or guarded write changed nothing, and a timed-out unguarded write may still apply', async () => {
    const kept = await ctx.engine.createNewSession('message-user', {}, { version: 1 });
    const doomed = await ctx.engine.createNewSession('message-user-2');
    const { engine } = ctx;
    const unchanged = Messages.databaseUnavailable;
    const unknown = Messages.databaseOutcomeUnknown;
    const calls: [string, () => Promise<unknown>, string][] = [
      ['getSessionData', () => engine.getSessionData(kept.session.handle), unchanged],
      [
        'getSession with checkDatabase',
        () => engine.getSession(kept.accessToken.value, null, { checkDatabase: true }),
        unchanged,
      ],
      ['listSessionsForUser', () => engine.listSessionsForUser('message-user'), unchanged],
      ['refreshSession', () => engine.refreshSession(kept.refreshToken.value), unchanged],
      ['createNewSession', () => engine.createNewSession('message-user-3'), unchanged],
      ['updateSessionData', () => engine.updateSessionData(kept.session.handle, { version: 2 }), unknown],
      [
        'revokeSessionUsingSessionHandle',
        () => engine.revokeSessionUsingSessionHandle(doomed.session.handle),
        unknown,
      ],
      ['revokeAllSessionsForUser', () => engine.revokeAllSessionsForUser('nobody-at-all'), unknown],
      // Its first statement reads the expired impersonations (to report their end): nothing changed.
      ['removeExpiredSessions', () => engine.removeExpiredSessions(), unchanged],
    ];
    proxy.pause();
    for (const [label, call, message] of calls) {
      const error = await rejectsWith(call(), 'GENERAL_ERROR');
      expect(error.message, label).toBe(message);
    }
    expect(loggedErrors.mock.calls.map(([line]) => String(line).match(/\((.+?)\)/)?.[1])).toEqual(
      calls.map(([, , message]) => (message === unchanged ? 'nothing was changed' : 'outcome unknown')),
    );
    proxy.restore();
    // The held writes do arrive and apply: "may still apply" was the honest answer.
    await vi.waitFor(
      async () => expect(await engine.getSessionData(kept.session.handle)).toEqual({ version: 2 }),
      {
        timeout: 10_000,
      },
    );
    await vi.waitFor(
      async () => expect(await engine.getAllSessionHandlesForUser('message-user-2')).toEqual([]),
      {
        timeout: 10_000,
      },
    );
  });
});

import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
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
import { SessionModule } from '../lib/index.js';
import { SESSION_STORE, type SessionStore } from '../lib/storage/session-store.js';
import { rejectsWith } from './support/assertions.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { TEST_SECRET, createEngineApp, sessionDatabaseModule } from './support/engine-app.js';

const databases = await reachableDatabases();

/** A statement the database never answers (a held connection, a stalled network). */
const hang = () => new Promise<never>(() => undefined);

describe.each(databases)('key-ring storage calls outside any request on %s', (kind) => {
  let database: TestDatabase;
  let loggedErrors: MockInstance<Logger['error']>;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.drop();
  });
  beforeEach(() => {
    loggedErrors = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('fails start-up within databaseTimeout, saying the signing-key ring could not be loaded', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        sessionDatabaseModule(database.options),
        SessionModule.forRoot({ secret: TEST_SECRET, databaseTimeout: 0.5 }),
      ],
    }).compile();
    try {
      vi.spyOn(moduleRef.get<SessionStore>(SESSION_STORE), 'loadSigningKeys').mockImplementation(hang);
      const error = await rejectsWith(moduleRef.init(), 'GENERAL_ERROR');
      expect(error.message).toBe(Messages.keyRingUnavailable);
      expect(loggedErrors).toHaveBeenCalledWith(
        'Signing-key ring failure (nothing was changed): no answer within databaseTimeout (0.5 s)',
      );
    } finally {
      vi.restoreAllMocks();
      await moduleRef.close();
    }
  });

  it('bounds a background ring reload, so a stalled one does not hold every later key operation', async () => {
    const ctx = await createEngineApp(database.options, { databaseTimeout: 0.5, cleanupInterval: 0 });
    try {
      const store = ctx.app.get<SessionStore>(SESSION_STORE);
      vi.spyOn(store, 'loadSigningKeys').mockImplementationOnce(hang);
      ctx.clock.advance(61);
      // The JWKS endpoint reloads a stale ring in the background; this reload never gets an answer.
      ctx.engine.getJwks();
      await vi.waitFor(() =>
        expect(loggedErrors).toHaveBeenCalledWith(
          'Signing-key ring failure (nothing was changed): no answer within databaseTimeout (0.5 s)',
        ),
      );
      // The stalled reload was given up, so the next ones read the ring again.
      const kid = await ctx.engine.rotateSigningKeys({ immediately: true });
      const created = await ctx.engine.createNewSession('after-stall');
      expect(
        JSON.parse(Buffer.from(created.accessToken.value.split('.')[0], 'base64url').toString()).kid,
      ).toBe(kid);
    } finally {
      await ctx.close();
    }
  });
});

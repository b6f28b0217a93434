import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type {
  SessionActivity,
  LimitedInsert,
  Revocation,
  SessionLimit,
  SessionRecord,
  SessionRotation,
  SessionStore,
} from '../storage/session-store.js';
import type { CleanupBatching } from '../storage/batched-cleaner.js';
import { DatabaseClockEstimate } from './database-clock.js';
import type { SigningKeyStore, StoredSigningKey } from '../storage/signing-key-store.js';
import { SessionTelemetry } from '../observability/session-telemetry.js';

const SECOND = 1000;

/**
 * What a storage call does, which decides what its failure may promise: a read and a write guarded
 * by a deadline on the database's clock that timed out changed nothing; any other failed write may
 * still commit.
 */
export type StorageAccess = 'read' | 'guarded-write' | 'write';

/** Our own `databaseTimeout` fired: the statement may still be queued or running. */
export class StorageTimeout extends Error {}

/** Where failures are logged (the engine's Nest logger). */
export interface StorageLogger {
  error(message: string): void;
}

/** What failed: the session rows, or the signing-key ring. */
type Subject = 'sessions' | 'key-ring';

/** A key-ring operation in progress; once it has failed (and logged), failures inside it are not logged again. */
interface RingOperation {
  failed: boolean;
}

const FAILURE: Record<Subject, { log: string; unchanged: string; unknown: string }> = {
  sessions: {
    log: 'Session store failure',
    unchanged: Messages.databaseUnavailable,
    unknown: Messages.databaseOutcomeUnknown,
  },
  'key-ring': {
    log: 'Signing-key ring failure',
    unchanged: Messages.keyRingUnavailable,
    unknown: Messages.keyRingOutcomeUnknown,
  },
};

/**
 * The engine's only way to the database: every call of a {@link SessionStore} races
 * `databaseTimeout`, is logged once with its cause when it fails and becomes a `GENERAL_ERROR`
 * whose message says whether anything may have changed. The deadline is ours because drivers do
 * not bound every wait (a mysql2 connection whose query timed out keeps the next queries queued
 * behind it). Each method knows what its call is (read, deadline-guarded write, unguarded write);
 * the two guarded writes (sign-in insert, rotation) get their deadline on the database's clock
 * here. {@link signingKeys} is the same for the key ring, whose reloads run at start-up and in the
 * background, outside any request.
 */
export class BoundedSessionStore {
  /** A guarded write must land this long before our timer fires, for its answer to reach us in time. */
  readonly replyMarginMs: number;
  private readonly timeoutMs: number;
  /** The signing-key port, each call bounded, failures reported as the key ring's. */
  readonly signingKeys: SigningKeyStore;
  /**
   * Key-ring operations whose work is still running. Not an AsyncLocalStorage: on Node 20 its first
   * `run` installs promise hooks for the whole process, which makes every promise of the app (Nest's
   * request pipeline included) about three times as costly.
   */
  private readonly ringOperations = new Set<RingOperation>();
  private readonly databaseClock = new DatabaseClockEstimate();

  constructor(
    private readonly store: SessionStore,
    /** `databaseTimeout`, in seconds. */
    private readonly databaseTimeout: number,
    private readonly logger: StorageLogger,
    /** Records each call's duration and timeouts (`session.db.*` metrics), key-ring reload spans. */
    private readonly telemetry: SessionTelemetry = SessionTelemetry.off,
  ) {
    this.timeoutMs = databaseTimeout * SECOND;
    this.replyMarginMs = Math.min(250, this.timeoutMs / 4);
    this.signingKeys = {
      loadSigningKeys: (now: number) =>
        this.telemetry.trace('key-ring.reload', {}, () =>
          this.bound('read', () => this.store.loadSigningKeys(now), 'key-ring'),
        ),
      insertSigningKey: (key: StoredSigningKey) =>
        this.bound('write', () => this.store.insertSigningKey(key), 'key-ring'),
      retireSigningKeys: (kids: string[], signUntil: number, verifyUntil: number) =>
        this.bound('write', () => this.store.retireSigningKeys(kids, signUntil, verifyUntil), 'key-ring'),
    };
  }

  findSession(handle: string): ReturnType<SessionStore['findSession']> {
    return this.bound('read', () => this.store.findSession(handle));
  }

  /** The row with the database's clock at the read: the anchor of {@link rotateRefreshToken}'s deadline. */
  async findSessionWithClock(handle: string): ReturnType<SessionStore['findSessionWithClock']> {
    const read = await this.bound('read', () => this.store.findSessionWithClock(handle));
    this.databaseClock.observe(read.databaseNow);
    return read;
  }

  findSessionState(handle: string): ReturnType<SessionStore['findSessionState']> {
    return this.bound('read', () => this.store.findSessionState(handle));
  }

  findSessionsOfUser(userKey: string, now: number): ReturnType<SessionStore['findSessionsOfUser']> {
    return this.bound('read', () => this.store.findSessionsOfUser(userKey, now));
  }

  /**
   * Inserts a new session only while its answer can still reach the caller: a sign-in answered with
   * an error never leaves a session (a "device") behind whose tokens nobody received.
   * @throws SessionError `GENERAL_ERROR` also when the insert reached the database too late.
   */
  async insertSession(record: SessionRecord): Promise<void> {
    // A recent reading (of a sign-in or a refresh) stands in for one: one round trip per sign-in.
    const databaseNow = await this.databaseClock.now(() =>
      this.bound('read', () => this.store.readDatabaseClock()),
    );
    const inserted = await this.guarded(databaseNow, (deadline) =>
      this.store.insertSession(record, deadline),
    );
    if (!inserted) throw this.lateWrite('Sign-in');
  }

  /**
   * Rotates only if the row still holds `expectedHash`, bound to the database's clock read with the
   * row (`databaseNow`); `false` when another request won or the deadline passed (re-read to tell).
   */
  rotateRefreshToken(
    handle: string,
    expectedHash: string,
    rotation: SessionRotation & SessionActivity,
    databaseNow: number | undefined,
  ): Promise<boolean> {
    return this.guarded(databaseNow, (deadline) =>
      this.store.rotateRefreshToken(handle, expectedHash, rotation, deadline),
    );
  }

  touchSession(handle: string, now: number, notAfter: number): Promise<boolean> {
    return this.bound('write', () => this.store.touchSession(handle, now, notAfter));
  }

  updateSessionData(handle: string, sessionData: string, now: number): Promise<boolean> {
    return this.bound('write', () => this.store.updateSessionData(handle, sessionData, now));
  }

  updateJwtPayload(
    handle: string,
    expectedVersion: number,
    jwtPayload: string,
    now: number,
  ): Promise<boolean> {
    return this.bound('write', () => this.store.updateJwtPayload(handle, expectedVersion, jwtPayload, now));
  }

  updateAuthTime(handle: string, userKey: string, authTime: number, now: number): Promise<boolean> {
    return this.bound('write', () => this.store.updateAuthTime(handle, userKey, authTime, now));
  }

  findExpiredImpersonations(now: number): ReturnType<SessionStore['findExpiredImpersonations']> {
    return this.bound('read', () => this.store.findExpiredImpersonations(now));
  }

  findImpersonationsOfUser(userKey: string): ReturnType<SessionStore['findImpersonationsOfUser']> {
    return this.bound('read', () => this.store.findImpersonationsOfUser(userKey));
  }

  deleteSession(handle: string, revocation?: Revocation): Promise<boolean> {
    return this.bound('write', () => this.store.deleteSession(handle, revocation));
  }

  deleteSessionOfUser(handle: string, userKey: string, revocation?: Revocation): Promise<boolean> {
    return this.bound('write', () => this.store.deleteSessionOfUser(handle, userKey, revocation));
  }

  deleteOtherSessionsOfUser(userKey: string, keptHandle: string, revocation?: Revocation): Promise<number> {
    return this.bound('write', () => this.store.deleteOtherSessionsOfUser(userKey, keptHandle, revocation));
  }

  deleteSessionsOfUser(userKey: string, revocation?: Revocation): Promise<number> {
    return this.bound('write', () => this.store.deleteSessionsOfUser(userKey, revocation));
  }

  findRevocation(handle: string, now: number): Promise<Revocation | undefined> {
    return this.bound('read', () => this.store.findRevocation(handle, now));
  }

  /**
   * {@link insertSession} under a per-user cap (see `SessionStore.insertSessionWithinLimit`).
   * @throws SessionError `GENERAL_ERROR` also when the insert reached the database too late.
   */
  async insertSessionWithinLimit(record: SessionRecord, limit: SessionLimit): Promise<LimitedInsert> {
    const databaseNow = await this.bound('read', () => this.store.readDatabaseClock());
    const result = await this.guarded(databaseNow, (deadline) =>
      this.store.insertSessionWithinLimit(record, limit, deadline),
    );
    if (result.outcome === 'late') throw this.lateWrite('Sign-in');
    return result;
  }

  /** One bounded query (the database's clock) telling whether the store answers: for health checks. */
  ping(): Promise<unknown> {
    return this.bound('read', () => this.store.readDatabaseClock());
  }

  /**
   * A batched cleanup run: it may take minutes, so each statement is bounded by `databaseTimeout`,
   * not the run; a failure stops the run, is logged and is a `GENERAL_ERROR` (batches before it
   * are done).
   */
  async deleteExpiredInBatches(now: number, batching: CleanupBatching): Promise<number> {
    try {
      return await this.store.deleteExpired(now, { ...batching, statementTimeoutMs: this.timeoutMs });
    } catch (error) {
      this.logger.error(
        `${FAILURE.sessions.log} (outcome unknown): cleanup stopped: ${(error as Error)?.message ?? String(error)}`,
      );
      throw new SessionError(SessionError.GENERAL_ERROR, Messages.databaseOutcomeUnknown, { cause: error });
    }
  }

  /**
   * Runs a key-ring operation (which reaches storage through {@link signingKeys}) within
   * `databaseTimeout`; its failures are the key ring's `GENERAL_ERROR`.
   */
  keyRing<T>(access: 'read' | 'write', operation: () => Promise<T>): Promise<T> {
    const own: RingOperation = { failed: false };
    const run = () => {
      const done = () => this.ringOperations.delete(own);
      this.ringOperations.add(own);
      try {
        const running = operation();
        running.then(done, done);
        return running;
      } catch (error) {
        done();
        throw error;
      }
    };
    return this.bound(access, run, 'key-ring', own);
  }

  /** A guarded write that reached the database after its deadline and changed nothing. */
  lateWrite(what: 'Sign-in' | 'Refresh'): SessionError {
    const cause = new Error(
      `${what} refused: its write reached the database after its deadline on the database's clock ` +
        `(databaseTimeout ${this.databaseTimeout} s less ${this.replyMarginMs} ms); the database or its connection pool is too slow`,
    );
    this.logger.error(`${FAILURE.sessions.log}: ${cause.message}`);
    return new SessionError(SessionError.GENERAL_ERROR, Messages.databaseUnavailable, { cause });
  }

  /**
   * A write bound to the database's clock: its deadline is `databaseNow`, read before this call
   * began, plus what is left of this call's `databaseTimeout`, less the reply margin. Only a
   * duration measured here is added to a time read there, so no offset between the app's clock and
   * the database's moves it; the database's clock at our timeout is at least this late, so a
   * statement that starts late (queued in the pool, held by the network) cannot commit after the
   * client was answered. A store without a clock of its own (`databaseNow` undefined) gets no
   * deadline, and its failed write may still commit.
   */
  private guarded<T>(
    databaseNow: number | undefined,
    write: (deadline: number | undefined) => Promise<T>,
  ): Promise<T> {
    if (databaseNow === undefined) return this.bound('write', () => write(undefined));
    return this.bound('guarded-write', (remaining) => write(databaseNow + remaining() - this.replyMarginMs));
  }

  /**
   * Runs one call within `databaseTimeout`; any failure is a `GENERAL_ERROR`, never an auth
   * failure. `access` decides what the error may promise: a read or a timed-out guarded write
   * changed nothing; any other failed write may still commit, and says so. `operation` gets the
   * milliseconds left before the timeout (monotonic). A `SessionError` passes unchanged: it was
   * logged where it arose. A call inside a key-ring operation that has already failed (its timer
   * fired first) is not logged again.
   */
  private async bound<T>(
    access: StorageAccess,
    operation: (remaining: () => number) => Promise<T>,
    subject: Subject = 'sessions',
    own?: RingOperation,
  ): Promise<T> {
    // A key-ring call inside a ring operation belongs to the operations in flight (one, but for races).
    const enclosing = own ? [own] : subject === 'key-ring' ? [...this.ringOperations] : [];
    const started = performance.now();
    const remaining = () => this.timeoutMs - (performance.now() - started);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StorageTimeout(`no answer within databaseTimeout (${this.databaseTimeout} s)`)),
        this.timeoutMs,
      );
    });
    try {
      const result = await Promise.race([operation(remaining), timeout]);
      this.telemetry.databaseCall(access, subject, started, undefined, false);
      return result;
    } catch (error) {
      this.telemetry.databaseCall(access, subject, started, error, error instanceof StorageTimeout);
      const reported = enclosing.some((operation) => operation.failed);
      for (const operation of enclosing) operation.failed = true;
      if (error instanceof SessionError) throw error;
      const unchanged = access === 'read' || (access === 'guarded-write' && error instanceof StorageTimeout);
      const failure = FAILURE[subject];
      const outcome = unchanged ? 'nothing was changed' : 'outcome unknown';
      if (!reported) {
        this.logger.error(`${failure.log} (${outcome}): ${(error as Error)?.message ?? String(error)}`);
      }
      throw new SessionError(SessionError.GENERAL_ERROR, unchanged ? failure.unchanged : failure.unknown, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

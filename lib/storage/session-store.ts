import type { CleanupBatching } from './batched-cleaner.js';
import type { SigningKeyStore } from './signing-key-store.js';

/** A refresh token rotated away less than a grace period ago. */
export interface RefreshAncestor {
  /** Hash of the rotated token. */
  hash: string;
  generation: number;
  /** When it was rotated away, epoch ms. */
  rotatedAt: number;
}

/** One session as storage keeps it (times in epoch ms). */
export interface SessionRecord {
  handle: string;
  /** SHA-256 of the typed user id: exact comparison in every database and collation. */
  userKey: string;
  userId: string;
  userIdType: 'string' | 'number';
  refreshHash: string;
  generation: number;
  ancestors: RefreshAncestor[];
  /** The live refresh token sealed for grace-period replays, while an ancestor is inside the grace. */
  sealedLiveToken: string | null;
  /** When the last ancestor leaves the grace period (0 when none). */
  graceUntil: number;
  /** JSON text. */
  sessionData: string;
  /** JSON text. */
  jwtPayload: string;
  /** Shorter access-token lifetime chosen at login, in seconds. */
  accessTokenValidity: number | null;
  createdAt: number;
  lastRefreshedAt: number;
  expiresAt: number;
  absoluteExpiresAt: number | null;
}

/** What a revocation check reads. */
export type SessionState = Pick<SessionRecord, 'userKey' | 'generation' | 'ancestors' | 'expiresAt'>;

/** What a rotation writes. */
export type SessionRotation = Pick<
  SessionRecord,
  | 'refreshHash'
  | 'generation'
  | 'ancestors'
  | 'sealedLiveToken'
  | 'graceUntil'
  | 'lastRefreshedAt'
  | 'expiresAt'
>;

/** A session as a "your devices" page lists it. */
export interface SessionSummary {
  handle: string;
  createdAt: number;
  lastRefreshedAt: number;
  expiresAt: number;
}

/**
 * A row read together with the database's clock at the read (epoch ms), the anchor of a following
 * write's deadline. `databaseNow` is `undefined` for an in-process database, which cannot answer late.
 */
export interface SessionRead {
  record: SessionRecord | undefined;
  databaseNow: number | undefined;
}

/**
 * The storage port of the engine; `TypeOrmSessionStore` implements it. Every time in a record is on
 * the app's clock and is compared only with the app's clock; the database's own clock serves only
 * as the deadline of a write (a `deadline` argument), so an offset between the two never decides.
 */
export interface SessionStore extends SigningKeyStore {
  /** The database's clock now (epoch ms); `undefined` for an in-process database. */
  readDatabaseClock(): Promise<number | undefined>;
  /**
   * Inserts a new session only if the database's clock is before `deadline` (epoch ms on that
   * clock; `undefined`: no deadline); `false` when the deadline passed and nothing was inserted.
   */
  insertSession(record: SessionRecord, deadline?: number): Promise<boolean>;
  /** Reads a row outside any transaction snapshot, so it sees the latest committed rotation. */
  findSession(handle: string): Promise<SessionRecord | undefined>;
  /** {@link findSession} with the database's clock read by the same statement. */
  findSessionWithClock(handle: string): Promise<SessionRead>;
  /** The refresh state of a session, for per-request revocation checks (a narrow read). */
  findSessionState(handle: string): Promise<SessionState | undefined>;
  /**
   * Rotates only if the row still holds `expectedHash` and the database's clock is before
   * `deadline` (epoch ms on the database's clock; `undefined`: no deadline); `false` when another
   * request won or the deadline passed.
   */
  rotateRefreshToken(
    handle: string,
    expectedHash: string,
    rotation: SessionRotation,
    deadline: number | undefined,
  ): Promise<boolean>;
  /** Updates the data of a live session; `false` when there is none. */
  updateSessionData(handle: string, sessionData: string, now: number): Promise<boolean>;
  deleteSession(handle: string): Promise<boolean>;
  /** Deletes a session only if it belongs to the user. */
  deleteSessionOfUser(handle: string, userKey: string): Promise<boolean>;
  /** Deletes every session of a user but one; returns how many. */
  deleteOtherSessionsOfUser(userKey: string, keptHandle: string): Promise<number>;
  /** Deletes every session of a user in one statement; returns how many. */
  deleteSessionsOfUser(userKey: string): Promise<number>;
  /** Live sessions of a user, oldest first. */
  findSessionsOfUser(userKey: string, now: number): Promise<SessionSummary[]>;
  /**
   * Removes expired rows and seals past their grace period; returns the rows removed. With
   * `batching`, in bounded batches on one instance at a time (see `BatchedCleaner`); 0 when another
   * instance is cleaning.
   */
  deleteExpired(now: number, batching?: CleanupBatching): Promise<number>;
}

/** Injection token of the {@link SessionStore}. */
export const SESSION_STORE = Symbol('SESSION_STORE');

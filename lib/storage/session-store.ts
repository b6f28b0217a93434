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
  /** How often `jwtPayload` changed since creation, from 1 (tokens carry it as `pv`). */
  payloadVersion: number;
  /** When the user last proved who they are (sign-in or elevation), epoch ms; `null`: at `createdAt`. */
  authTime: number | null;
  /** JSON text of the RFC 8693 `act` claim (`{"sub":"…"}`) of an impersonation; `null` otherwise. */
  actor: string | null;
  /** The client's IP as `sessionMetadata.ip` keeps it (full, truncated or an HMAC); null when not kept. */
  ip: string | null;
  /** The `User-Agent` header, at most 512 characters. */
  userAgent: string | null;
  deviceBrowser: string | null;
  deviceOs: string | null;
  /** `desktop`, `mobile`, `tablet`, `tv` or `bot`. */
  deviceType: string | null;
  /** The login strategy's name, `direct` for `createNewSession`, `impersonation`. */
  loginMethod: string | null;
  /** A name the user gave the session at login. */
  label: string | null;
  /** Last refresh or (at most once a minute) `checkDatabase` request, epoch ms. */
  lastActiveAt: number | null;
  /**
   * `false`: a "remember me"-less session, whose cookies end with the browser session and whose
   * idle window is `refreshToken.nonPersistentValidity` (absent means `true`: rows of older versions).
   */
  persistent?: boolean;
}

/** Why and when a session was revoked, kept for its holder until `forgetAt` (epoch ms). */
export interface Revocation {
  reason: string;
  revokedAt: number;
  forgetAt: number;
}

/** The per-user session cap applied by {@link SessionStore.insertSessionWithinLimit}. */
export interface SessionLimit {
  /** Live sessions a user may hold, the new one included. */
  max: number;
  /** Which sessions give way: `'refuse'` inserts nothing when the user is at the cap. */
  policy: 'revoke-oldest' | 'revoke-least-recently-active' | 'refuse';
  /** What to record for the sessions that give way (`undefined`: keep no reason). */
  revocation: Revocation | undefined;
  /** Longest wait for the user's lock, in whole seconds. */
  lockWaitSeconds: number;
  /** Now, epoch ms (app clock): only sessions unexpired then count. */
  now: number;
}

/** What {@link SessionStore.insertSessionWithinLimit} did. */
export type LimitedInsert =
  | { outcome: 'inserted'; revokedHandles: string[] }
  | { outcome: 'refused' }
  /** The deadline passed: nothing changed. */
  | { outcome: 'late' };

/** What a revocation check reads. */
export type SessionState = Pick<
  SessionRecord,
  'userKey' | 'generation' | 'ancestors' | 'expiresAt' | 'lastActiveAt' | 'payloadVersion'
>;

/** What a refresh updates of the session metadata; a `null` or missing field keeps the stored value. */
export type SessionActivity = Partial<
  Pick<SessionRecord, 'ip' | 'userAgent' | 'deviceBrowser' | 'deviceOs' | 'deviceType' | 'lastActiveAt'>
>;

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
export interface SessionSummary extends Pick<
  SessionRecord,
  'ip' | 'userAgent' | 'deviceBrowser' | 'deviceOs' | 'deviceType' | 'loginMethod' | 'label' | 'lastActiveAt'
> {
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
    rotation: SessionRotation & SessionActivity,
    deadline: number | undefined,
  ): Promise<boolean>;
  /**
   * Sets `lastActiveAt` to `now` unless it is already after `notAfter` (epoch ms); `false` when
   * nothing changed. Several instances touching at once write once.
   */
  touchSession(handle: string, now: number, notAfter: number): Promise<boolean>;
  /** Updates the data of a live session; `false` when there is none. */
  updateSessionData(handle: string, sessionData: string, now: number): Promise<boolean>;
  /** Deletes a session; with `revocation`, records it for each deleted row in the same transaction. */
  deleteSession(handle: string, revocation?: Revocation): Promise<boolean>;
  /** Deletes a session only if it belongs to the user. */
  deleteSessionOfUser(handle: string, userKey: string, revocation?: Revocation): Promise<boolean>;
  /** Deletes every session of a user but one; returns how many. */
  deleteOtherSessionsOfUser(userKey: string, keptHandle: string, revocation?: Revocation): Promise<number>;
  /** Deletes every session of a user in one statement; returns how many. */
  deleteSessionsOfUser(userKey: string, revocation?: Revocation): Promise<number>;
  /** The recorded revocation of a session, unless forgotten by `now` (epoch ms). */
  findRevocation(handle: string, now: number): Promise<Revocation | undefined>;
  /**
   * Inserts a new session under a per-user cap, race-free across instances (a per-user database
   * lock): the sessions that give way are deleted (and their revocation recorded) in the same
   * transaction as the insert. `deadline` as for {@link insertSession}.
   */
  insertSessionWithinLimit(
    record: SessionRecord,
    limit: SessionLimit,
    deadline?: number,
  ): Promise<LimitedInsert>;
  /** Live sessions of a user, oldest first. */
  findSessionsOfUser(userKey: string, now: number): Promise<SessionSummary[]>;
  /**
   * Replaces the JWT payload of a live session only if its version is still `expectedVersion`, and
   * sets the version to `expectedVersion + 1`; `false` when the session is gone or changed meanwhile.
   */
  updateJwtPayload(
    handle: string,
    expectedVersion: number,
    jwtPayload: string,
    now: number,
  ): Promise<boolean>;
  /** Sets the authentication time of a live, non-impersonated session of the user; `false` when none. */
  updateAuthTime(handle: string, userKey: string, authTime: number, now: number): Promise<boolean>;
  /** Expired impersonations (rows with an actor), at most 1,000, so their end can be reported. */
  findExpiredImpersonations(
    now: number,
  ): Promise<Pick<SessionRecord, 'handle' | 'userId' | 'userIdType' | 'actor'>[]>;
  /** A user's impersonations (rows with an actor), at most 1,000. */
  findImpersonationsOfUser(
    userKey: string,
  ): Promise<Pick<SessionRecord, 'handle' | 'userId' | 'userIdType' | 'actor'>[]>;
  /**
   * Removes expired rows, seals past their grace period and forgotten revocations; returns the
   * session rows removed. With `batching`, in bounded batches on one instance at a time (see
   * `BatchedCleaner`); 0 when another instance is cleaning.
   */
  deleteExpired(now: number, batching?: CleanupBatching): Promise<number>;
}

/** Injection token of the {@link SessionStore}. */
export const SESSION_STORE = Symbol('SESSION_STORE');

import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { SessionErrorMessages as Messages } from './errors/session-error.messages.js';
import { SessionError } from './errors/session.error.js';
import type { ResolvedSessionOptions } from './interfaces/session-options.interface.js';
import type {
  CreateSessionOptions,
  CreatedSession,
  GetSessionOptions,
  IssuedToken,
  RefreshedSession,
  SessionInfo,
  SessionListEntry,
  VerifiedSession,
} from './interfaces/session.interface.js';
import {
  accessTokenTooLarge,
  assertSessionHandle,
  assertUserId,
  toJsonText,
  userKeyOf,
  type UserId,
} from './session.arguments.js';
import {
  MAX_JWT_PAYLOAD_BYTES,
  MAX_REMEMBERED_ANCESTORS,
  MAX_SESSION_DATA_BYTES,
  SESSION_CLOCK,
  SESSION_RESOLVED_OPTIONS,
  maxAccessTokenLength,
} from './session.constants.js';
import { SessionEvents } from './session.events.js';
import { SESSION_STORE, type SessionRecord, type SessionStore } from './storage/session-store.js';
import {
  accessTokenLength,
  signAccessToken,
  verifyAccessToken,
  type AccessTokenClaims,
  type AccessTokenVerifyOptions,
} from './tokens/access-token.js';
import type { SessionClock } from './tokens/clock.js';
import { VerifiedTokenCache, type VerifiedToken } from './tokens/verified-token-cache.js';
import {
  DEFAULT_RING_RELOAD_INTERVAL_MS,
  DEFAULT_UNKNOWN_KID_COOLDOWN_MS,
  type KeyRing,
} from './tokens/key-ring.js';
import { StaticKeyRing } from './tokens/static-key-ring.js';
import { StoredKeyRing } from './tokens/stored-key-ring.js';
import {
  deriveGenerationToken,
  hashRefreshToken,
  mintRefreshToken,
  newSessionHandle,
  parseRefreshToken,
} from './tokens/refresh-token.js';
import { couldBeOwnToken, type OwnTokenChecks, type OwnTokenKind } from './tokens/own-token.js';
import { constantTimeEqual, deriveSubKeys, open, seal, type SubKeys } from './tokens/secrets.js';

const SECOND = 1000;
/** Verified access tokens remembered per instance (about 1 KB each). */
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;
/** A rotation lost to a concurrent request is re-read this many times before giving up. */
const MAX_ROTATION_ATTEMPTS = 4;

/**
 * What a storage call does, which decides what its failure may promise: a read and a write guarded
 * by a deadline on the database's clock that timed out changed nothing; any other failed write may
 * still commit.
 */
type StorageAccess = 'read' | 'guarded-write' | 'write';

/** Our own `databaseTimeout` fired: the statement may still be queued or running. */
class StorageTimeout extends Error {}

/**
 * The framework-free session API: creates, verifies, refreshes and revokes sessions. Works on
 * token strings; `SessionService` wraps it for HTTP requests.
 */
@Injectable()
export class SessionEngine implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('SessionEngine');
  private readonly keys: SubKeys;
  private readonly gracePeriodMs: number;
  /** A guarded write must land this long before our timer fires, for its answer to reach us in time. */
  private readonly replyMarginMs: number;
  private ring!: KeyRing;
  private readonly verifyOptions: AccessTokenVerifyOptions;
  private readonly ownTokenChecks: OwnTokenChecks;
  private readonly verified = new VerifiedTokenCache(VERIFIED_TOKEN_CACHE_SIZE);
  private cleanupTimer: NodeJS.Timeout | undefined;
  private cleanupRun: Promise<unknown> | undefined;

  constructor(
    @Inject(SESSION_RESOLVED_OPTIONS) private readonly options: ResolvedSessionOptions,
    @Inject(SESSION_STORE) private readonly store: SessionStore,
    @Inject(SESSION_CLOCK) private readonly clock: SessionClock,
    private readonly events: SessionEvents,
  ) {
    this.keys = deriveSubKeys(options.secret);
    this.gracePeriodMs = options.refreshToken.gracePeriod * SECOND;
    this.replyMarginMs = Math.min(250, (options.databaseTimeout * SECOND) / 4);
    const { issuer, audience, clockTolerance } = options.accessToken;
    const maxLength = maxAccessTokenLength(options.cookie);
    this.verifyOptions = { issuer, audience, clockTolerance, maxLength };
    this.ownTokenChecks = {
      algorithm: options.accessToken.algorithm,
      maxLength,
      couldBeOwnKeyId: (kid) => this.ring.couldHaveMadeKeyId(kid),
      refreshTokenTag: this.keys.refreshTokenTag,
    };
  }

  /** Loads (or creates) the signing keys and starts the cleanup timer. */
  async onModuleInit(): Promise<void> {
    const { accessToken, cleanupInterval } = this.options;
    const timings = {
      updateInterval: accessToken.signingKey.updateInterval * SECOND,
      tokenLifetime: (accessToken.validity + accessToken.clockTolerance) * SECOND,
      reloadInterval: DEFAULT_RING_RELOAD_INTERVAL_MS,
      unknownKidCooldown: DEFAULT_UNKNOWN_KID_COOLDOWN_MS,
    };
    // The options checked static keys at start-up.
    this.ring = accessToken.signingKey.keys
      ? await StaticKeyRing.create(accessToken.algorithm, accessToken.signingKey.keys)
      : await StoredKeyRing.open(
          accessToken.algorithm,
          this.store,
          { seal: this.keys.keyRing, kid: this.keys.keyId },
          this.clock,
          timings,
        );
    if (cleanupInterval > 0) {
      this.cleanupTimer = setInterval(() => {
        this.cleanupRun ??= this.removeExpiredSessions()
          .catch(() => undefined)
          .finally(() => (this.cleanupRun = undefined));
      }, cleanupInterval * SECOND);
      this.cleanupTimer.unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.cleanupTimer);
    // A cleanup in flight ends before the data source closes (at shutdown), not fails against it.
    await this.cleanupRun;
  }

  /**
   * Starts a session for a user.
   * @throws SessionError `GENERAL_ERROR` for a bad argument (also a `userId` and `jwtPayload` whose
   * access token would not fit a 4096-byte cookie: the message names the argument and the limit;
   * nothing is written) or an unavailable database.
   */
  async createNewSession(
    userId: UserId,
    jwtPayload: unknown = {},
    sessionData: unknown = {},
    options: CreateSessionOptions = {},
  ): Promise<CreatedSession> {
    assertUserId(userId);
    const payloadText = toJsonText('jwtPayload', jwtPayload, MAX_JWT_PAYLOAD_BYTES);
    const dataText = toJsonText('sessionData', sessionData, MAX_SESSION_DATA_BYTES);
    const accessTokenValidity = this.accessTokenValidityOf(options.accessTokenValidity);
    const now = this.clock.now();
    const handle = newSessionHandle();
    const refreshToken = mintRefreshToken(this.keys.refreshTokenTag, handle, 1);
    const { absoluteLifetime, validity } = this.options.refreshToken;
    const absoluteExpiresAt = absoluteLifetime === undefined ? null : now + absoluteLifetime * SECOND;
    const record: SessionRecord = {
      handle,
      userKey: userKeyOf(userId),
      userId: String(userId),
      userIdType: typeof userId === 'number' ? 'number' : 'string',
      refreshHash: hashRefreshToken(refreshToken),
      generation: 1,
      ancestors: [],
      sealedLiveToken: null,
      graceUntil: 0,
      sessionData: dataText,
      jwtPayload: payloadText,
      accessTokenValidity,
      createdAt: now,
      lastRefreshedAt: now,
      expiresAt: Math.min(now + validity * SECOND, absoluteExpiresAt ?? Number.POSITIVE_INFINITY),
      absoluteExpiresAt,
    };
    // Every generation this session may reach must give a token that is accepted and fits a cookie.
    await this.assertAccessTokenFits(record, Number.MAX_SAFE_INTEGER, now, 'create');
    // Sign first: a signing failure must leave no row behind.
    const issued = await this.issueTokens(record, refreshToken, now);
    // The insert is bound to the database's clock like a rotation: a sign-in answered with an error
    // never leaves a session (a "device") behind whose tokens nobody received.
    const databaseNow = await this.storage(() => this.store.readDatabaseClock(), 'read');
    const inserted = await this.storage(
      (remaining) => this.store.insertSession(record, this.deadlineOn(databaseNow, remaining())),
      databaseNow === undefined ? 'write' : 'guarded-write',
    );
    if (!inserted) throw this.lateWrite('Sign-in');
    this.events.publish('session.created', { sessionHandle: handle, userId });
    return {
      session: issued.session,
      accessToken: issued.accessToken,
      refreshToken: issued.refreshToken,
      idRefreshToken: issued.idRefreshToken,
      antiCsrfToken: issued.antiCsrfToken,
    };
  }

  /**
   * Verifies an access token. Pass the request's anti-csrf token (`undefined` when missing, which
   * fails the check); only an explicit `null` skips it.
   * @throws SessionError `TRY_REFRESH_TOKEN` for a missing, expired, invalid or stale token or a
   * failed anti-csrf check; `UNAUTHORISED` for a revoked session (with `checkDatabase`);
   * `GENERAL_ERROR` when the database is needed and unavailable.
   */
  async getSession(
    accessToken: string | undefined,
    antiCsrfToken: string | null | undefined,
    options: GetSessionOptions = {},
  ): Promise<VerifiedSession> {
    // A token verified before needs no await: most requests end here.
    const verified = this.previouslyVerified(accessToken) ?? (await this.verifyAccessToken(accessToken));
    const { claims } = verified;
    if (this.options.antiCsrf === 'token' && antiCsrfToken !== null) {
      verified.antiCsrf ??= deriveGenerationToken(this.keys.antiCsrf, claims.handle, claims.generation);
      if (typeof antiCsrfToken !== 'string' || !constantTimeEqual(antiCsrfToken, verified.antiCsrf)) {
        throw this.tryRefresh(Messages.antiCsrfMismatch);
      }
    }
    if (options.checkDatabase ?? this.options.accessToken.blacklisting) {
      await this.assertLiveGeneration(claims);
    }
    return verified.result;
  }

  /**
   * Whether a value could be one of this deployment's tokens of `kind` (shape, `typ`, algorithm and a
   * `kid` the ring could have made; a refresh token's tag), without storage. See {@link couldBeOwnToken}.
   */
  couldBeOwnToken(value: unknown, kind: OwnTokenKind): boolean {
    return couldBeOwnToken(value, kind, this.ownTokenChecks);
  }

  /**
   * Rotates a refresh token: the current one gets a successor; one rotated away less than a grace
   * period ago gets the live token; any older one is theft and revokes the session.
   * @throws SessionError `UNAUTHORISED` for an invalid token, a gone session, or one stored by an
   * older version whose access token no longer fits a cookie (not rotated: sign in again);
   * `UNAUTHORISED_AND_TOKEN_THEFT_DETECTED` on reuse; `GENERAL_ERROR` when the database is unavailable.
   */
  async refreshSession(refreshToken: string | undefined): Promise<RefreshedSession> {
    const claims = parseRefreshToken(this.keys.refreshTokenTag, refreshToken);
    if (!claims) throw new SessionError(SessionError.UNAUTHORISED, Messages.refreshTokenInvalid);
    const token = refreshToken as string;
    const hash = hashRefreshToken(token);
    let refused = false;
    for (let attempt = 0; attempt < MAX_ROTATION_ATTEMPTS; attempt++) {
      const { record, databaseNow } = await this.storage(
        () => this.store.findSessionWithClock(claims.handle),
        'read',
      );
      const now = this.clock.now();
      if (!record || record.expiresAt <= now) {
        throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
      }
      if (constantTimeEqual(record.refreshHash, hash)) {
        // Refused, yet the token is still the current one: nobody else rotated, the deadline passed.
        if (refused) throw this.lateWrite('Refresh');
        // Before the write: a rotation must not commit a token that could not be delivered.
        await this.assertAccessTokenFits(record, record.generation + 1, now, 'refresh');
        const rotated = await this.rotate(record, now, databaseNow);
        if (rotated) return this.refreshed(await this.issueTokens(rotated.record, rotated.token, now), false);
        refused = true;
        continue; // Another request rotated first (or the deadline passed): re-read to tell which.
      }
      const ancestor = record.ancestors.find((candidate) => constantTimeEqual(candidate.hash, hash));
      // Rotated away by the request we just lost to: a replay whatever the clocks of the two hosts.
      if (ancestor && (refused || ancestor.rotatedAt + this.gracePeriodMs > now)) {
        const live = this.openLiveToken(record);
        if (live) return this.refreshed(await this.issueTokens(record, live, now), true);
      }
      await this.storage(() => this.store.deleteSession(record.handle), 'write');
      const theft = { sessionHandle: record.handle, userId: userIdOf(record) };
      this.events.publish('session.theft-detected', theft);
      this.events.publish('session.revoked', { reason: 'theft', ...theft, count: 1 });
      throw new SessionError(SessionError.UNAUTHORISED_AND_TOKEN_THEFT_DETECTED, Messages.tokenTheft, {
        theft,
      });
    }
    this.logger.error(
      `Refresh refused: ${MAX_ROTATION_ATTEMPTS} rotations in a row changed nothing (concurrent refreshes of one session).`,
    );
    throw new SessionError(SessionError.GENERAL_ERROR, Messages.databaseUnavailable);
  }

  /**
   * The data of a live session.
   * @throws SessionError `UNAUTHORISED` when the session is gone; `GENERAL_ERROR` for a malformed
   * handle or an unavailable database.
   */
  async getSessionData(sessionHandle: string): Promise<unknown> {
    const record = await this.findLiveSession(sessionHandle);
    return JSON.parse(record.sessionData);
  }

  /**
   * Replaces the data of a live session.
   * @throws SessionError `UNAUTHORISED` when the session is gone; `GENERAL_ERROR` for bad arguments
   * or an unavailable database.
   */
  async updateSessionData(sessionHandle: string, newSessionData: unknown): Promise<void> {
    assertSessionHandle(sessionHandle);
    const text = toJsonText('sessionData', newSessionData, MAX_SESSION_DATA_BYTES);
    const now = this.clock.now();
    const updated = await this.storage(() => this.store.updateSessionData(sessionHandle, text, now), 'write');
    if (!updated) throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
  }

  /**
   * Revokes one session; `false` when there was none.
   * @throws SessionError `GENERAL_ERROR` for a malformed handle or an unavailable database.
   */
  async revokeSessionUsingSessionHandle(sessionHandle: string): Promise<boolean> {
    assertSessionHandle(sessionHandle);
    const revoked = await this.storage(() => this.store.deleteSession(sessionHandle), 'write');
    if (revoked) this.events.publish('session.revoked', { reason: 'revoke', sessionHandle, count: 1 });
    return revoked;
  }

  /**
   * Revokes a session only if it belongs to `userId` ("sign out that device" pages); `false` for a
   * handle of another user or no session.
   * @throws SessionError `GENERAL_ERROR` for bad arguments or an unavailable database.
   */
  async revokeSessionForUser(sessionHandle: string, userId: UserId): Promise<boolean> {
    assertSessionHandle(sessionHandle);
    assertUserId(userId);
    const revoked = await this.storage(
      () => this.store.deleteSessionOfUser(sessionHandle, userKeyOf(userId)),
      'write',
    );
    if (revoked)
      this.events.publish('session.revoked', { reason: 'revoke-for-user', sessionHandle, userId, count: 1 });
    return revoked;
  }

  /**
   * Revokes every session of a user except one ("sign out everywhere else"); returns how many.
   * @throws SessionError `GENERAL_ERROR` for bad arguments or an unavailable database.
   */
  async revokeOtherSessions(userId: UserId, keptSessionHandle: string): Promise<number> {
    assertUserId(userId);
    assertSessionHandle(keptSessionHandle);
    const count = await this.storage(
      () => this.store.deleteOtherSessionsOfUser(userKeyOf(userId), keptSessionHandle),
      'write',
    );
    if (count > 0) this.events.publish('session.revoked', { reason: 'revoke-others', userId, count });
    return count;
  }

  /**
   * Revokes every session of a user in one statement; returns how many.
   * @throws SessionError `GENERAL_ERROR` for a bad user id or an unavailable database.
   */
  async revokeAllSessionsForUser(userId: UserId): Promise<number> {
    assertUserId(userId);
    const count = await this.storage(() => this.store.deleteSessionsOfUser(userKeyOf(userId)), 'write');
    if (count > 0) this.events.publish('session.revoked', { reason: 'revoke-all', userId, count });
    return count;
  }

  /**
   * Handles of a user's live sessions.
   * @throws SessionError `GENERAL_ERROR` for a bad user id or an unavailable database.
   */
  async getAllSessionHandlesForUser(userId: UserId): Promise<string[]> {
    return (await this.listSessionsForUser(userId)).map((entry) => entry.handle);
  }

  /**
   * A user's live sessions with their times, oldest first (for "your devices" pages).
   * @throws SessionError `GENERAL_ERROR` for a bad user id or an unavailable database.
   */
  async listSessionsForUser(userId: UserId): Promise<SessionListEntry[]> {
    assertUserId(userId);
    const now = this.clock.now();
    return this.storage(() => this.store.findSessionsOfUser(userKeyOf(userId), now), 'read');
  }

  /**
   * Publishes a new signing key and retires the current one. Returns the new key's id.
   * - Normal: the new key signs after one ring reload interval (every instance has seen it by
   *   then); the old keys keep verifying until their last tokens expire, so nobody must refresh.
   * - `immediately: true`, the answer to a leaked key: the new key signs at once and every other
   *   key stops verifying and leaves the JWKS, at once on this instance (its verified-token cache
   *   included) and on every other instance at its next ring reload, at most
   *   `DEFAULT_RING_RELOAD_INTERVAL_MS` (60 s) later. Holders of tokens signed by a retired key get
   *   `TRY_REFRESH_TOKEN` and refresh (refresh tokens do not depend on signing keys).
   * @throws SessionError `GENERAL_ERROR` with static keys or an unavailable database.
   */
  async rotateSigningKeys(options: { immediately?: boolean } = {}): Promise<string> {
    return this.storage(() => this.ring.rotate(options));
  }

  /** The public keys that verify access tokens, as a JWKS document (no keys for HS256). */
  getJwks(): { keys: Record<string, unknown>[] } {
    // Follows a retirement made elsewhere from the next call on; checks need no database.
    void this.ring.reloadIfStale()?.catch(() => undefined);
    return this.ring.jwks() as { keys: Record<string, unknown>[] };
  }

  /**
   * Removes expired sessions (the cleanup timer calls it every `cleanupInterval`); returns how many.
   * @throws SessionError `GENERAL_ERROR` when the database is unavailable (after a timeout the
   * removal may still complete).
   */
  async removeExpiredSessions(): Promise<number> {
    const now = this.clock.now();
    return this.storage(() => this.store.deleteExpired(now), 'write');
  }

  /** A login's shorter access-token lifetime, checked against the configured maximum. */
  private accessTokenValidityOf(validity: number | undefined): number | null {
    if (validity === undefined) return null;
    const max = this.options.accessToken.validity;
    if (!Number.isInteger(validity) || validity < 1 || validity > max) {
      throw new SessionError(
        SessionError.GENERAL_ERROR,
        `accessTokenValidity must be a whole number of seconds from 1 to accessToken.validity (${max}), got ${JSON.stringify(validity)}.`,
      );
    }
    return validity;
  }

  /** Verifies an access token, cryptographically once per token string and instance. */
  /** This instance's earlier verification of the token, while it holds. */
  private previouslyVerified(accessToken: string | undefined): VerifiedToken | undefined {
    if (accessToken === undefined) return undefined;
    const now = this.clock.now();
    // A ring due for a reload is reloaded first (resolveKey), so a key retired elsewhere stops here.
    if (this.ring.isStale(now)) return undefined;
    const cached = this.verified.get(accessToken, now);
    // The entry holds only while its key is still the ring's (a reload may retire it).
    return cached !== undefined && this.ring.cachedKey(cached.key.kid) === cached.key ? cached : undefined;
  }

  private async verifyAccessToken(accessToken: string | undefined): Promise<VerifiedToken> {
    if (accessToken === undefined || accessToken === '') throw this.tryRefresh(Messages.accessTokenMissing);
    const now = this.clock.now();
    const verified = await verifyAccessToken(accessToken, this.resolveKey, now, this.verifyOptions);
    if (!verified) throw this.tryRefresh(Messages.accessTokenInvalid);
    const { claims, key } = verified;
    const session = {
      handle: claims.handle,
      userId: claims.userId,
      jwtPayload: deepFreeze(claims.jwtPayload),
    };
    const entry: VerifiedToken = {
      claims,
      key,
      result: Object.freeze({ session: Object.freeze(session) }),
      validUntil: Math.min(
        claims.expiresAt + this.options.accessToken.clockTolerance * SECOND,
        key.verifyUntil,
      ),
    };
    this.verified.set(accessToken, entry);
    return entry;
  }

  /**
   * The ring's key for a `kid`: cached, or after a (rate-limited) reload; storage failures surface.
   * A ring older than its reload interval is reloaded first; if that fails, the cached ring serves.
   */
  private readonly resolveKey = (kid: string) => {
    const reload = this.ring.reloadIfStale();
    if (reload === undefined) return this.lookupKey(kid);
    const lookup = () => this.lookupKey(kid);
    return this.storage(() => reload, 'read').then(lookup, lookup);
  };

  private lookupKey(kid: string) {
    return this.ring.cachedKey(kid) ?? this.storage(() => this.ring.verificationKey(kid), 'read');
  }

  private async assertLiveGeneration(claims: AccessTokenClaims): Promise<void> {
    const record = await this.storage(() => this.store.findSessionState(claims.handle), 'read');
    const now = this.clock.now();
    if (!record || record.expiresAt <= now) {
      throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    }
    // The token names its user; the row must be that user's, byte for byte (a token signed for
    // another user with this session's id is not this session's).
    if (!constantTimeEqual(record.userKey, userKeyOf(claims.userId))) {
      throw new SessionError(SessionError.UNAUTHORISED, Messages.accessTokenWrongUser);
    }
    const current = record.generation === claims.generation;
    const recent = record.ancestors.some(
      (ancestor) =>
        ancestor.generation === claims.generation && ancestor.rotatedAt + this.gracePeriodMs > now,
    );
    if (!current && !recent) throw this.tryRefresh(Messages.accessTokenStale);
  }

  private async findLiveSession(sessionHandle: string): Promise<SessionRecord> {
    assertSessionHandle(sessionHandle);
    const record = await this.storage(() => this.store.findSession(sessionHandle), 'read');
    if (!record || record.expiresAt <= this.clock.now()) {
      throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    }
    return record;
  }

  /** Rotates `record`, read when the database's clock showed `databaseNow`. */
  private async rotate(
    record: SessionRecord,
    now: number,
    databaseNow: number | undefined,
  ): Promise<{ record: SessionRecord; token: string } | undefined> {
    const generation = record.generation + 1;
    const token = mintRefreshToken(this.keys.refreshTokenTag, record.handle, generation);
    const ancestors = record.ancestors
      .filter((ancestor) => ancestor.rotatedAt + this.gracePeriodMs > now)
      .concat({ hash: record.refreshHash, generation: record.generation, rotatedAt: now })
      .slice(-MAX_REMEMBERED_ANCESTORS);
    const rotation = {
      refreshHash: hashRefreshToken(token),
      generation,
      ancestors,
      sealedLiveToken: seal(this.keys.liveTokenSeal, token, `${record.handle}.${generation}`),
      graceUntil: now + this.gracePeriodMs,
      lastRefreshedAt: now,
      expiresAt: Math.min(
        now + this.options.refreshToken.validity * SECOND,
        record.absoluteExpiresAt ?? Number.POSITIVE_INFINITY,
      ),
    };
    const won = await this.storage(
      (remaining) =>
        this.store.rotateRefreshToken(
          record.handle,
          record.refreshHash,
          rotation,
          this.deadlineOn(databaseNow, remaining()),
        ),
      databaseNow === undefined ? 'write' : 'guarded-write',
    );
    return won ? { record: { ...record, ...rotation }, token } : undefined;
  }

  /**
   * The deadline of a guarded write on the database's clock: `databaseNow`, read before the write's
   * storage call began, plus what is left of that call's `databaseTimeout`, less the reply margin.
   * Only a duration measured here is added to a time read there, so no offset between the app's
   * clock and the database's moves it; the database's clock at our timeout is at least this late,
   * so a statement that starts late (queued in the pool, held by the network) cannot commit after
   * the client was answered. `undefined` (no deadline) for a store without a clock of its own.
   */
  private deadlineOn(databaseNow: number | undefined, remainingMs: number): number | undefined {
    return databaseNow === undefined ? undefined : databaseNow + remainingMs - this.replyMarginMs;
  }

  /** A guarded write that reached the database after its deadline and changed nothing. */
  private lateWrite(what: 'Sign-in' | 'Refresh'): SessionError {
    const cause = new Error(
      `${what} refused: its write reached the database after its deadline on the database's clock ` +
        `(databaseTimeout ${this.options.databaseTimeout} s less ${this.replyMarginMs} ms); the database or its connection pool is too slow`,
    );
    this.logger.error(`Session store failure: ${cause.message}`);
    return new SessionError(SessionError.GENERAL_ERROR, Messages.databaseUnavailable, { cause });
  }

  private openLiveToken(record: SessionRecord): string | undefined {
    if (!record.sealedLiveToken) return undefined;
    const live = open(
      this.keys.liveTokenSeal,
      record.sealedLiveToken,
      `${record.handle}.${record.generation}`,
    );
    return live !== undefined && constantTimeEqual(hashRefreshToken(live), record.refreshHash)
      ? live
      : undefined;
  }

  /**
   * Refuses a session whose access token at `generation` would be longer than the limit both the
   * verifier and a browser cookie accept (`maxAccessTokenLength`). The size is exact (computed as
   * signed, see `accessTokenLength`); a new session is checked at the largest generation it can
   * reach, so none of its refreshes can outgrow it. Only sessions stored by older versions, or
   * under other cookie options or keys, can fail at refresh: they must sign in again.
   */
  private async assertAccessTokenFits(
    record: SessionRecord,
    generation: number,
    now: number,
    on: 'create' | 'refresh',
  ): Promise<void> {
    const signer = await this.storage(() => this.ring.signingKey());
    const { issuer, audience, validity } = this.options.accessToken;
    const limit = this.verifyOptions.maxLength;
    const claims = {
      userId: userIdOf(record),
      handle: record.handle,
      generation,
      jwtPayload: JSON.parse(record.jwtPayload) as unknown,
    };
    const lengthWith = (jwtPayload: unknown) =>
      accessTokenLength(signer, { ...claims, jwtPayload }, now, now + validity * SECOND, {
        issuer,
        audience,
      });
    const length = lengthWith(claims.jwtPayload);
    if (length <= limit) return;
    throw accessTokenTooLarge({
      on,
      length,
      limit,
      algorithm: signer.algorithm,
      culprit: lengthWith({}) > limit ? 'userId' : 'jwtPayload',
      userId: claims.userId,
      jwtPayloadBytes: Buffer.byteLength(record.jwtPayload),
    });
  }

  private async issueTokens(record: SessionRecord, refreshToken: string, now: number) {
    const session: SessionInfo = {
      handle: record.handle,
      userId: userIdOf(record),
      jwtPayload: JSON.parse(record.jwtPayload),
    };
    const validity = (record.accessTokenValidity ?? this.options.accessToken.validity) * SECOND;
    const accessExpires = Math.min(now + validity, record.expiresAt);
    const signer = await this.storage(() => this.ring.signingKey());
    const { issuer, audience } = this.options.accessToken;
    const accessToken: IssuedToken = {
      value: await signAccessToken(
        signer,
        {
          userId: session.userId,
          handle: record.handle,
          generation: record.generation,
          jwtPayload: session.jwtPayload,
        },
        now,
        accessExpires,
        { issuer, audience },
      ),
      expires: Math.floor(accessExpires / SECOND) * SECOND,
    };
    // assertAccessTokenFits ran before any write; this only guards that its size stays exact.
    if (accessToken.value.length > this.verifyOptions.maxLength) {
      throw new SessionError(SessionError.GENERAL_ERROR, Messages.internal);
    }
    return {
      session,
      accessToken,
      refreshToken: { value: refreshToken, expires: record.expiresAt },
      idRefreshToken: {
        value: deriveGenerationToken(this.keys.idRefreshToken, record.handle, record.generation),
        expires: record.expiresAt,
      },
      antiCsrfToken:
        this.options.antiCsrf === 'token'
          ? deriveGenerationToken(this.keys.antiCsrf, record.handle, record.generation)
          : undefined,
    };
  }

  private refreshed(
    issued: Awaited<ReturnType<SessionEngine['issueTokens']>>,
    replay: boolean,
  ): RefreshedSession {
    this.events.publish('session.refreshed', {
      sessionHandle: issued.session.handle,
      userId: issued.session.userId,
      replay,
    });
    return {
      session: issued.session,
      newAccessToken: issued.accessToken,
      newRefreshToken: issued.refreshToken,
      newIdRefreshToken: issued.idRefreshToken,
      newAntiCsrfToken: issued.antiCsrfToken,
    };
  }

  private tryRefresh(message: string): SessionError {
    return new SessionError(SessionError.TRY_REFRESH_TOKEN, message, {
      status: this.options.sessionExpiredStatusCode,
    });
  }

  /**
   * Runs a storage call within `databaseTimeout`; any failure of it is a `GENERAL_ERROR`, never an
   * auth failure. The deadline is ours because drivers do not bound every wait (a mysql2 connection
   * whose query timed out keeps the next queries queued behind it). `access` decides what the error
   * may promise: a read or a timed-out guarded write changed nothing; any other failed write may
   * still commit, and says so. `operation` gets the milliseconds left before the timeout (monotonic).
   */
  private async storage<T>(
    operation: (remaining: () => number) => Promise<T>,
    access: StorageAccess = 'write',
  ): Promise<T> {
    const timeoutMs = this.options.databaseTimeout * SECOND;
    const started = performance.now();
    const remaining = () => timeoutMs - (performance.now() - started);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new StorageTimeout(`no answer within databaseTimeout (${this.options.databaseTimeout} s)`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([operation(remaining), deadline]);
    } catch (error) {
      if (error instanceof SessionError) throw error;
      const unchanged = access === 'read' || (access === 'guarded-write' && error instanceof StorageTimeout);
      const outcome = unchanged ? 'nothing was changed' : 'outcome unknown';
      this.logger.error(`Session store failure (${outcome}): ${(error as Error)?.message ?? String(error)}`);
      throw new SessionError(
        SessionError.GENERAL_ERROR,
        unchanged ? Messages.databaseUnavailable : Messages.databaseOutcomeUnknown,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Freezes a JSON value all the way down: one parsed payload is shared by every request of a token. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

function userIdOf(record: SessionRecord): UserId {
  return record.userIdType === 'number' ? Number(record.userId) : record.userId;
}

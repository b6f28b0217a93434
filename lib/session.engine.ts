import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { SessionErrorMessages as Messages } from './errors/session-error.messages.js';
import { SessionError } from './errors/session.error.js';
import type { ResolvedSessionOptions } from './interfaces/session-options.interface.js';
import type {
  CreateSessionOptions,
  CreatedSession,
  GetSessionOptions,
  RefreshedSession,
  VerifiedSession,
} from './interfaces/session.interface.js';
import { AccessTokenVerifier, tryRefreshError } from './engine/access-verifier.js';
import { BoundedSessionStore } from './engine/bounded-store.js';
import { SessionTokenIssuer, renewed, userIdOf } from './engine/token-issuer.js';
import {
  accessTokenValidityOf,
  assertUserId,
  toJsonText,
  userKeyOf,
  type UserId,
} from './session.arguments.js';
import {
  MAX_JWT_PAYLOAD_BYTES,
  MAX_REMEMBERED_ANCESTORS,
  maxAccessTokenLength,
  MAX_SESSION_DATA_BYTES,
  SESSION_CLOCK,
  SESSION_RESOLVED_OPTIONS,
} from './session.constants.js';
import { SessionEvents } from './session.events.js';
import { SessionHandleOperations } from './engine/handle-operations.js';
import { SESSION_STORE, type SessionRecord, type SessionStore } from './storage/session-store.js';
import {
  classifyRefresh,
  firstExpiry,
  generationLiveness,
  isLiveSession,
  nextRotation,
  openLiveToken,
  refreshPolicyOf,
  type RefreshPolicy,
} from './tokens/refresh-rotation.js';
import type { AccessTokenClaims } from './tokens/access-token.js';
import type { SessionClock } from './tokens/clock.js';
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
import { constantTimeEqual, deriveSubKeys, type SubKeys } from './tokens/secrets.js';

const SECOND = 1000;
/** A rotation lost to a concurrent request is re-read this many times before giving up. */
const MAX_ROTATION_ATTEMPTS = 4;

/**
 * The framework-free session API: creates, verifies, refreshes and revokes sessions. Works on
 * token strings; `SessionService` wraps it for HTTP requests.
 */
@Injectable()
export class SessionEngine extends SessionHandleOperations implements OnModuleInit, OnModuleDestroy {
  private readonly logger: Logger;
  private readonly keys: SubKeys;
  private readonly policy: RefreshPolicy;
  private ring!: KeyRing;
  private verifier!: AccessTokenVerifier;
  private readonly issuer: SessionTokenIssuer;
  private readonly ownTokenChecks: OwnTokenChecks;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private cleanupRun: Promise<unknown> | undefined;
  private readonly cleanupStop = new AbortController();

  constructor(
    @Inject(SESSION_RESOLVED_OPTIONS) private readonly options: ResolvedSessionOptions,
    @Inject(SESSION_STORE) store: SessionStore,
    @Inject(SESSION_CLOCK) clock: SessionClock,
    events: SessionEvents,
  ) {
    const logger = new Logger('SessionEngine');
    super(new BoundedSessionStore(store, options.databaseTimeout, logger), clock, events);
    this.logger = logger;
    this.keys = deriveSubKeys(options.secret);
    this.policy = refreshPolicyOf(options.refreshToken, MAX_REMEMBERED_ANCESTORS);
    this.issuer = new SessionTokenIssuer(options, this.keys, () =>
      this.db.keyRing('write', () => this.ring.signingKey()),
    );
    this.ownTokenChecks = {
      algorithm: options.accessToken.algorithm,
      maxLength: maxAccessTokenLength(options.cookie),
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
    // The options checked static keys at start-up; a stored ring loads (or makes) its keys.
    this.ring = accessToken.signingKey.keys
      ? await StaticKeyRing.create(accessToken.algorithm, accessToken.signingKey.keys)
      : // Each of its store calls is bounded on its own (a load says "loaded", an insert "updated").
        await StoredKeyRing.open(
          accessToken.algorithm,
          this.db.signingKeys,
          { seal: this.keys.keyRing, kid: this.keys.keyId },
          this.clock,
          timings,
        );
    this.verifier = new AccessTokenVerifier(this.ring, this.db, this.clock, this.options);
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
    this.cleanupStop.abort();
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
    const accessTokenValidity = accessTokenValidityOf(
      options.accessTokenValidity,
      this.options.accessToken.validity,
    );
    const now = this.clock.now();
    const handle = newSessionHandle();
    const refreshToken = mintRefreshToken(this.keys.refreshTokenTag, handle, 1);
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
      ...firstExpiry(now, this.policy),
    };
    // Every generation this session may reach must give a token that is accepted and fits a cookie.
    await this.issuer.assertAccessTokenFits(record, Number.MAX_SAFE_INTEGER, now, 'create');
    // Sign first: a signing failure must leave no row behind.
    const issued = await this.issuer.issue(record, refreshToken, now);
    await this.db.insertSession(record);
    this.events.publish('session.created', { sessionHandle: handle, userId });
    return issued;
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
    const verified =
      this.verifier.previouslyVerified(accessToken) ?? (await this.verifier.verify(accessToken));
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
      const { record, databaseNow } = await this.db.findSessionWithClock(claims.handle);
      const now = this.clock.now();
      if (!isLiveSession(record, now)) {
        throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
      }
      const verdict = classifyRefresh(record, hash, now, this.policy.gracePeriod, refused);
      if (verdict.kind === 'current') {
        // Refused, yet the token is still the current one: nobody else rotated, the deadline passed.
        if (refused) throw this.db.lateWrite('Refresh');
        // Before the write: a rotation must not commit a token that could not be delivered.
        await this.issuer.assertAccessTokenFits(record, record.generation + 1, now, 'refresh');
        const { rotation, token } = nextRotation(record, now, this.policy, this.keys);
        if (await this.db.rotateRefreshToken(record.handle, record.refreshHash, rotation, databaseNow)) {
          return this.refreshed(await this.issuer.issue({ ...record, ...rotation }, token, now), false);
        }
        refused = true;
        continue; // Another request rotated first (or the deadline passed): re-read to tell which.
      }
      const live = verdict.kind === 'replay' ? openLiveToken(this.keys.liveTokenSeal, record) : undefined;
      if (live) return this.refreshed(await this.issuer.issue(record, live, now), true);
      await this.db.deleteSession(record.handle);
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
    return this.db.keyRing('write', () => this.ring.rotate(options));
  }

  /** The public keys that verify access tokens, as a JWKS document (no keys for HS256). */
  getJwks(): { keys: Record<string, unknown>[] } {
    // Follows a retirement made elsewhere from the next call on; checks need no database.
    void this.ring.reloadIfStale()?.catch(() => undefined);
    return this.ring.jwks() as { keys: Record<string, unknown>[] };
  }

  /**
   * Removes expired sessions (the cleanup timer calls it every `cleanupInterval`) in batches of
   * `cleanupBatchSize` rows, `cleanupBatchPause` apart, on one instance at a time; returns how many
   * (0 when another instance is cleaning).
   * @throws SessionError `GENERAL_ERROR` when the database is unavailable (after a timeout the
   * removal may still complete).
   */
  async removeExpiredSessions(): Promise<number> {
    const { cleanupBatchSize: batchSize, cleanupBatchPause: pause } = this.options;
    const batching = { batchSize, pauseMs: pause * SECOND, signal: this.cleanupStop.signal };
    return this.db.deleteExpiredInBatches(this.clock.now(), batching);
  }

  private async assertLiveGeneration(claims: AccessTokenClaims): Promise<void> {
    const record = await this.db.findSessionState(claims.handle);
    const liveness = generationLiveness(record, claims.generation, this.clock.now(), this.policy.gracePeriod);
    if (liveness === 'gone') throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    // The token names its user; the row must be that user's, byte for byte (a token signed for
    // another user with this session's id is not this session's).
    if (!constantTimeEqual(record!.userKey, userKeyOf(claims.userId))) {
      throw new SessionError(SessionError.UNAUTHORISED, Messages.accessTokenWrongUser);
    }
    if (liveness === 'stale') throw this.tryRefresh(Messages.accessTokenStale);
  }

  private refreshed(issued: CreatedSession, replay: boolean): RefreshedSession {
    this.events.publish('session.refreshed', {
      sessionHandle: issued.session.handle,
      userId: issued.session.userId,
      replay,
    });
    return renewed(issued);
  }

  private tryRefresh(message: string): SessionError {
    return tryRefreshError(message, this.options.sessionExpiredStatusCode);
  }
}

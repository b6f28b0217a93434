import type { JwtPayloadPatch } from './claims/payload-merge.js';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { SessionErrorMessages as Messages } from './errors/session-error.messages.js';
import { SessionError } from './errors/session.error.js';
import type { ResolvedSessionOptions } from './interfaces/session-options.interface.js';
import type {
  CreateSessionOptions,
  CreatedSession,
  GetSessionOptions,
  RefreshSessionOptions,
  RefreshedSession,
  VerifiedSession,
} from './interfaces/session.interface.js';
import { AccessTokenVerifier, tryRefreshError } from './engine/access-verifier.js';
import { SessionAdmission } from './engine/session-admission.js';
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
import { openKeyRing } from './engine/key-ring-opening.js';
import { SessionTelemetry } from './observability/session-telemetry.js';
import { checkSessionHealth, type SessionHealth } from './observability/session-health.js';
import type { RevocationMonitor, RevocationStatus } from './revocation/revocation.monitor.js';
import { SESSION_REVOCATION_MONITOR } from './revocation/revocation.providers.js';
import { SessionHandleOperations } from './engine/handle-operations.js';
import {
  LAST_ACTIVE_INTERVAL_MS,
  SessionMetadataCapture,
  sessionMetadataOf,
  withActivity,
} from './metadata/session-metadata.js';
import { SessionClaimsOperations } from './claims/claims-operations.js';
import { impersonationFields } from './claims/impersonation.js';
import { idlePolicyOf, insertWithinLimit, persistentOf } from './engine/session-limit.js';
import { REVOCATION_REASONS } from './revocation/revocation-reasons.js';
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
import type { KeyRing } from './tokens/key-ring.js';
import { StoredKeyRing } from './tokens/stored-key-ring.js';
import {
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
  private readonly metadata: SessionMetadataCapture;
  private readonly admission: SessionAdmission;
  private cleanupTimer: NodeJS.Timeout | undefined;
  private cleanupRun: Promise<unknown> | undefined;
  /** Changes of a live session's claims (payload, `auth_time`); `SessionService` delivers their tokens. */
  readonly claims: SessionClaimsOperations;
  private readonly cleanupStop = new AbortController();

  constructor(
    @Inject(SESSION_RESOLVED_OPTIONS) private readonly options: ResolvedSessionOptions,
    @Inject(SESSION_STORE) store: SessionStore,
    @Inject(SESSION_CLOCK) clock: SessionClock,
    events: SessionEvents,
    @Optional() private readonly telemetry: SessionTelemetry = SessionTelemetry.off,
    @Optional()
    @Inject(SESSION_REVOCATION_MONITOR)
    private readonly revocationBus: RevocationMonitor | null = null,
  ) {
    const logger = new Logger('SessionEngine');
    const db = new BoundedSessionStore(store, options.databaseTimeout, logger, telemetry);
    super(db, clock, events, options.revocationReasonRetention);
    this.logger = logger;
    this.keys = deriveSubKeys(options.secret);
    this.policy = refreshPolicyOf(options.refreshToken, MAX_REMEMBERED_ANCESTORS);
    this.issuer = new SessionTokenIssuer(options, this.keys, () =>
      this.db.keyRing('write', () => this.ring.signingKey()),
    );
    this.claims = new SessionClaimsOperations(this.db, this.issuer, clock, events, (reason) =>
      this.revocation(reason),
    );
    this.ownTokenChecks = {
      algorithm: options.accessToken.algorithm,
      maxLength: maxAccessTokenLength(options.cookie),
      couldBeOwnKeyId: (kid) => this.ring.couldHaveMadeKeyId(kid),
      refreshTokenTag: this.keys.refreshTokenTag,
    };
    this.metadata = new SessionMetadataCapture(options.sessionMetadata, this.keys.metadataIp);
    this.admission = new SessionAdmission(
      options,
      this.keys.antiCsrf,
      clock,
      telemetry,
      revocationBus,
      (claims) => this.assertLiveGeneration(claims),
    );
  }

  /** Loads (or creates) the signing keys and starts the cleanup timer. */
  async onModuleInit(): Promise<void> {
    const { cleanupInterval } = this.options;
    this.ring = await openKeyRing(this.options.accessToken, this.db.signingKeys, this.keys, this.clock);
    this.verifier = new AccessTokenVerifier(this.ring, this.db, this.clock, this.options, this.telemetry);
    // A key retired on another instance: reload at once, so this one stops signing with it too.
    await this.revocationBus?.start(() =>
      this.ring instanceof StoredKeyRing ? this.ring.reload() : Promise.resolve(),
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
    await this.revocationBus?.stop();
    this.cleanupStop.abort();
    // A cleanup in flight ends before the data source closes (at shutdown), not fails against it.
    await this.cleanupRun;
  }

  /**
   * Starts a session for a user.
   * @throws SessionError `GENERAL_ERROR` for a bad argument (also a `userId` and `jwtPayload` whose
   * access token would not fit a 4096-byte cookie: the message names the argument and the limit;
   * nothing is written) or an unavailable database; SessionLimitError `SESSION_LIMIT_REACHED` (403)
   * at `maxSessionsPerUser` with `onSessionLimit: 'refuse'` (nothing written).
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
    const persistent = persistentOf(options.persistent);
    const accessTokenValidity = accessTokenValidityOf(
      options.accessTokenValidity,
      this.options.accessToken.validity,
    );
    const now = this.clock.now();
    const expiry = firstExpiry(now, this.idlePolicy(persistent));
    const { impersonation } = options;
    const actorFields = impersonation
      ? impersonationFields(impersonation, userId, now, expiry, this.options.refreshToken.validity)
      : { actor: null };
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
      ...expiry,
      payloadVersion: 1,
      authTime: now,
      ...actorFields,
      ...(await this.metadata.atCreate(options.metadata, now)),
      persistent,
    };
    // Every generation this session may reach must give a token that is accepted and fits a cookie.
    await this.issuer.assertAccessTokenFits(record, Number.MAX_SAFE_INTEGER, now, 'create');
    // Sign first: a signing failure must leave no row behind.
    const issued = await this.issuer.issue(record, refreshToken, now);
    await insertWithinLimit(
      this.db,
      record,
      userId,
      this.options,
      (reason) => this.revocation(reason),
      this.events,
    );
    this.events.publish('session.created', { sessionHandle: handle, userId, ...this.eventMetadata(record) });
    if (impersonation) this.claims.impersonationStarted(record, impersonation);
    return issued;
  }

  /**
   * Verifies an access token. Pass the request's anti-csrf token (`undefined` when missing, which
   * fails the check); only an explicit `null` skips it.
   * @throws SessionError `TRY_REFRESH_TOKEN` for a missing, expired, invalid or stale token or a
   * failed anti-csrf check; `UNAUTHORISED` for a revoked session (with `checkDatabase`);
   * `SESSION_NOT_FRESH` / `IMPERSONATION_NOT_ALLOWED` (403) for the `fresh` / `allowImpersonation` options;
   * `GENERAL_ERROR` when the database is needed and unavailable.
   */
  async getSession(
    accessToken: string | undefined,
    antiCsrfToken: string | null | undefined,
    options: GetSessionOptions = {},
  ): Promise<VerifiedSession> {
    return this.verifySession(accessToken, antiCsrfToken, options);
  }

  /**
   * {@link getSession} for `SessionService`'s guard path: a token verified before is answered
   * without a promise (most requests end here). Throws synchronously or rejects, as documented there.
   */
  verifySession(
    accessToken: string | undefined,
    antiCsrfToken: string | null | undefined,
    options: GetSessionOptions = {},
  ): VerifiedSession | Promise<VerifiedSession> {
    const cached = this.verifier.previouslyVerified(accessToken);
    if (cached !== undefined) return this.admission.admit(cached, antiCsrfToken, options);
    return this.verifier
      .verify(accessToken)
      .then((verified) => this.admission.admit(verified, antiCsrfToken, options));
  }

  /**
   * Merges `patch` into a session's JWT payload (`null` removes a key) and bumps its payload version:
   * its other access tokens keep the old payload until they expire or refresh, and a `checkDatabase`
   * (or `blacklisting`) check answers them `TRY_REFRESH_TOKEN`. `false` when the session is gone.
   * @throws SessionError `GENERAL_ERROR` for a bad patch or one that makes the access token too large
   * (the limits of `createNewSession`; nothing written), or an unavailable database.
   */
  async mergeIntoAccessTokenPayload(sessionHandle: string, patch: JwtPayloadPatch): Promise<boolean> {
    return (await this.claims.merge(sessionHandle, patch)) !== undefined;
  }

  /** {@link mergeIntoAccessTokenPayload} on every live session of a user; returns how many changed. */
  mergeIntoAccessTokenPayloadForUser(userId: UserId, patch: JwtPayloadPatch): Promise<number> {
    return this.claims.mergeForUser(userId, patch);
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
  async refreshSession(
    refreshToken: string | undefined,
    options: RefreshSessionOptions = {},
  ): Promise<RefreshedSession> {
    const claims = parseRefreshToken(this.keys.refreshTokenTag, refreshToken);
    if (!claims) throw new SessionError(SessionError.UNAUTHORISED, Messages.refreshTokenInvalid);
    const token = refreshToken as string;
    const hash = hashRefreshToken(token);
    let refused = false;
    for (let attempt = 0; attempt < MAX_ROTATION_ATTEMPTS; attempt++) {
      const { record, databaseNow } = await this.db.findSessionWithClock(claims.handle);
      const now = this.clock.now();
      // An impersonation past its hard lifetime ends here if the cleanup has not seen it yet.
      if (record?.actor && !isLiveSession(record, now)) await this.claims.endImpersonation(record, 'expired');
      if (!isLiveSession(record, now)) throw await this.goneError(claims.handle, record);
      const verdict = classifyRefresh(record, hash, now, this.policy.gracePeriod, refused);
      if (verdict.kind === 'current') {
        // Refused, yet the token is still the current one: nobody else rotated, the deadline passed.
        if (refused) throw this.db.lateWrite('Refresh');
        // Before the write: a rotation must not commit a token that could not be delivered.
        await this.issuer.assertAccessTokenFits(record, record.generation + 1, now, 'refresh');
        const policy = this.idlePolicy(record.persistent);
        const { rotation, token } = nextRotation(record, now, policy, this.keys);
        const activity = await this.metadata.atRefresh(options.metadata, record, now);
        const write = { ...rotation, ...activity };
        if (await this.db.rotateRefreshToken(record.handle, record.refreshHash, write, databaseNow)) {
          const issued = await this.issuer.issue({ ...record, ...rotation }, token, now);
          return this.refreshed(issued, false, withActivity(record, activity));
        }
        refused = true;
        continue; // Another request rotated first (or the deadline passed): re-read to tell which.
      }
      const live = verdict.kind === 'replay' ? openLiveToken(this.keys.liveTokenSeal, record) : undefined;
      if (live) return this.refreshed(await this.issuer.issue(record, live, now), true, record);
      const reason = REVOCATION_REASONS.theft;
      await this.db.deleteSession(record.handle, this.revocation(reason));
      const theft = { sessionHandle: record.handle, userId: userIdOf(record) };
      this.events.publish('session.theft-detected', theft);
      this.events.publish('session.revoked', { reason, operation: 'theft', ...theft, count: 1 });
      throw new SessionError(SessionError.UNAUTHORISED_AND_TOKEN_THEFT_DETECTED, Messages.tokenTheft, {
        theft,
        reason,
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

  /**
   * Health of the revocation bus: `{ transport, healthy, lagMs, lastPosition }` (`transport: 'none'`
   * without the `revocation` option). See {@link RevocationStatus}.
   */
  revocationStatus(): RevocationStatus {
    return this.revocationBus?.status() ?? { transport: 'none', healthy: false, lagMs: 0, lastPosition: 0 };
  }

  /** The public keys that verify access tokens, as a JWKS document (no keys for HS256). */
  getJwks(): { keys: Record<string, unknown>[] } {
    // Follows a retirement made elsewhere from the next call on; checks need no database.
    void this.ring.reloadIfStale()?.catch(() => undefined);
    return this.ring.jwks() as { keys: Record<string, unknown>[] };
  }

  /** For health checks (`SessionHealthIndicator`): one bounded store query and the key ring's freshness. */
  checkHealth(): Promise<SessionHealth> {
    return checkSessionHealth(this.db, this.ring, this.clock);
  }

  /**
   * Removes expired sessions (the cleanup timer calls it every `cleanupInterval`) in batches of
   * `cleanupBatchSize` rows, `cleanupBatchPause` apart, on one instance at a time; returns how many
   * (0 when another instance is cleaning).
   * @throws SessionError `GENERAL_ERROR` when the database is unavailable (after a timeout the
   * removal may still complete).
   */
  async removeExpiredSessions(): Promise<number> {
    const now = this.clock.now();
    const ended = await this.claims.endExpiredImpersonations(now);
    const { cleanupBatchSize: batchSize, cleanupBatchPause: pause } = this.options;
    const batching = { batchSize, pauseMs: pause * SECOND, signal: this.cleanupStop.signal };
    return ended + (await this.db.deleteExpiredInBatches(now, batching));
  }

  private async assertLiveGeneration(claims: AccessTokenClaims): Promise<void> {
    const record = await this.db.findSessionState(claims.handle);
    const now = this.clock.now();
    const liveness = generationLiveness(record, claims.generation, now, this.policy.gracePeriod);
    if (liveness === 'gone') throw await this.goneError(claims.handle, record);
    // The token names its user; the row must be that user's, byte for byte (a token signed for
    // another user with this session's id is not this session's).
    if (!constantTimeEqual(record!.userKey, userKeyOf(claims.userId))) {
      throw new SessionError(SessionError.UNAUTHORISED, Messages.accessTokenWrongUser);
    }
    if (liveness === 'stale') throw this.tryRefresh(Messages.accessTokenStale);
    // Minted before a payload change: the refresh mints the new payload (never a sign-out).
    if (claims.payloadVersion < record!.payloadVersion) throw this.tryRefresh(Messages.accessTokenOldPayload);
    if (this.metadata.touchDue(record!.lastActiveAt, now)) {
      // Once a minute at most; a failed write only loses a "last active" time.
      await this.db.touchSession(claims.handle, now, now - LAST_ACTIVE_INTERVAL_MS).catch(() => false);
    }
  }

  /** The refresh policy of a session with or without "remember me". */
  private idlePolicy(persistent: boolean | undefined): RefreshPolicy {
    return idlePolicyOf(this.policy, this.options.refreshToken.nonPersistentValidity, persistent);
  }

  private refreshed(issued: CreatedSession, replay: boolean, row: SessionRecord): RefreshedSession {
    this.events.publish('session.refreshed', {
      sessionHandle: issued.session.handle,
      userId: issued.session.userId,
      replay,
      ...this.eventMetadata(row),
    });
    return renewed(issued);
  }

  private eventMetadata(row: SessionRecord) {
    return this.metadata.enabled ? { metadata: sessionMetadataOf(row) } : {};
  }

  private tryRefresh(message: string): SessionError {
    return tryRefreshError(message, this.options.sessionExpiredStatusCode);
  }
}

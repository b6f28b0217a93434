import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import { maxAccessTokenLength } from '../session.constants.js';
import { verifyAccessToken, type AccessTokenVerifyOptions } from '../tokens/access-token.js';
import type { SessionClock } from '../tokens/clock.js';
import type { KeyRing } from '../tokens/key-ring.js';
import { VerifiedTokenCache, type VerifiedToken } from '../tokens/verified-token-cache.js';
import type { BoundedSessionStore } from './bounded-store.js';

const SECOND = 1000;
/** Verified access tokens remembered per instance (about 1 KB each). */
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

/** `TRY_REFRESH_TOKEN` with the configured `sessionExpiredStatusCode`. */
export function tryRefreshError(message: string, status: number): SessionError {
  return new SessionError(SessionError.TRY_REFRESH_TOKEN, message, { status });
}

/**
 * Verifies access tokens against the key ring, cryptographically once per token string and
 * instance: a token verified before is answered from memory without an await.
 */
export class AccessTokenVerifier {
  private readonly verified = new VerifiedTokenCache(VERIFIED_TOKEN_CACHE_SIZE);
  private readonly options: AccessTokenVerifyOptions;
  /** `sessionExpiredStatusCode`: the status of a `TRY_REFRESH_TOKEN`. */
  private readonly expiredStatus: number;

  constructor(
    private readonly ring: KeyRing,
    private readonly db: BoundedSessionStore,
    private readonly clock: SessionClock,
    options: ResolvedSessionOptions,
  ) {
    const { issuer, audience, clockTolerance } = options.accessToken;
    this.options = { issuer, audience, clockTolerance, maxLength: maxAccessTokenLength(options.cookie) };
    this.expiredStatus = options.sessionExpiredStatusCode;
  }

  /** This instance's earlier verification of the token, while it holds. */
  previouslyVerified(accessToken: string | undefined): VerifiedToken | undefined {
    if (accessToken === undefined) return undefined;
    const now = this.clock.now();
    // A ring due for a reload is reloaded first (resolveKey), so a key retired elsewhere stops here.
    if (this.ring.isStale(now)) return undefined;
    const cached = this.verified.get(accessToken, now);
    // The entry holds only while its key is still the ring's (a reload may retire it).
    return cached !== undefined && this.ring.cachedKey(cached.key.kid) === cached.key ? cached : undefined;
  }

  /**
   * Verifies a token and remembers the verification.
   * @throws SessionError `TRY_REFRESH_TOKEN` for a missing, expired or invalid token;
   * `GENERAL_ERROR` when its key must be loaded and the database is unavailable.
   */
  async verify(accessToken: string | undefined): Promise<VerifiedToken> {
    if (accessToken === undefined || accessToken === '') {
      throw tryRefreshError(Messages.accessTokenMissing, this.expiredStatus);
    }
    const now = this.clock.now();
    const verified = await verifyAccessToken(accessToken, this.resolveKey, now, this.options);
    if (!verified) throw tryRefreshError(Messages.accessTokenInvalid, this.expiredStatus);
    const { claims, key } = verified;
    const session: VerifiedToken['result']['session'] = {
      handle: claims.handle,
      userId: claims.userId,
      jwtPayload: deepFreeze(claims.jwtPayload),
      ...(claims.actor && { actor: Object.freeze(claims.actor) }),
    };
    const entry: VerifiedToken = {
      claims,
      key,
      result: Object.freeze({ session: Object.freeze(session) }),
      validUntil: Math.min(claims.expiresAt + this.options.clockTolerance * SECOND, key.verifyUntil),
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
    return this.db.keyRing('read', () => reload).then(lookup, lookup);
  };

  private lookupKey(kid: string) {
    return this.ring.cachedKey(kid) ?? this.db.keyRing('read', () => this.ring.verificationKey(kid));
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

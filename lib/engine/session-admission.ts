import { assertSessionAccess } from '../claims/access-checks.js';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import type { GetSessionOptions, VerifiedSession } from '../interfaces/session.interface.js';
import type { SessionTelemetry } from '../observability/session-telemetry.js';
import type { RevocationMonitor } from '../revocation/revocation.monitor.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import type { SessionClock } from '../tokens/clock.js';
import { deriveGenerationToken } from '../tokens/refresh-token.js';
import { constantTimeEqual } from '../tokens/secrets.js';
import type { VerifiedToken } from '../tokens/verified-token-cache.js';
import { tryRefreshError } from './access-verifier.js';

/**
 * What `getSession` checks once the access token's signature holds: the anti-csrf token, the
 * revocation bus's verdict, the session row (`checkDatabase`) and the route's access options. It
 * answers without a promise unless it must read the database, so a guarded request with a token
 * verified before runs no promise layer of the library at all (each costs on a busy server).
 */
export class SessionAdmission {
  constructor(
    private readonly options: ResolvedSessionOptions,
    private readonly antiCsrfKey: Buffer,
    private readonly clock: SessionClock,
    private readonly telemetry: SessionTelemetry,
    private readonly revocationBus: RevocationMonitor | null,
    /** Reads the session row: throws unless the token's generation is live there. */
    private readonly assertLiveGeneration: (claims: AccessTokenClaims) => Promise<void>,
  ) {}

  /** @throws SessionError as `SessionEngine.getSession` documents (synchronously, or by the promise). */
  admit(
    verified: VerifiedToken,
    antiCsrfToken: string | null | undefined,
    options: GetSessionOptions,
  ): VerifiedSession | Promise<VerifiedSession> {
    const { claims } = verified;
    if (this.options.antiCsrf === 'token' && antiCsrfToken !== null) {
      verified.antiCsrf ??= deriveGenerationToken(this.antiCsrfKey, claims.handle, claims.generation);
      if (typeof antiCsrfToken !== 'string' || !constantTimeEqual(antiCsrfToken, verified.antiCsrf)) {
        throw this.telemetry.failed('verify', this.tryRefresh(Messages.antiCsrfMismatch));
      }
    }
    const checkDatabase = options.checkDatabase ?? this.options.accessToken.blacklisting;
    // The revocation bus answers from memory while healthy (`undefined`: read the database).
    const remembered = this.revocationBus?.verdict({ ...claims, kid: verified.key.kid }, checkDatabase);
    if (remembered === 'revoked') {
      // Told why, as a database check tells it (the bus carries the reason the revocation kept).
      const reason = this.revocationBus!.revokedReason(claims.handle);
      throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing, { reason });
    }
    if (remembered === 'old-payload') throw this.tryRefresh(Messages.accessTokenOldPayload);
    if (remembered === 'stale' || remembered === 'retired-key')
      throw this.tryRefresh(Messages.accessTokenStale);
    if (checkDatabase && remembered === undefined) {
      const subject = () => this.telemetry.subjectAttributes(claims.handle);
      return this.telemetry
        .trace('check-database', subject, () => this.assertLiveGeneration(claims))
        .then(() => this.checkAccess(verified, options));
    }
    return this.checkAccess(verified, options);
  }

  private checkAccess(verified: VerifiedToken, options: GetSessionOptions): VerifiedSession {
    if (options.fresh !== undefined || options.allowImpersonation === false) {
      assertSessionAccess(verified.claims, options, this.clock.now());
    }
    return verified.result;
  }

  private tryRefresh(message: string): SessionError {
    return tryRefreshError(message, this.options.sessionExpiredStatusCode);
  }
}

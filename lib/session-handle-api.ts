import type { JwtPayloadPatch } from './claims/payload-merge.js';
import type { ListSessionsOptions, SessionListEntry } from './interfaces/session.interface.js';
import { SessionErrorMessages as Messages } from './errors/session-error.messages.js';
import { SessionError } from './errors/session.error.js';
import type { Session } from './http/session.js';
import type { UserId } from './session.arguments.js';
import type { SessionEngine } from './session.engine.js';
import type { RevokeOptions } from './revocation/revocation-reasons.js';

/**
 * The handle API of `SessionService`: an admin's or a job's calls by session handle or user id. They
 * take no request and never touch the caller's cookies.
 */
export abstract class SessionHandleApi {
  protected constructor(protected readonly engine: SessionEngine) {}

  /** See {@link SessionEngine.getSessionData}. */
  getSessionData(sessionHandle: string): Promise<unknown> {
    return this.engine.getSessionData(sessionHandle);
  }

  /** See {@link SessionEngine.updateSessionData}. */
  updateSessionData(sessionHandle: string, data: unknown): Promise<void> {
    return this.engine.updateSessionData(sessionHandle, data);
  }

  /**
   * Merges `patch` into a session's JWT payload (`null` removes a key); its devices get the new
   * payload at their next refresh, and at once on `checkDatabase` routes (`TRY_REFRESH_TOKEN`, then
   * the refresh). `false` when the session is gone. See {@link SessionEngine.mergeIntoAccessTokenPayload}.
   * @throws SessionError `GENERAL_ERROR` for a bad or too large patch (nothing written).
   */
  mergeIntoAccessTokenPayload(sessionHandle: string, patch: JwtPayloadPatch): Promise<boolean> {
    return this.engine.mergeIntoAccessTokenPayload(sessionHandle, patch);
  }

  /** {@link mergeIntoAccessTokenPayload} on every live session of a user; returns how many changed. */
  mergeIntoAccessTokenPayloadForUser(userId: UserId, patch: JwtPayloadPatch): Promise<number> {
    return this.engine.mergeIntoAccessTokenPayloadForUser(userId, patch);
  }

  /**
   * Revokes a session by handle (an admin's call: the caller's own cookies are left alone); its
   * holder is told `reason` (default `'revoked'`). An impersonation it ends is reported
   * (`session.impersonation-ended`, cause `'revoked'`).
   */
  revokeSessionUsingSessionHandle(sessionHandle: string, options?: RevokeOptions): Promise<boolean> {
    return this.engine.claims.revokeReportingImpersonations({ handle: sessionHandle }, () =>
      this.engine.revokeSessionUsingSessionHandle(sessionHandle, options),
    );
  }

  /** Revokes a session only if it belongs to `userId`; `false` for another user's handle. */
  revokeSessionForUser(sessionHandle: string, userId: UserId, options?: RevokeOptions): Promise<boolean> {
    return this.engine.claims.revokeReportingImpersonations({ handle: sessionHandle, userId }, () =>
      this.engine.revokeSessionForUser(sessionHandle, userId, options),
    );
  }

  /**
   * Revokes every other session of the session's user ("sign out everywhere else"); returns how many.
   * @throws SessionError `IMPERSONATION_NOT_ALLOWED` (403) for an impersonated session.
   */
  async revokeOtherSessions(session: Session, options?: RevokeOptions): Promise<number> {
    if (session.getActor?.() !== undefined) {
      throw new SessionError(SessionError.IMPERSONATION_NOT_ALLOWED, Messages.impersonationNotAllowed);
    }
    return this.engine.revokeOtherSessions(session.getUserId(), session.getHandle(), options);
  }

  /** See {@link SessionEngine.revokeAllSessionsForUser}; reports the impersonations it ends. */
  revokeAllSessionsForUser(userId: UserId, options?: RevokeOptions): Promise<number> {
    return this.engine.claims.revokeReportingImpersonations({ userId }, () =>
      this.engine.revokeAllSessionsForUser(userId, options),
    );
  }

  /** See {@link SessionEngine.getAllSessionHandlesForUser}. */
  getAllSessionHandlesForUser(userId: UserId): Promise<string[]> {
    return this.engine.getAllSessionHandlesForUser(userId);
  }

  /** See {@link SessionEngine.listSessionsForUser}. */
  listSessionsForUser(userId: UserId, options?: ListSessionsOptions): Promise<SessionListEntry[]> {
    return this.engine.listSessionsForUser(userId, options);
  }
}

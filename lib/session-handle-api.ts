import type { SessionListEntry } from './interfaces/session.interface.js';
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

  /** Revokes a session by handle (an admin's call: the caller's own cookies are left alone). */
  revokeSessionUsingSessionHandle(sessionHandle: string, options?: RevokeOptions): Promise<boolean> {
    return this.engine.revokeSessionUsingSessionHandle(sessionHandle, options);
  }

  /** Revokes a session only if it belongs to `userId`; `false` for another user's handle. */
  revokeSessionForUser(sessionHandle: string, userId: UserId, options?: RevokeOptions): Promise<boolean> {
    return this.engine.revokeSessionForUser(sessionHandle, userId, options);
  }

  /** Revokes every other session of the session's user ("sign out everywhere else"); returns how many. */
  revokeOtherSessions(session: Session, options?: RevokeOptions): Promise<number> {
    return this.engine.revokeOtherSessions(session.getUserId(), session.getHandle(), options);
  }

  /** See {@link SessionEngine.revokeAllSessionsForUser}. */
  revokeAllSessionsForUser(userId: UserId, options?: RevokeOptions): Promise<number> {
    return this.engine.revokeAllSessionsForUser(userId, options);
  }

  /** See {@link SessionEngine.getAllSessionHandlesForUser}. */
  getAllSessionHandlesForUser(userId: UserId): Promise<string[]> {
    return this.engine.getAllSessionHandlesForUser(userId);
  }

  /** See {@link SessionEngine.listSessionsForUser}. */
  listSessionsForUser(userId: UserId): Promise<SessionListEntry[]> {
    return this.engine.listSessionsForUser(userId);
  }
}

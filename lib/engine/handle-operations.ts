import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { SessionListEntry } from '../interfaces/session.interface.js';
import {
  assertSessionHandle,
  assertUserId,
  toJsonText,
  userKeyOf,
  type UserId,
} from '../session.arguments.js';
import { MAX_SESSION_DATA_BYTES } from '../session.constants.js';
import type { SessionEvents } from '../session.events.js';
import type { SessionRecord } from '../storage/session-store.js';
import type { SessionClock } from '../tokens/clock.js';
import { isLiveSession } from '../tokens/refresh-rotation.js';
import type { BoundedSessionStore } from './bounded-store.js';

/**
 * The handle API of `SessionEngine`: reads, data updates, revocations and listings by session
 * handle or user id. No tokens are involved, so these need no key ring.
 */
export abstract class SessionHandleOperations {
  protected constructor(
    /** The store, every call bounded by `databaseTimeout`. */
    protected readonly db: BoundedSessionStore,
    protected readonly clock: SessionClock,
    protected readonly events: SessionEvents,
  ) {}

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
    const updated = await this.db.updateSessionData(sessionHandle, text, now);
    if (!updated) throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
  }

  /**
   * Revokes one session; `false` when there was none.
   * @throws SessionError `GENERAL_ERROR` for a malformed handle or an unavailable database.
   */
  async revokeSessionUsingSessionHandle(sessionHandle: string): Promise<boolean> {
    assertSessionHandle(sessionHandle);
    const revoked = await this.db.deleteSession(sessionHandle);
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
    const revoked = await this.db.deleteSessionOfUser(sessionHandle, userKeyOf(userId));
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
    const count = await this.db.deleteOtherSessionsOfUser(userKeyOf(userId), keptSessionHandle);
    if (count > 0) {
      const event = { reason: 'revoke-others' as const, userId, count, keptSessionHandle };
      this.events.publish('session.revoked', event);
    }
    return count;
  }

  /**
   * Revokes every session of a user in one statement; returns how many.
   * @throws SessionError `GENERAL_ERROR` for a bad user id or an unavailable database.
   */
  async revokeAllSessionsForUser(userId: UserId): Promise<number> {
    assertUserId(userId);
    const count = await this.db.deleteSessionsOfUser(userKeyOf(userId));
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
    return this.db.findSessionsOfUser(userKeyOf(userId), now);
  }

  protected async findLiveSession(sessionHandle: string): Promise<SessionRecord> {
    assertSessionHandle(sessionHandle);
    const record = await this.db.findSession(sessionHandle);
    if (!isLiveSession(record, this.clock.now())) {
      throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    }
    return record;
  }
}

import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { ListSessionsOptions, SessionListEntry } from '../interfaces/session.interface.js';
import { sessionListEntry } from '../metadata/session-metadata.js';
import {
  assertSessionHandle,
  assertUserId,
  toJsonText,
  userKeyOf,
  type UserId,
} from '../session.arguments.js';
import { MAX_SESSION_DATA_BYTES } from '../session.constants.js';
import type { SessionEvents } from '../session.events.js';
import type { Revocation, SessionRecord } from '../storage/session-store.js';
import {
  REVOCATION_REASONS,
  revocationReasonOf,
  type RevokeOptions,
} from '../revocation/revocation-reasons.js';
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
    /** `revocationReasonRetention`, in seconds (0: keep no reasons). */
    private readonly reasonRetention: number,
  ) {}

  /**
   * The data of a live session.
   * @throws SessionError `UNAUTHORISED` when the session is gone (with its revocation `reason`
   * while kept, `'expired'` past its expiry); `GENERAL_ERROR` for a malformed handle or an
   * unavailable database.
   */
  async getSessionData(sessionHandle: string): Promise<unknown> {
    const record = await this.findLiveSession(sessionHandle);
    return JSON.parse(record.sessionData);
  }

  /**
   * Replaces the data of a live session.
   * @throws SessionError `UNAUTHORISED` when the session is gone (with its revocation `reason` while
   * kept); `GENERAL_ERROR` for bad arguments or an unavailable database.
   */
  async updateSessionData(sessionHandle: string, newSessionData: unknown): Promise<void> {
    assertSessionHandle(sessionHandle);
    const text = toJsonText('sessionData', newSessionData, MAX_SESSION_DATA_BYTES);
    const now = this.clock.now();
    const updated = await this.db.updateSessionData(sessionHandle, text, now);
    if (!updated) throw await this.goneError(sessionHandle, undefined);
  }

  /**
   * Revokes one session; `false` when there was none. Its holder's next refresh (or `checkDatabase`
   * request) answers `UNAUTHORISED` with `reason` (default `'revoked'`).
   * @throws SessionError `GENERAL_ERROR` for a malformed handle or reason, or an unavailable database.
   */
  async revokeSessionUsingSessionHandle(sessionHandle: string, options?: RevokeOptions): Promise<boolean> {
    assertSessionHandle(sessionHandle);
    const reason = revocationReasonOf(options, REVOCATION_REASONS.revoked);
    const revoked = await this.db.deleteSession(sessionHandle, this.revocation(reason));
    if (revoked) {
      this.events.publish('session.revoked', { reason, operation: 'revoke', sessionHandle, count: 1 });
    }
    return revoked;
  }

  /**
   * Revokes a session only if it belongs to `userId` ("sign out that device" pages); `false` for a
   * handle of another user or no session. `reason` defaults to `'revoked'`.
   * @throws SessionError `GENERAL_ERROR` for bad arguments or an unavailable database.
   */
  async revokeSessionForUser(
    sessionHandle: string,
    userId: UserId,
    options?: RevokeOptions,
  ): Promise<boolean> {
    assertSessionHandle(sessionHandle);
    assertUserId(userId);
    const reason = revocationReasonOf(options, REVOCATION_REASONS.revoked);
    const revoked = await this.db.deleteSessionOfUser(
      sessionHandle,
      userKeyOf(userId),
      this.revocation(reason),
    );
    if (revoked) {
      const operation = 'revoke-for-user';
      this.events.publish('session.revoked', { reason, operation, sessionHandle, userId, count: 1 });
    }
    return revoked;
  }

  /**
   * Revokes every session of a user except one ("sign out everywhere else"); returns how many.
   * `reason` defaults to `'others-revoked'`.
   * @throws SessionError `GENERAL_ERROR` for bad arguments or an unavailable database.
   */
  async revokeOtherSessions(
    userId: UserId,
    keptSessionHandle: string,
    options?: RevokeOptions,
  ): Promise<number> {
    assertUserId(userId);
    assertSessionHandle(keptSessionHandle);
    const reason = revocationReasonOf(options, REVOCATION_REASONS.othersRevoked);
    const userKey = userKeyOf(userId);
    const count = await this.db.deleteOtherSessionsOfUser(
      userKey,
      keptSessionHandle,
      this.revocation(reason),
    );
    if (count > 0)
      this.events.publish('session.revoked', {
        reason,
        operation: 'revoke-others',
        userId,
        count,
        keptSessionHandle,
      });
    return count;
  }

  /**
   * Revokes every session of a user in one transaction; returns how many. `reason` defaults to
   * `'signed-out-everywhere'`.
   * @throws SessionError `GENERAL_ERROR` for a bad user id or reason, or an unavailable database.
   */
  async revokeAllSessionsForUser(userId: UserId, options?: RevokeOptions): Promise<number> {
    assertUserId(userId);
    const reason = revocationReasonOf(options, REVOCATION_REASONS.signedOutEverywhere);
    const count = await this.db.deleteSessionsOfUser(userKeyOf(userId), this.revocation(reason));
    if (count > 0) this.events.publish('session.revoked', { reason, operation: 'revoke-all', userId, count });
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
   * A user's live sessions with their times and metadata (IP, user agent, device, last activity,
   * login method, label), oldest first, for "your devices" pages; the entry of
   * `options.currentHandle` carries `current: true`.
   * @throws SessionError `GENERAL_ERROR` for a bad user id or an unavailable database.
   */
  async listSessionsForUser(userId: UserId, options: ListSessionsOptions = {}): Promise<SessionListEntry[]> {
    assertUserId(userId);
    const now = this.clock.now();
    const summaries = await this.db.findSessionsOfUser(userKeyOf(userId), now);
    return summaries.map((summary) => sessionListEntry(summary, options.currentHandle));
  }

  /** The record of a revocation with `reason` now, or `undefined` when no reasons are kept. */
  protected revocation(reason: string): Revocation | undefined {
    if (this.reasonRetention <= 0) return undefined;
    const revokedAt = this.clock.now();
    return { reason, revokedAt, forgetAt: revokedAt + this.reasonRetention * 1000 };
  }

  /**
   * `UNAUTHORISED` for a session found gone: with the reason, `'expired'` for a row past its expiry.
   * On the wire only a request that proved it holds the session gets here (a refresh token whose
   * tag verified, an access token whose signature did). The reason is a detail: a failed look-up
   * answers without one.
   */
  protected async goneError(
    sessionHandle: string,
    record: { expiresAt: number } | undefined,
  ): Promise<SessionError> {
    let reason: string | undefined;
    if (record !== undefined) reason = REVOCATION_REASONS.expired;
    else {
      try {
        reason = (await this.db.findRevocation(sessionHandle, this.clock.now()))?.reason;
      } catch {
        reason = undefined; // logged by the store
      }
    }
    return new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing, { reason });
  }

  protected async findLiveSession(sessionHandle: string): Promise<SessionRecord> {
    assertSessionHandle(sessionHandle);
    const record = await this.db.findSession(sessionHandle);
    if (!isLiveSession(record, this.clock.now())) throw await this.goneError(sessionHandle, record);
    return record;
  }
}

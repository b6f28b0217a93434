import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { CreatedSession } from '../interfaces/session.interface.js';
import { assertSessionHandle, assertUserId, userKeyOf, type UserId } from '../session.arguments.js';
import type { SessionEvents } from '../session.events.js';
import type { Revocation, SessionRecord } from '../storage/session-store.js';
import { REVOCATION_REASONS } from '../revocation/revocation-reasons.js';
import type { SessionClock } from '../tokens/clock.js';
import { isLiveSession } from '../tokens/refresh-rotation.js';
import type { BoundedSessionStore } from '../engine/bounded-store.js';
import { userIdOf, type SessionTokenIssuer } from '../engine/token-issuer.js';
import { mergePayloadText } from './payload-merge.js';
import type { ImpersonationStart } from './impersonation.js';
import type { ImpersonationEndedEvent } from '../session.events.js';

/** What ending an impersonation needs of its row. */
export type ImpersonationRow = Pick<SessionRecord, 'handle' | 'userId' | 'userIdType' | 'actor'>;

/** A change lost to a concurrent change of the same session is re-read this many times. */
const MAX_MERGE_ATTEMPTS = 4;

/** A live session's row after a change, with an access token of its current generation. */
export interface ReissuedSession {
  record: SessionRecord;
  issued: CreatedSession;
}

/**
 * The engine's changes of a live session's claims: the JWT payload (versioned, so a database check
 * can tell an access token minted before the change) and the authentication time (step-up).
 */
export class SessionClaimsOperations {
  constructor(
    private readonly db: BoundedSessionStore,
    private readonly issuer: SessionTokenIssuer,
    private readonly clock: SessionClock,
    private readonly events: SessionEvents,
    /** The revocation record its holder is told about (README, "Revoke reasons"). */
    private readonly revocation: (reason: string) => Revocation | undefined = () => undefined,
  ) {}

  /**
   * Applies `patch` to a live session's payload and bumps its version; `undefined` when the session
   * is gone. A concurrent change makes it re-read and apply the patch on top of that change.
   * @throws SessionError `GENERAL_ERROR` for a bad patch or a merged payload whose access token
   * would not fit a cookie (nothing written), or an unavailable database.
   */
  async merge(handle: string, patch: unknown): Promise<SessionRecord | undefined> {
    assertSessionHandle(handle);
    mergePayloadText('{}', patch); // a bad patch is refused even for a session that is gone
    for (let attempt = 0; attempt < MAX_MERGE_ATTEMPTS; attempt++) {
      const record = await this.db.findSession(handle);
      const now = this.clock.now();
      if (!isLiveSession(record, now)) return undefined;
      const jwtPayload = mergePayloadText(record.jwtPayload, patch);
      const next = { ...record, jwtPayload, payloadVersion: record.payloadVersion + 1 };
      // As at creation: every generation the session may reach must still give a token that fits.
      await this.issuer.assertAccessTokenFits(next, Number.MAX_SAFE_INTEGER, now, 'create');
      if (await this.db.updateJwtPayload(handle, record.payloadVersion, jwtPayload, now)) {
        this.events.publish('session.payload-changed', {
          sessionHandle: handle,
          userId: userIdOf(record),
          payloadVersion: next.payloadVersion,
        });
        return next;
      }
    }
    throw new SessionError(SessionError.GENERAL_ERROR, Messages.concurrentPayloadChanges);
  }

  /**
   * {@link merge} on every live session of a user, one after the other; returns how many changed.
   * A patch refused for one session (its token would not fit) stops there: earlier ones stay changed.
   */
  async mergeForUser(userId: UserId, patch: unknown): Promise<number> {
    assertUserId(userId);
    mergePayloadText('{}', patch);
    const sessions = await this.db.findSessionsOfUser(userKeyOf(userId), this.clock.now());
    let changed = 0;
    for (const { handle } of sessions) {
      if (await this.merge(handle, patch)) changed++;
    }
    return changed;
  }

  /**
   * Records a new authentication of the session's user now (`auth_time`).
   * @throws SessionError `UNAUTHORISED` when the session is gone, is another user's or an
   * impersonation; `GENERAL_ERROR` when the database is unavailable.
   */
  async elevate(handle: string, userId: UserId): Promise<ReissuedSession> {
    const now = this.clock.now();
    if (!(await this.db.updateAuthTime(handle, userKeyOf(userId), now, now))) {
      throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    }
    const reissued = await this.reissue(handle);
    if (!reissued) throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    this.events.publish('session.elevated', { sessionHandle: handle, userId });
    return reissued;
  }

  /** Reports a started impersonation (after its row is written). */
  impersonationStarted(record: SessionRecord, start: ImpersonationStart): void {
    this.events.publish('session.impersonation-started', {
      sessionHandle: record.handle,
      actorUserId: start.actorUserId,
      targetUserId: userIdOf(record),
      ...(start.reason !== undefined && { reason: start.reason }),
      expiresAt: record.expiresAt,
    });
  }

  /**
   * Deletes an impersonation's row and reports its end, once (only the call that deleted the row
   * reports); `false` when it was already gone.
   */
  async endImpersonation(row: ImpersonationRow, cause: ImpersonationEndedEvent['cause']): Promise<boolean> {
    const reason = cause === 'expired' ? REVOCATION_REASONS.expired : REVOCATION_REASONS.impersonationEnded;
    if (!(await this.db.deleteSession(row.handle, this.revocation(reason)))) return false;
    if (cause !== 'expired') {
      this.events.publish('session.revoked', {
        reason,
        operation: 'impersonation-ended',
        sessionHandle: row.handle,
        userId: userIdOf(row),
        count: 1,
      });
    }
    this.reportEnded(row, cause);
    return true;
  }

  /**
   * Runs a revocation by handle or user (an admin's call) and reports the impersonations it ended
   * (cause `'revoked'`): they are read first, since the deleted rows cannot tell their actor.
   */
  async revokeReportingImpersonations<T extends boolean | number>(
    target: { handle: string; userId?: UserId } | { userId: UserId },
    revoke: () => Promise<T>,
  ): Promise<T> {
    let rows: ImpersonationRow[];
    if ('handle' in target) {
      assertSessionHandle(target.handle);
      const row = await this.db.findSession(target.handle);
      const owned = target.userId === undefined || row?.userKey === userKeyOf(target.userId);
      rows = row?.actor && owned ? [row] : [];
    } else {
      assertUserId(target.userId);
      rows = await this.db.findImpersonationsOfUser(userKeyOf(target.userId));
    }
    const result = await revoke();
    if (result !== false && result !== 0) for (const row of rows) this.reportEnded(row, 'revoked');
    return result;
  }

  private reportEnded(row: ImpersonationRow, cause: ImpersonationEndedEvent['cause']): void {
    const actor = JSON.parse(row.actor ?? 'null') as { sub: string } | null;
    this.events.publish('session.impersonation-ended', {
      sessionHandle: row.handle,
      actorUserId: actor?.sub ?? '',
      targetUserId: userIdOf(row),
      cause,
    });
  }

  /** Ends the impersonations whose lifetime ran out (before the cleanup removes them); returns how many. */
  async endExpiredImpersonations(now: number): Promise<number> {
    let ended = 0;
    for (const row of await this.db.findExpiredImpersonations(now)) {
      if (await this.endImpersonation(row, 'expired')) ended++;
    }
    return ended;
  }

  /** The row and a new access token of the session's current generation; `undefined` when gone. */
  async reissue(handle: string, known?: SessionRecord): Promise<ReissuedSession | undefined> {
    const record = known ?? (await this.db.findSession(handle));
    const now = this.clock.now();
    if (!isLiveSession(record, now)) return undefined;
    // Only the access token is delivered: the refresh token stays the one the client holds.
    return { record, issued: await this.issuer.issue(record, '', now) };
  }
}

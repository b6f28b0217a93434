import { SessionError } from '../errors/session.error.js';
import { assertUserId, userKeyOf, type UserId } from '../session.arguments.js';
import type { SessionRecord } from '../storage/session-store.js';

/** Default hard lifetime of an impersonation, in seconds. */
export const DEFAULT_IMPERSONATION_TTL = 3600;
/** Longest `reason` kept in the `session.impersonation-started` event, in characters. */
const MAX_REASON_LENGTH = 1000;

/** Options of `SessionService.impersonate`. */
export interface ImpersonateOptions {
  /** Who acts (the admin); named by the session's row and token as RFC 8693 `act: { sub }`. */
  actorUserId: UserId;
  /** Whose session it is: routes see this user. */
  targetUserId: UserId;
  /**
   * Hard lifetime in **seconds** from now, never extended by refreshes (also capped by the session
   * lifetimes of the options). A whole number from 1 to `refreshToken.validity`.
   * @default 3600
   */
  ttl?: number;
  /** Why (for the audit trail): passed to `session.impersonation-started`, never put in a token. */
  reason?: string;
  /** The target's JWT payload for this session, as at sign-in. @default {} */
  jwtPayload?: unknown;
  /** The target's session data for this session. @default {} */
  sessionData?: unknown;
}

/** What `SessionEngine.createNewSession` takes to start an impersonation (its `impersonation` option). */
export interface ImpersonationStart {
  actorUserId: UserId;
  /** Hard lifetime in seconds. */
  ttl: number;
  reason?: string;
}

function refused(message: string): SessionError {
  return new SessionError(SessionError.GENERAL_ERROR, message);
}

/**
 * The row fields of an impersonation starting `now`: the actor, and expiry capped at `now + ttl`
 * (`absoluteExpiresAt`, which every refresh respects).
 * @throws SessionError `GENERAL_ERROR` for a bad actor, ttl or reason, or an actor acting as itself.
 */
export function impersonationFields(
  start: ImpersonationStart,
  targetUserId: UserId,
  now: number,
  expiry: Pick<SessionRecord, 'expiresAt' | 'absoluteExpiresAt'>,
  maxTtl: number,
): Pick<SessionRecord, 'actor' | 'expiresAt' | 'absoluteExpiresAt'> {
  assertUserId(start.actorUserId);
  const { ttl, reason } = start;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTtl) {
    throw refused(
      `ttl must be a whole number of seconds from 1 to refreshToken.validity (${maxTtl}), got ${JSON.stringify(ttl)}.`,
    );
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) {
    throw refused(`reason must be a string of at most ${MAX_REASON_LENGTH} characters.`);
  }
  if (userKeyOf(start.actorUserId) === userKeyOf(targetUserId)) {
    throw refused('actorUserId and targetUserId are the same user: that is a sign-in, not an impersonation.');
  }
  const absoluteExpiresAt = Math.min(expiry.absoluteExpiresAt ?? Number.POSITIVE_INFINITY, now + ttl * 1000);
  return {
    actor: JSON.stringify({ sub: String(start.actorUserId) }),
    expiresAt: Math.min(expiry.expiresAt, absoluteExpiresAt),
    absoluteExpiresAt,
  };
}

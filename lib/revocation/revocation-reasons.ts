import { SessionError } from '../errors/session.error.js';

/**
 * The reasons the library itself gives a revocation; an app may pass its own (see
 * {@link RevokeOptions}). The revoked session's holder reads it in the `reason` field of the
 * `UNAUTHORISED` body, the browser client in `onSignedOut({ reason })`, listeners in `session.revoked`.
 */
export const REVOCATION_REASONS = {
  /** The holder signed out (`session.revokeSession()`). */
  signedOut: 'signed-out',
  /** Revoked by handle (an admin, a "your devices" page). */
  revoked: 'revoked',
  /** Every session of the user was revoked (`revokeAllSessionsForUser`). */
  signedOutEverywhere: 'signed-out-everywhere',
  /** Revoked by "sign out everywhere else" from another session (`revokeOtherSessions`). */
  othersRevoked: 'others-revoked',
  /** A refresh token was reused after its grace period. */
  theft: 'theft',
  /** A newer sign-in pushed it out (`maxSessionsPerUser`). */
  limit: 'limit',
  /** Its idle or absolute lifetime ran out. */
  expired: 'expired',
  /** An impersonation ended. */
  impersonationEnded: 'impersonation-ended',
} as const;

/** A built-in revocation reason. */
export type BuiltInRevocationReason = (typeof REVOCATION_REASONS)[keyof typeof REVOCATION_REASONS];

/** A revocation reason: a built-in one or the app's own short code (`'password-changed'`). */
export type RevocationReason = BuiltInRevocationReason | (string & {});

/** Longest revocation reason, in characters. */
export const MAX_REVOCATION_REASON_LENGTH = 64;

/** Printable ASCII, no leading or trailing space: a code the client can match and show safely. */
const REASON_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** Whether `value` is a well-formed reason (as a revoke call writes it; a bus message may not). */
export function isRevocationReason(value: unknown): value is string {
  return (
    typeof value === 'string' && value.length <= MAX_REVOCATION_REASON_LENGTH && REASON_PATTERN.test(value)
  );
}

/** Options of every revoke call. */
export interface RevokeOptions {
  /**
   * Why the session is revoked: 1 to 64 printable ASCII characters (`'password-changed'`), or a
   * built-in reason ({@link REVOCATION_REASONS}). Its holder is told (and only its holder) for
   * `revocationReasonRetention` seconds.
   * @default per call: `'signed-out'` (`session.revokeSession()`), `'revoked'` (by handle),
   * `'others-revoked'` (`revokeOtherSessions`), `'signed-out-everywhere'` (`revokeAllSessionsForUser`)
   */
  reason?: RevocationReason;
}

/**
 * The reason of a revoke call, or `fallback` when none was given.
 * @throws SessionError `GENERAL_ERROR` (an app's bad argument) for anything but 1 to 64 printable
 * ASCII characters without leading or trailing space.
 */
export function revocationReasonOf(options: RevokeOptions | undefined, fallback: RevocationReason): string {
  const reason = options?.reason ?? fallback;
  if (!isRevocationReason(reason)) {
    throw new SessionError(
      SessionError.GENERAL_ERROR,
      `reason must be 1 to ${MAX_REVOCATION_REASON_LENGTH} printable ASCII characters without leading or ` +
        `trailing space (such as 'password-changed'), got ${JSON.stringify(reason)?.slice(0, 80)}.`,
    );
  }
  return reason;
}

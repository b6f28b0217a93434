import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { GetSessionOptions } from '../interfaces/session.interface.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';

/**
 * The route checks a verified token's own claims answer: `fresh` (`auth_time` at most that many
 * seconds ago) and `allowImpersonation: false` (no `act`). No database read.
 * @throws SessionError `IMPERSONATION_NOT_ALLOWED` or `SESSION_NOT_FRESH` (403, body `maxAge`).
 */
export function assertSessionAccess(
  claims: AccessTokenClaims,
  options: Pick<GetSessionOptions, 'fresh' | 'allowImpersonation'>,
  now: number,
): void {
  if (options.allowImpersonation === false && claims.actor !== undefined) {
    throw new SessionError(SessionError.IMPERSONATION_NOT_ALLOWED, Messages.impersonationNotAllowed);
  }
  const { fresh } = options;
  if (fresh === undefined) return;
  // A typo must not turn the check off (NaN compares false): refuse the configuration instead.
  if (typeof fresh !== 'number' || !Number.isFinite(fresh) || fresh < 0) {
    throw new SessionError(SessionError.GENERAL_ERROR, Messages.freshOptionInvalid(fresh));
  }
  // A token without auth_time (signed before step-up existed) is never fresh: elevating mints one.
  if (claims.authTime === undefined || Math.floor(now / 1000) - claims.authTime > fresh) {
    throw new SessionError(SessionError.SESSION_NOT_FRESH, Messages.sessionNotFresh(fresh), {
      body: { maxAge: fresh },
    });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { SessionError } from '../errors/session.error.js';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import type { Session } from '../http/session.js';
import type { ClaimValidationError } from '../http/wire.js';
import { SESSION_CLOCK } from '../session.constants.js';
import type { SessionClock } from '../tokens/clock.js';
import { ClaimFetcherRegistry } from './claim-fetcher.registry.js';
import { CLAIMS_FETCHED_AT, claimValue, type SessionClaimValidator } from './session-claims.js';

/** The claims among `validators` whose value is older than their `maxAge` (or was never fetched). */
export function staleClaims(
  payload: unknown,
  validators: readonly SessionClaimValidator[],
  nowSeconds: number,
): string[] {
  const fetchedAt = claimValue(payload, CLAIMS_FETCHED_AT);
  const stale = new Set<string>();
  for (const { claim, maxAge } of validators) {
    if (maxAge === undefined) continue;
    const at = claimValue(fetchedAt, claim);
    if (typeof at !== 'number' || nowSeconds - at > maxAge) stale.add(claim);
  }
  return [...stale];
}

/** What each validator says of `payload`; empty when all pass. */
export function claimValidationErrors(
  payload: unknown,
  validators: readonly SessionClaimValidator[],
): ClaimValidationError[] {
  const errors: ClaimValidationError[] = [];
  for (const validator of validators) {
    const reason = validator.validate(claimValue(payload, validator.claim));
    if (reason !== undefined) errors.push({ claim: validator.claim, reason });
  }
  return errors;
}

/** Runs claim validators on a verified session, refetching stale claims first. */
@Injectable()
export class ClaimValidation {
  constructor(
    private readonly fetchers: ClaimFetcherRegistry,
    @Inject(SESSION_CLOCK) private readonly clock: SessionClock,
  ) {}

  /**
   * Refetches the stale claims (one `fetchValue` each, all merged in one payload change that also
   * records their fetch times, so the response carries a new access token), then validates.
   * @throws SessionError `INVALID_CLAIM` (403, cookies untouched) listing every failed claim;
   * `GENERAL_ERROR` when a stale claim has no fetcher; whatever a fetcher throws.
   */
  async enforce(session: Session, validators: readonly SessionClaimValidator[]): Promise<Session> {
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    const stale = staleClaims(session.getJWTPayload(), validators, nowSeconds);
    if (stale.length > 0) {
      const userId = session.getUserId();
      const values = await Promise.all(
        stale.map((claim) => this.fetchers.get(claim).fetchValue(userId, session)),
      );
      const previous = claimValue(session.getJWTPayload(), CLAIMS_FETCHED_AT);
      const fetchedAt: Record<string, unknown> =
        typeof previous === 'object' && previous !== null && !Array.isArray(previous) ? { ...previous } : {};
      const patch: Record<string, unknown> = {};
      stale.forEach((claim, index) => {
        patch[claim] = values[index] ?? null; // null removes the key
        fetchedAt[claim] = nowSeconds;
      });
      patch[CLAIMS_FETCHED_AT] = fetchedAt;
      await session.mergeIntoAccessTokenPayload(patch);
    }
    const errors = claimValidationErrors(session.getJWTPayload(), validators);
    if (errors.length > 0) {
      throw new SessionError(SessionError.INVALID_CLAIM, Messages.invalidClaim, {
        body: { claimValidationErrors: errors },
      });
    }
    return session;
  }
}

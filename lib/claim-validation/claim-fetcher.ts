import { SetMetadata } from '@nestjs/common';
import type { Session } from '../http/session.js';
import type { UserId } from '../session.arguments.js';

/** Metadata key of {@link ClaimFetcher}. */
export const CLAIM_FETCHER_METADATA = 'nestjs-token-session:claim-fetcher';

/**
 * Supplies the current value of one claim when a validator's `maxAge` finds it stale. Register it as
 * a provider decorated with `@ClaimFetcher(claim)`, or with `ClaimFetcherRegistry.register`.
 */
export interface ClaimFetcher<Value = unknown> {
  /**
   * The claim's current value for the session's user (any JSON value); `undefined` or `null` removes
   * the claim from the payload. A thrown error leaves the payload as it was and fails the request.
   */
  fetchValue(userId: UserId, session: Session): Value | Promise<Value>;
}

/**
 * Registers a provider as the fetcher of `claim` (a key of the user's JWT payload).
 * @example
 * ```ts
 * @ClaimFetcher('roles')
 * @Injectable()
 * export class RolesFetcher implements ClaimFetcher<string[]> {
 *   constructor(private readonly users: UsersService) {}
 *   fetchValue(userId: UserId) {
 *     return this.users.rolesOf(userId);
 *   }
 * }
 * ```
 */
export const ClaimFetcher = (claim: string) => SetMetadata(CLAIM_FETCHER_METADATA, claim);

import { SetMetadata } from '@nestjs/common';
import type { UserId } from '../session.arguments.js';

/** Metadata key of {@link LoginStrategy}. */
export const LOGIN_STRATEGY_METADATA = 'nestjs-token-session:login-strategy';

/** A user signed in, with what the session should carry. */
export interface LoginIdentity {
  userId: UserId;
  jwtPayload?: unknown;
  sessionData?: unknown;
}

/** A first step passed; no session yet (e.g. a one-time code was sent). */
export interface PendingLogin {
  pending: true;
  /** Whatever the client needs for the next step (never a secret). */
  challenge?: unknown;
}

/** What `validate` answers: a user id or identity, `null` for wrong credentials, or a pending step. */
export type LoginStrategyResult = UserId | LoginIdentity | PendingLogin | null | undefined | false;

/**
 * A named way to sign in: checks credentials and says who they belong to. Register it as a provider
 * decorated with `@LoginStrategy(name)`; `SessionService.login(res, name, credentials)` uses it.
 */
export interface LoginStrategy<Credentials = unknown> {
  validate(credentials: Credentials): LoginStrategyResult | Promise<LoginStrategyResult>;
}

/**
 * Registers a provider as the login strategy `name`.
 * @example
 * ```ts
 * @LoginStrategy('local')
 * @Injectable()
 * export class LocalStrategy implements LoginStrategy<{ username?: unknown; password?: unknown }> {
 *   constructor(private readonly users: UsersService) {}
 *   async validate({ username, password }: { username?: unknown; password?: unknown }) {
 *     return (await this.users.check(username, password))?.id ?? null;
 *   }
 * }
 * ```
 */
export const LoginStrategy = (name: string) => SetMetadata(LOGIN_STRATEGY_METADATA, name);

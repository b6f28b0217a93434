import { LoginError } from '../errors/login.error.js';
import type { SessionEvents } from '../session.events.js';
import type { LoginIdentity, LoginStrategyResult } from './login-strategy.js';
import type { LoginStrategyRegistry } from './login-strategy.registry.js';

/** What a strategy decided: who the user is, or that a further step is pending. */
export type LoginDecision = { identity: LoginIdentity } | { pending: true; challenge?: unknown };

/**
 * Runs the named strategy on the credentials. Failures publish `login.attempt` and throw; success
 * publishes nothing (the caller reports it once its own work, e.g. the session, is done).
 * @throws LoginError `LOGIN_FAILED` (wrong credentials), `UNKNOWN_LOGIN_STRATEGY`; whatever the
 * strategy throws.
 */
export async function attemptLogin(
  strategies: LoginStrategyRegistry,
  events: SessionEvents,
  strategyName: string,
  credentials: unknown,
): Promise<LoginDecision> {
  const strategy = typeof strategyName === 'string' ? strategies.get(strategyName) : undefined;
  const attempt = { strategy: String(strategyName) };
  if (!strategy) {
    events.publish('login.attempt', { ...attempt, success: false, error: 'unknown-strategy' });
    throw new LoginError(
      LoginError.UNKNOWN_LOGIN_STRATEGY,
      `No login strategy is named '${String(strategyName)}'.`,
    );
  }
  let result: LoginStrategyResult;
  try {
    result = await strategy.validate(credentials);
  } catch (error) {
    events.publish('login.attempt', {
      ...attempt,
      success: false,
      error: (error as Error)?.message ?? String(error),
    });
    throw error;
  }
  if (result === null || result === undefined || result === false) {
    events.publish('login.attempt', { ...attempt, success: false, error: 'invalid-credentials' });
    throw new LoginError(LoginError.LOGIN_FAILED, 'The credentials are not valid.');
  }
  if (typeof result === 'object' && 'pending' in result && result.pending === true) {
    // No event: as in Kuzzle, the attempt is reported when the login completes or fails.
    return { pending: true, challenge: result.challenge };
  }
  return { identity: typeof result === 'object' ? (result as LoginIdentity) : { userId: result } };
}

import ms from 'ms';
import { LoginError } from '../errors/login.error.js';

/**
 * A login's `expiresIn` (the Kuzzle SDK's `login(strategy, credentials, expiresIn)`) in whole
 * seconds: a number of seconds, or a duration string as `@nestjs/jwt` reads it (`'15m'`, `'1h'`,
 * `'7d'`, parsed by `ms`); `undefined` keeps the configured lifetime.
 * @throws LoginError `INVALID_LOGIN_OPTIONS` (400) outside 1 s to `maxSeconds`, for a malformed
 * string, and for a string without a unit (`ms` would read `'120'` as 120 ms).
 */
export function loginExpiresIn(expiresIn: unknown, maxSeconds: number): number | undefined {
  if (expiresIn === undefined) return undefined;
  let seconds: unknown = expiresIn;
  if (typeof expiresIn === 'string' && /[a-z]$/i.test(expiresIn)) {
    const milliseconds = ms(expiresIn as ms.StringValue) as number | undefined;
    seconds = milliseconds === undefined ? undefined : milliseconds / 1000;
  }
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > maxSeconds) {
    const shown = typeof expiresIn === 'string' ? `'${expiresIn.slice(0, 40)}'` : String(expiresIn);
    throw new LoginError(
      LoginError.INVALID_LOGIN_OPTIONS,
      `expiresIn ${shown} is invalid: give a whole number of seconds from 1 to ${maxSeconds}, or a duration with a unit within it, such as '15m' or '1h'.`,
    );
  }
  return seconds;
}

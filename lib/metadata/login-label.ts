import { LoginError } from '../errors/login.error.js';
import { MAX_LABEL_LENGTH } from './session-metadata.js';

/**
 * A login's `label`, checked before any strategy runs.
 * @throws LoginError `INVALID_LOGIN_OPTIONS` (400) for a non-string or one over 128 characters.
 */
export function loginLabel(label: unknown): string | undefined {
  if (label === undefined) return undefined;
  if (typeof label !== 'string' || Array.from(label).length > MAX_LABEL_LENGTH) {
    throw new LoginError(
      LoginError.INVALID_LOGIN_OPTIONS,
      `label is invalid: give a string of at most ${MAX_LABEL_LENGTH} characters.`,
    );
  }
  return label;
}

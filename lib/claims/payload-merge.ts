import { SessionError } from '../errors/session.error.js';
import { toJsonText } from '../session.arguments.js';
import { MAX_JWT_PAYLOAD_BYTES } from '../session.constants.js';

/**
 * A change to a JWT payload: each key is set to its value, or removed when the value is `null`
 * (a shallow merge, as SuperTokens' `mergeIntoAccessTokenPayload`).
 */
export type JwtPayloadPatch = Record<string, unknown>;

function refused(message: string): SessionError {
  return new SessionError(SessionError.GENERAL_ERROR, message);
}

/**
 * The payload `currentText` (JSON text of an object) with `patch` applied, as JSON text. Checks the
 * patch as `createNewSession` checks a payload (JSON only, depth, size); the signed token's size is
 * the caller's check.
 * @throws SessionError `GENERAL_ERROR` naming what is wrong; nothing is applied then.
 */
export function mergePayloadText(currentText: string, patch: unknown): string {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw refused('The JWT payload patch must be a plain object (keys to set, null to remove).');
  }
  // JSON only (no undefined, functions, class instances, cycles): what is stored is what was given.
  toJsonText('jwtPayload patch', patch, Number.MAX_SAFE_INTEGER);
  const current = JSON.parse(currentText) as unknown;
  if (current === null || typeof current !== 'object' || Array.isArray(current)) {
    throw refused('This session was created with a JWT payload that is not an object: it cannot be merged.');
  }
  const merged: Record<string, unknown> = { ...(current as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete merged[key];
    } else {
      // An own property even for `__proto__` (plain assignment would set the prototype).
      Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return toJsonText('jwtPayload', merged, MAX_JWT_PAYLOAD_BYTES);
}

import { SessionError } from './errors/session.error.js';
import { MAX_JSON_DEPTH, MAX_USER_ID_LENGTH } from './session.constants.js';
import { SESSION_HANDLE_PATTERN } from './tokens/refresh-token.js';
import { sha256Hex } from './tokens/secrets.js';

/** A user id as the app passes it: a non-empty string or a finite number. */
export type UserId = string | number;

function argumentError(message: string): SessionError {
  return new SessionError(SessionError.GENERAL_ERROR, message);
}

/** Checks an app-supplied user id; throws `GENERAL_ERROR` naming the argument. */
export function assertUserId(userId: unknown): asserts userId is UserId {
  if (typeof userId === 'number') {
    if (!Number.isFinite(userId)) throw argumentError(`userId must be a finite number, got ${userId}.`);
    return;
  }
  if (typeof userId !== 'string') {
    throw argumentError(
      `userId must be a non-empty string or a finite number, got ${userId === null ? 'null' : Array.isArray(userId) ? 'an array' : typeof userId}.`,
    );
  }
  if (userId.length === 0) throw argumentError('userId must not be empty.');
  if (userId.length > MAX_USER_ID_LENGTH) {
    throw argumentError(`userId must be at most ${MAX_USER_ID_LENGTH} characters, got ${userId.length}.`);
  }
  if (!userId.isWellFormed()) throw argumentError('userId contains a lone surrogate (not valid Unicode).');
  if (userId.includes('\u0000')) throw argumentError('userId must not contain NUL characters.');
}

/** The key user ids are compared by: exact bytes and type, whatever the database collation. */
export function userKeyOf(userId: UserId): string {
  return sha256Hex(`${typeof userId === 'number' ? 'n' : 's'}:${userId}`);
}

/** Checks an app-supplied session handle; throws `GENERAL_ERROR` naming the argument. */
export function assertSessionHandle(handle: unknown): asserts handle is string {
  if (typeof handle !== 'string' || !SESSION_HANDLE_PATTERN.test(handle)) {
    throw argumentError('sessionHandle must be a session handle (32 lowercase hexadecimal characters).');
  }
}

function assertJsonValue(name: string, value: unknown, depth: number, path: unknown[]): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw argumentError(`${name} must be JSON: it holds the number ${value}.`);
    return;
  }
  if (typeof value !== 'object') {
    throw argumentError(`${name} must be JSON: it holds a ${typeof value}.`);
  }
  if (path.includes(value)) throw argumentError(`${name} must be JSON: it is circular.`);
  if (depth >= MAX_JSON_DEPTH) throw argumentError(`${name} is nested deeper than ${MAX_JSON_DEPTH} levels.`);
  const prototype = Object.getPrototypeOf(value);
  const isArray = Array.isArray(value);
  if (!isArray && prototype !== Object.prototype && prototype !== null) {
    throw argumentError(
      `${name} must be JSON: it holds a ${prototype?.constructor?.name ?? 'non-plain'} object.`,
    );
  }
  path.push(value);
  for (const item of isArray ? value : Object.values(value)) assertJsonValue(name, item, depth + 1, path);
  path.pop();
}

/** Serialises a JSON value the app passed, refusing anything that would not come back equal. */
export function toJsonText(name: string, value: unknown, maxBytes: number): string {
  assertJsonValue(name, value, 0, []);
  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw argumentError(`${name} is ${bytes} bytes as JSON; the limit is ${maxBytes}.`);
  return text;
}

/** A login's shorter access-token lifetime in seconds, checked against the configured maximum. */
export function accessTokenValidityOf(validity: number | undefined, max: number): number | null {
  if (validity === undefined) return null;
  if (!Number.isInteger(validity) || validity < 1 || validity > max) {
    throw argumentError(
      `accessTokenValidity must be a whole number of seconds from 1 to accessToken.validity (${max}), got ${JSON.stringify(validity)}.`,
    );
  }
  return validity;
}

/** What {@link accessTokenTooLarge} reports. */
export interface AccessTokenSize {
  /** `create`: an argument of createNewSession; `refresh`: a session stored earlier. */
  on: 'create' | 'refresh';
  /** The token's length and the limit, in characters. */
  length: number;
  limit: number;
  algorithm: string;
  /** The argument to shorten: `userId` when even an empty payload would not fit. */
  culprit: 'jwtPayload' | 'userId';
  userId: UserId;
  jwtPayloadBytes: number;
}

/**
 * The error for a session whose access token would exceed the limit: `GENERAL_ERROR` naming the
 * argument to shorten on create; `UNAUTHORISED` (sign in again) on refresh, whose stored payload
 * cannot change.
 */
export function accessTokenTooLarge(size: AccessTokenSize): SessionError {
  const { length, limit, algorithm, culprit } = size;
  const userIdBytes = Buffer.byteLength(JSON.stringify(String(size.userId))) - 2;
  const made =
    `jwtPayload (${size.jwtPayloadBytes} bytes as JSON) and userId (${userIdBytes} bytes in the token) ` +
    `make a ${algorithm} access token of ${length} characters; the limit is ${limit} ` +
    '(a 4096-byte Set-Cookie under these cookie options, at any refresh generation)';
  if (size.on === 'refresh') {
    return new SessionError(
      SessionError.UNAUTHORISED,
      `This session cannot be refreshed: its ${made}. Sign in again.`,
    );
  }
  // Base64url carries 3 bytes in 4 characters.
  const excess = Math.ceil(((length - limit) * 3) / 4);
  return argumentError(`${made}: shorten ${culprit} by at least ${excess} bytes.`);
}

import { constantTimeEqual, hmac, randomHex, randomToken, sha256Hex } from './secrets.js';

/** What an authentic refresh token names. */
export interface RefreshTokenClaims {
  handle: string;
  generation: number;
}

/** A session handle: 128 random bits as lowercase hex, exact in any SQL collation. */
export const SESSION_HANDLE_PATTERN = /^[0-9a-f]{32}$/;
const REFRESH_TOKEN_PATTERN = /^([0-9a-f]{32})\.([1-9][0-9]{0,8})\.[A-Za-z0-9_-]{43}\.([A-Za-z0-9_-]{43})$/;
const MAX_REFRESH_TOKEN_LENGTH = 160;

/** A new 128-bit session handle. */
export function newSessionHandle(): string {
  return randomHex(16);
}

/** Mints `handle.generation.secret.tag`: 256 random bits, authenticated under the tag key. */
export function mintRefreshToken(tagKey: Buffer, handle: string, generation: number): string {
  const body = `${handle}.${generation}.${randomToken(32)}`;
  return `${body}.${hmac(tagKey, body)}`;
}

/**
 * Checks a refresh token's shape and tag without touching storage; `undefined` for anything
 * not minted with this tag key.
 */
export function parseRefreshToken(tagKey: Buffer, token: unknown): RefreshTokenClaims | undefined {
  if (typeof token !== 'string' || token.length > MAX_REFRESH_TOKEN_LENGTH) return undefined;
  const match = REFRESH_TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  const tagStart = token.length - 43;
  if (!constantTimeEqual(hmac(tagKey, token.slice(0, tagStart - 1)), match[3])) return undefined;
  return { handle: match[1], generation: Number(match[2]) };
}

/** What the database keeps of a refresh token. */
export function hashRefreshToken(token: string): string {
  return sha256Hex(token);
}

/** A per-generation token derived from the session, so replays and restarts agree on it. */
export function deriveGenerationToken(key: Buffer, handle: string, generation: number): string {
  return hmac(key, `${handle}.${generation}`);
}

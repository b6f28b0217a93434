import { serialize } from 'cookie';
import { ACCESS_TOKEN_COOKIE, HOST_ONLY_NAME_PREFIX } from './http/wire.js';
import type { ResolvedSessionOptions } from './interfaces/session-options.interface.js';

/** Injection token of the {@link SessionClock} the engine reads time from; override it in tests. */
export const SESSION_CLOCK = Symbol('SESSION_CLOCK');
/** Injection token of the resolved (defaults applied, validated) options. */
export const SESSION_RESOLVED_OPTIONS = Symbol('SESSION_RESOLVED_OPTIONS');
/** Injection token of the mounted refresh controller class (`null` when `refreshRoute` is false). */
export const SESSION_REFRESH_CONTROLLER = Symbol('SESSION_REFRESH_CONTROLLER');
/** Injection token of the library's routes that read no body (`BodylessController[]`). */
export const SESSION_BODYLESS_CONTROLLERS = Symbol('SESSION_BODYLESS_CONTROLLERS');

/** Largest JSON text of a session's `jwtPayload`: it travels in the access-token cookie. */
export const MAX_JWT_PAYLOAD_BYTES = 2048;
/** Largest JSON text of a session's data. */
export const MAX_SESSION_DATA_BYTES = 32 * 1024;
/** Longest user id, in UTF-16 code units. */
export const MAX_USER_ID_LENGTH = 255;
/** Deepest nesting of `jwtPayload` and session data. */
export const MAX_JSON_DEPTH = 32;
/** How many rotated tokens a session remembers inside its grace period. */
export const MAX_REMEMBERED_ANCESTORS = 16;

/**
 * Longest `Set-Cookie` value of the access-token cookie, name and attributes included. Browsers keep
 * cookies whose name and value fit 4096 bytes (RFC 6265bis §5.7; Chromium drops larger ones); the
 * whole header value is held to that bound, so every browser keeps it.
 */
export const MAX_SET_COOKIE_BYTES = 4096;
/** Characters a cookie name prefix may add (`__Host-`), reserved whether or not one is set. */
export const MAX_COOKIE_NAME_PREFIX_LENGTH = HOST_ONLY_NAME_PREFIX.length;

/**
 * The longest access token, in characters, that the engine issues and accepts: what is left of
 * {@link MAX_SET_COOKIE_BYTES} after the `sAccessToken` cookie's name (with room for a `__Host-`
 * prefix) and its worst-case attributes under these cookie options (Domain, Path, a 29-character
 * Expires, HttpOnly, Secure, SameSite). Header transport uses the same limit, so one token works
 * on both. One function for signer and verifier: whatever is issued is accepted.
 */
export function maxAccessTokenLength(cookie: ResolvedSessionOptions['cookie']): number {
  const emptyCookie = serialize(ACCESS_TOKEN_COOKIE, '', {
    domain: cookie.domain,
    path: '/',
    expires: new Date(0),
    httpOnly: true,
    secure: cookie.secure,
    sameSite: cookie.sameSite,
  });
  return MAX_SET_COOKIE_BYTES - Buffer.byteLength(emptyCookie) - MAX_COOKIE_NAME_PREFIX_LENGTH;
}

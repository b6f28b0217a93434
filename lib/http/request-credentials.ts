import { requestHeader, type HttpRequestLike } from './http-adapter.js';
import {
  ANTI_CSRF_HEADER,
  AUTHORIZATION_HEADER,
  DEFAULT_SESSION_COOKIE_NAMES,
  HEADER_TRANSPORT,
  SAFE_METHODS,
  SESSION_TRANSPORT_HEADER,
  type SessionCookieNames,
} from './wire.js';

/** One session cookie as the request carried it. */
export interface CookieValue {
  value: string | undefined;
  /** The request carried several different copies (a changed cookie domain leaves one behind). */
  conflicting: boolean;
  /** The request carried more than one copy. */
  duplicated: boolean;
}

/** Our three cookies as a request carried them. */
export interface SessionCookies {
  accessToken: CookieValue;
  refreshToken: CookieValue;
  idRefreshToken: CookieValue;
}

/**
 * The credential a request authenticates with: nothing, an `Authorization: Bearer` value (header
 * transport), or session cookies with the `anti-csrf` header that goes with them.
 */
export type RequestCredentials =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | (SessionCookies & {
      kind: 'cookies';
      /** The `anti-csrf` header (`undefined` when absent or repeated). */
      antiCsrf: string | undefined;
      /** A GET, HEAD or OPTIONS request, which needs no anti-csrf token. */
      safeMethod: boolean;
    });

/** Which of our tokens a Bearer value would be: the access token, or the refresh token on refresh. */
export type BearerPurpose = 'access' | 'refresh';

/** Whether a Bearer value could be our token of `purpose` (shape and key checks, no storage). */
export type CouldBeOwnToken = (value: string, purpose: BearerPurpose) => boolean;

const NONE: RequestCredentials = { kind: 'none' };
const NO_COOKIE: CookieValue = { value: undefined, conflicting: false, duplicated: false };
/** The Bearer scheme, any casing; what follows is the token, however malformed (then refused as such). */
const BEARER_SCHEME = /^bearer(?:\s|$)/i;

const SEMICOLON = 59;
const EQUALS = 61;
const SPACE = 32;
const TAB = 9;

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

function cookieValue(raw: string): string {
  let value = raw.trim();
  if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) {
    value = value.slice(1, -1);
  }
  if (value.includes('%')) {
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not percent-encoded after all: keep it as sent; verification refuses it if wrong.
    }
  }
  return value;
}

/**
 * Reads one cookie from a `Cookie` header, keeping count of its copies (a generic parser keeps only
 * the first, so it could not notice a stale duplicate). It scans for the name alone instead of
 * splitting the whole header: apps carry many cookies, and this runs on every guarded request.
 */
export function readCookie(cookieHeader: string | undefined, name: string): CookieValue {
  if (!cookieHeader) return NO_COOKIE;
  let value: string | undefined;
  let duplicated = false;
  let conflicting = false;
  let from = 0;
  for (;;) {
    const at = cookieHeader.indexOf(name, from);
    if (at < 0) break;
    from = at + name.length;
    let before = at - 1;
    while (before >= 0 && isBlank(cookieHeader.charCodeAt(before))) before--;
    if (before >= 0 && cookieHeader.charCodeAt(before) !== SEMICOLON) continue; // inside another pair
    let equals = from;
    while (equals < cookieHeader.length && isBlank(cookieHeader.charCodeAt(equals))) equals++;
    if (cookieHeader.charCodeAt(equals) !== EQUALS) continue; // a longer name
    let end = cookieHeader.indexOf(';', equals + 1);
    if (end < 0) end = cookieHeader.length;
    const current = cookieValue(cookieHeader.slice(equals + 1, end));
    if (value === undefined) {
      value = current;
    } else {
      duplicated = true;
      conflicting ||= current !== value;
    }
    from = end;
  }
  return value === undefined ? NO_COOKIE : { value, duplicated, conflicting };
}

/** Reads our three cookies with every copy of each. */
export function readSessionCookies(
  cookieHeader: string | undefined,
  names: SessionCookieNames = DEFAULT_SESSION_COOKIE_NAMES,
): SessionCookies {
  return {
    accessToken: readCookie(cookieHeader, names.accessToken),
    refreshToken: readCookie(cookieHeader, names.refreshToken),
    idRefreshToken: readCookie(cookieHeader, names.idRefreshToken),
  };
}

/** The `Authorization: Bearer` value, if the request uses header transport. */
export function readBearer(request: HttpRequestLike): string | undefined {
  const authorization = requestHeader(request, AUTHORIZATION_HEADER);
  return authorization && BEARER_SCHEME.test(authorization) ? authorization.slice(6).trim() : undefined;
}

/**
 * Whether the client asked for tokens in headers instead of cookies. Only a login may grant it: a
 * refresh answers on the transport of the refresh token it was sent (see `SessionService`).
 */
export function wantsHeaderTransport(request: HttpRequestLike): boolean {
  return requestHeader(request, SESSION_TRANSPORT_HEADER)?.toLowerCase() === HEADER_TRANSPORT;
}

/**
 * Reads the credential a request authenticates with. The one precedence rule: `Authorization:
 * Bearer` wins over cookies, except that a Bearer value which cannot be our token of the purpose
 * (another issuer's JWT, `undefined`, empty...) is ignored when the request carries a session cookie.
 * @param couldBeOwnToken asked only when the request carries both.
 */
export function readRequestCredentials(
  request: HttpRequestLike,
  purpose: BearerPurpose,
  couldBeOwnToken: CouldBeOwnToken,
  names: SessionCookieNames = DEFAULT_SESSION_COOKIE_NAMES,
): RequestCredentials {
  const bearer = readBearer(request);
  const cookieHeader = requestHeader(request, 'cookie');
  const accessToken = readCookie(cookieHeader, names.accessToken);
  const refreshToken = readCookie(cookieHeader, names.refreshToken);
  const idRefreshToken = readCookie(cookieHeader, names.idRefreshToken);
  const carriesCookie =
    accessToken.value !== undefined || refreshToken.value !== undefined || idRefreshToken.value !== undefined;
  if (bearer !== undefined && (!carriesCookie || couldBeOwnToken(bearer, purpose))) {
    return { kind: 'bearer', token: bearer };
  }
  if (!carriesCookie) return NONE;
  const antiCsrf = request.headers[ANTI_CSRF_HEADER];
  return {
    kind: 'cookies',
    accessToken,
    refreshToken,
    idRefreshToken,
    antiCsrf: Array.isArray(antiCsrf) ? undefined : antiCsrf,
    safeMethod: SAFE_METHODS.has(request.method ?? 'GET'),
  };
}

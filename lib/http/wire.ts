// The wire contract existing front ends of the original library rely on: cookie and header names,
// their values and the default refresh route. It imports nothing, so the browser client
// (`nestjs-token-session/client`) shares it with the server.

/** Cookie names of the original library, kept so existing front ends work unchanged. */
export const ACCESS_TOKEN_COOKIE = 'sAccessToken';
export const REFRESH_TOKEN_COOKIE = 'sRefreshToken';
export const ID_REFRESH_TOKEN_COOKIE = 'sIdRefreshToken';

/**
 * The `cookie.namePrefix` that makes browsers keep a cookie host-only, `Secure` and at `Path=/`
 * (RFC 6265bis, cookie name prefixes).
 */
export const HOST_ONLY_NAME_PREFIX = '__Host-';

/** The names of the three session cookies under one `cookie.namePrefix`. */
export interface SessionCookieNames {
  accessToken: string;
  refreshToken: string;
  idRefreshToken: string;
}

/** The cookie names for a `cookie.namePrefix` (`''` or `'__Host-'`). */
export function sessionCookieNames(namePrefix: string): SessionCookieNames {
  return {
    accessToken: `${namePrefix}${ACCESS_TOKEN_COOKIE}`,
    refreshToken: `${namePrefix}${REFRESH_TOKEN_COOKIE}`,
    idRefreshToken: `${namePrefix}${ID_REFRESH_TOKEN_COOKIE}`,
  };
}

/** The original names (`cookie.namePrefix: ''`). */
export const DEFAULT_SESSION_COOKIE_NAMES: SessionCookieNames = sessionCookieNames('');

/** Header names of the wire contract (lower case, as Node presents request headers). */
export const ANTI_CSRF_HEADER = 'anti-csrf';
export const ID_REFRESH_TOKEN_HEADER = 'id-refresh-token';
export const SESSION_TRANSPORT_HEADER = 'session-transport';
export const ACCESS_TOKEN_HEADER = 'access-token';
export const REFRESH_TOKEN_HEADER = 'refresh-token';
export const AUTHORIZATION_HEADER = 'authorization';

/** The `session-transport` value with which a login asks for tokens in headers instead of cookies. */
export const HEADER_TRANSPORT = 'header';
/** The `id-refresh-token` value of a response that cleared the session cookies. */
export const ID_REFRESH_TOKEN_REMOVED = 'remove';

/** Request headers a cross-origin front end sends: allow them in CORS. */
export const SESSION_CORS_ALLOWED_HEADERS = [
  ANTI_CSRF_HEADER,
  SESSION_TRANSPORT_HEADER,
  AUTHORIZATION_HEADER,
] as const;
/** Response headers a cross-origin front end reads: expose them in CORS. */
export const SESSION_CORS_EXPOSED_HEADERS = [
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_HEADER,
  ACCESS_TOKEN_HEADER,
  REFRESH_TOKEN_HEADER,
] as const;

/** Methods that need no anti-csrf token (RFC 9110 safe methods a browser sends cross-site). */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The refresh route when `refreshToken.path` is not set. */
export const DEFAULT_REFRESH_PATH = '/session/refresh';

/** Error types a front end acts on without signing the user out (both answer 403). */
export const INVALID_CLAIM = 'INVALID_CLAIM';
export const SESSION_NOT_FRESH = 'SESSION_NOT_FRESH';

/** One entry of `claimValidationErrors` in a 403 `INVALID_CLAIM` body. */
export interface ClaimValidationError {
  /** The key of the JWT payload that failed, e.g. `'roles'`. */
  claim: string;
  /** Why, in words meant for developers, e.g. `must include "admin"`. */
  reason: string;
}

/**
 * The serialised origin (RFC 6454 §6.2, `'https://app.example.com'`: lower-case scheme and host,
 * punycode, no default port) of a string that is a bare http(s) origin: scheme, host and optional
 * port (a lone trailing `/` allowed); `undefined` for anything else (a path, query, fragment, user,
 * wildcard host, another scheme, `null`). Shared by the browser client (`apiOrigins`) and the
 * server (`trustedOrigins`, the `Origin` of an upgrade).
 */
export function bareOrigin(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  // `href` keeps a user, path, empty `?` or `#`: a bare origin serialises as `origin + '/'`. Chromium
  // writes a wildcard host as `%2A`.
  const bare = /^https?:$/.test(url.protocol) && url.href === `${url.origin}/` && !/[*%]/.test(url.host);
  return bare ? url.origin : undefined;
}

import { serialize, type SerializeOptions } from 'cookie';
import type { IssuedToken } from '../interfaces/session.interface.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import {
  appendToListHeader,
  headerValues,
  requestHeader,
  setHeader,
  type HttpRequestLike,
  type HttpResponseLike,
} from './http-adapter.js';

/** Cookie names of the original library, kept so existing front ends work unchanged. */
export const ACCESS_TOKEN_COOKIE = 'sAccessToken';
export const REFRESH_TOKEN_COOKIE = 'sRefreshToken';
export const ID_REFRESH_TOKEN_COOKIE = 'sIdRefreshToken';
const SESSION_COOKIES = [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE];

/** Header names of the wire contract. */
export const ANTI_CSRF_HEADER = 'anti-csrf';
export const ID_REFRESH_TOKEN_HEADER = 'id-refresh-token';
export const SESSION_TRANSPORT_HEADER = 'session-transport';
export const ACCESS_TOKEN_HEADER = 'access-token';
export const REFRESH_TOKEN_HEADER = 'refresh-token';

/** Request headers a cross-origin front end sends: allow them in CORS. */
export const SESSION_CORS_ALLOWED_HEADERS = [
  ANTI_CSRF_HEADER,
  SESSION_TRANSPORT_HEADER,
  'authorization',
] as const;
/** Response headers a cross-origin front end reads: expose them in CORS. */
export const SESSION_CORS_EXPOSED_HEADERS = [
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_HEADER,
  ACCESS_TOKEN_HEADER,
  REFRESH_TOKEN_HEADER,
] as const;

/** One session cookie as the request carried it. */
export interface CookieValue {
  value: string | undefined;
  /** The request carried several different copies (a changed cookie domain leaves one behind). */
  conflicting: boolean;
  /** The request carried more than one copy. */
  duplicated: boolean;
}

/** The session credentials a request carries. */
export interface RequestCredentials {
  /** `Authorization: Bearer …` value, if any: header transport. */
  bearer: string | undefined;
  accessToken: CookieValue;
  refreshToken: CookieValue;
  idRefreshToken: CookieValue;
}

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
): Pick<RequestCredentials, 'accessToken' | 'refreshToken' | 'idRefreshToken'> {
  return {
    accessToken: readCookie(cookieHeader, ACCESS_TOKEN_COOKIE),
    refreshToken: readCookie(cookieHeader, REFRESH_TOKEN_COOKIE),
    idRefreshToken: readCookie(cookieHeader, ID_REFRESH_TOKEN_COOKIE),
  };
}

/** The `Authorization: Bearer` value, if the request uses header transport. */
export function readBearer(request: HttpRequestLike): string | undefined {
  const authorization = requestHeader(request, 'authorization');
  return authorization && BEARER_SCHEME.test(authorization) ? authorization.slice(6).trim() : undefined;
}

/** Everything session-related a request carries. */
export function readCredentials(request: HttpRequestLike): RequestCredentials {
  return { bearer: readBearer(request), ...readSessionCookies(requestHeader(request, 'cookie')) };
}

/** Whether the client asked for tokens in headers instead of cookies. */
export function wantsHeaderTransport(request: HttpRequestLike): boolean {
  return requestHeader(request, SESSION_TRANSPORT_HEADER)?.toLowerCase() === 'header';
}

/** Tokens to deliver on create or refresh. */
export interface DeliveredTokens {
  accessToken: IssuedToken;
  refreshToken: IssuedToken;
  idRefreshToken: IssuedToken;
  antiCsrfToken: string | undefined;
}

/** Writes session cookies and headers in the exact shape existing front ends expect. */
export class SessionTransport {
  constructor(
    private readonly options: ResolvedSessionOptions,
    /** The refresh route as the browser sees it (global prefix included). */
    private readonly refreshCookiePath: () => string,
  ) {}

  /**
   * Sets the three cookies (or, when the request asked for header transport, the token headers) and
   * the wire headers.
   */
  deliver(
    response: HttpResponseLike,
    tokens: DeliveredTokens,
    request: HttpRequestLike,
    headerTransport = wantsHeaderTransport(request),
  ): void {
    setHeader(response, 'Cache-Control', 'no-store');
    if (headerTransport) {
      setHeader(response, ACCESS_TOKEN_HEADER, tokens.accessToken.value);
      setHeader(response, REFRESH_TOKEN_HEADER, tokens.refreshToken.value);
      appendToListHeader(response, 'Access-Control-Expose-Headers', [
        ACCESS_TOKEN_HEADER,
        REFRESH_TOKEN_HEADER,
      ]);
      return;
    }
    const expires = new Date(tokens.refreshToken.expires);
    // Host-only copies from before a cookie.domain change would shadow the new cookies: clear them.
    const stale = this.options.cookie.domain ? this.clearingCookies([undefined]) : [];
    this.replaceCookies(response, [
      ...stale,
      serialize(ACCESS_TOKEN_COOKIE, tokens.accessToken.value, this.attributes('/', true, expires)),
      serialize(
        REFRESH_TOKEN_COOKIE,
        tokens.refreshToken.value,
        this.attributes(this.refreshCookiePath(), true, expires),
      ),
      serialize(ID_REFRESH_TOKEN_COOKIE, tokens.idRefreshToken.value, this.attributes('/', false, expires)),
    ]);
    const exposed: string[] = [ID_REFRESH_TOKEN_HEADER];
    if (tokens.antiCsrfToken !== undefined) {
      setHeader(response, ANTI_CSRF_HEADER, tokens.antiCsrfToken);
      exposed.unshift(ANTI_CSRF_HEADER);
    }
    setHeader(
      response,
      ID_REFRESH_TOKEN_HEADER,
      `${tokens.idRefreshToken.value};${tokens.idRefreshToken.expires}`,
    );
    appendToListHeader(response, 'Access-Control-Expose-Headers', exposed);
  }

  /**
   * Clears the three cookies with the attributes that set them, plus the host-only variants when a
   * domain is configured (a changed domain leaves those behind).
   */
  clear(response: HttpResponseLike): void {
    const variants = this.options.cookie.domain ? [this.options.cookie.domain, undefined] : [undefined];
    this.replaceCookies(response, this.clearingCookies(variants));
    setHeader(response, 'Cache-Control', 'no-store');
    setHeader(response, ID_REFRESH_TOKEN_HEADER, 'remove');
    appendToListHeader(response, 'Access-Control-Expose-Headers', [ID_REFRESH_TOKEN_HEADER]);
  }

  /** Set-Cookie values that delete the three cookies for each domain variant (`undefined`: host-only). */
  private clearingCookies(domains: (string | undefined)[]): string[] {
    const epoch = new Date(0);
    return domains.flatMap((domain) => [
      serialize(ACCESS_TOKEN_COOKIE, '', { ...this.attributes('/', true, epoch), domain }),
      serialize(REFRESH_TOKEN_COOKIE, '', {
        ...this.attributes(this.refreshCookiePath(), true, epoch),
        domain,
      }),
      serialize(ID_REFRESH_TOKEN_COOKIE, '', { ...this.attributes('/', false, epoch), domain }),
    ]);
  }

  private attributes(path: string, httpOnly: boolean, expires: Date): SerializeOptions {
    const { domain, secure, sameSite } = this.options.cookie;
    return { path, httpOnly, expires, secure, sameSite, domain };
  }

  /** Keeps the app's own cookies and replaces any session cookie already on the response. */
  private replaceCookies(response: HttpResponseLike, cookies: string[]): void {
    const others = headerValues(response, 'Set-Cookie').filter(
      (cookie) => !SESSION_COOKIES.includes(cookie.slice(0, cookie.indexOf('='))),
    );
    setHeader(response, 'Set-Cookie', [...others, ...cookies]);
  }
}

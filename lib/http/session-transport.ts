import { serialize, type SerializeOptions } from 'cookie';
import type { IssuedToken } from '../interfaces/session.interface.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import {
  appendToListHeader,
  headerValues,
  requestHeader,
  requestOf,
  setHeader,
  type HttpRequestLike,
  type HttpResponseLike,
} from './http-adapter.js';

/** Cookie names of the original library, kept so existing front ends work unchanged. */
export const ACCESS_TOKEN_COOKIE = 'sAccessToken';
export const REFRESH_TOKEN_COOKIE = 'sRefreshToken';
export const ID_REFRESH_TOKEN_COOKIE = 'sIdRefreshToken';

/** The names of the three session cookies under one `cookie.namePrefix`. */
export interface SessionCookieNames {
  accessToken: string;
  refreshToken: string;
  idRefreshToken: string;
}

/** The original names (`cookie.namePrefix: ''`). */
export const DEFAULT_SESSION_COOKIE_NAMES: SessionCookieNames = {
  accessToken: ACCESS_TOKEN_COOKIE,
  refreshToken: REFRESH_TOKEN_COOKIE,
  idRefreshToken: ID_REFRESH_TOKEN_COOKIE,
};

/** The cookie names for a `cookie.namePrefix` (`''` or `'__Host-'`). */
export function sessionCookieNames(namePrefix: string): SessionCookieNames {
  return {
    accessToken: `${namePrefix}${ACCESS_TOKEN_COOKIE}`,
    refreshToken: `${namePrefix}${REFRESH_TOKEN_COOKIE}`,
    idRefreshToken: `${namePrefix}${ID_REFRESH_TOKEN_COOKIE}`,
  };
}

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
  names: SessionCookieNames = DEFAULT_SESSION_COOKIE_NAMES,
): Pick<RequestCredentials, 'accessToken' | 'refreshToken' | 'idRefreshToken'> {
  return {
    accessToken: readCookie(cookieHeader, names.accessToken),
    refreshToken: readCookie(cookieHeader, names.refreshToken),
    idRefreshToken: readCookie(cookieHeader, names.idRefreshToken),
  };
}

/** The `Authorization: Bearer` value, if the request uses header transport. */
export function readBearer(request: HttpRequestLike): string | undefined {
  const authorization = requestHeader(request, 'authorization');
  return authorization && BEARER_SCHEME.test(authorization) ? authorization.slice(6).trim() : undefined;
}

/** Everything session-related a request carries. */
export function readCredentials(
  request: HttpRequestLike,
  names: SessionCookieNames = DEFAULT_SESSION_COOKIE_NAMES,
): RequestCredentials {
  return { bearer: readBearer(request), ...readSessionCookies(requestHeader(request, 'cookie'), names) };
}

/** Whether the request carries any session cookie (a cookie session, however broken). */
export function carriesSessionCookie(credentials: RequestCredentials): boolean {
  return (
    credentials.accessToken.value !== undefined ||
    credentials.refreshToken.value !== undefined ||
    credentials.idRefreshToken.value !== undefined
  );
}

/**
 * Whether the client asked for tokens in headers instead of cookies. Only a login may grant it: a
 * refresh answers on the transport of the refresh token it was sent (see `SessionService`).
 */
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

/** Most parent domains cleared per cookie, so a long `Host` header cannot multiply `Set-Cookie`. */
const MAX_PARENT_DOMAINS = 4;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The parent domains of a `Host` header's name that a sibling subdomain could plant cookies on
 * (`app.eu.example.com` → `eu.example.com`, `example.com`); none for an IP address, a single- or
 * two-label name, or anything that is not a plain DNS name. Top-level domains are left out (browsers
 * refuse them); the highest {@link MAX_PARENT_DOMAINS} are kept.
 */
export function parentDomains(host: string | undefined): string[] {
  if (!host || host.startsWith('[')) return [];
  const name = host.replace(/:\d*$/, '').replace(/\.$/, '').toLowerCase();
  const labels = name.split('.');
  if (labels.length < 3 || !labels.every((label) => DOMAIN_LABEL.test(label))) return [];
  if (/^\d+$/.test(labels.at(-1)!)) return []; // an IPv4 address
  const parents = labels.slice(1, -1).map((_, index) => labels.slice(index + 1).join('.'));
  return parents.slice(-MAX_PARENT_DOMAINS);
}

/** Writes session cookies and headers in the exact shape existing front ends expect. */
export class SessionTransport {
  /** The cookie names under the configured `cookie.namePrefix`. */
  readonly names: SessionCookieNames;
  private readonly cookieNames: readonly string[];
  private readonly hostOnlyNames: boolean;

  constructor(
    private readonly options: ResolvedSessionOptions,
    /** The refresh route as the browser sees it (global prefix included). */
    private readonly refreshCookiePath: () => string,
  ) {
    this.names = sessionCookieNames(options.cookie.namePrefix);
    this.cookieNames = [this.names.accessToken, this.names.refreshToken, this.names.idRefreshToken];
    this.hostOnlyNames = options.cookie.namePrefix === '__Host-';
  }

  /** Everything session-related a request carries, under the configured cookie names. */
  readCredentials(request: HttpRequestLike): RequestCredentials {
    return readCredentials(request, this.names);
  }

  /**
   * Sets the three cookies (or, with `headerTransport`, the `access-token`/`refresh-token` headers)
   * and the wire headers. Which transport is the caller's decision: new tokens travel the way the
   * presented credential travelled. Copies under another domain (a changed `cookie.domain`, or
   * planted by a sibling subdomain) of the session cookies the request carried, and of the refresh
   * cookie, are deleted, since the browser would keep sending them next to the new ones.
   */
  deliver(
    response: HttpResponseLike,
    tokens: DeliveredTokens,
    headerTransport: boolean,
    request: HttpRequestLike = requestOf(response),
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
    // The refresh cookie reaches only the refresh path, so a login cannot see a planted copy: always
    // clear its other-domain variants too.
    const carried = this.carriedNames(request).add(this.names.refreshToken);
    const stale = this.clearingCookies(carried, this.otherDomains(request));
    const { names } = this;
    this.replaceCookies(response, [
      ...stale,
      serialize(names.accessToken, tokens.accessToken.value, this.attributes('/', true, expires)),
      serialize(
        names.refreshToken,
        tokens.refreshToken.value,
        this.attributes(this.refreshTokenPath(), true, expires),
      ),
      serialize(names.idRefreshToken, tokens.idRefreshToken.value, this.attributes('/', false, expires)),
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
   * Clears the session cookies the request carried or this response set, and nothing else: a
   * response to a request without session cookies (a cross-site form post, say) must not sign the
   * browser out. Off the refresh route (`offRefreshPath`), a request carrying a session cookie also
   * stands for the refresh cookie, which the browser sends to the refresh path only. Each is cleared
   * with the attributes that set it, under the configured domain and the other domains a copy may
   * live on (host-only, parent domains). Adds `id-refresh-token: remove` when something was cleared.
   * @returns whether any cookie was cleared.
   */
  clear(
    response: HttpResponseLike,
    request: HttpRequestLike = requestOf(response),
    offRefreshPath = true,
  ): boolean {
    const names = new Set([...this.carriedNames(request), ...this.namesSetOn(response)]);
    if (names.size === 0) return false;
    if (offRefreshPath) names.add(this.names.refreshToken);
    this.replaceCookies(
      response,
      this.clearingCookies(names, [this.options.cookie.domain, ...this.otherDomains(request)]),
    );
    setHeader(response, 'Cache-Control', 'no-store');
    setHeader(response, ID_REFRESH_TOKEN_HEADER, 'remove');
    appendToListHeader(response, 'Access-Control-Expose-Headers', [ID_REFRESH_TOKEN_HEADER]);
    return true;
  }

  /** Session cookie names the request carries (any copy, any value). */
  private carriedNames(request: HttpRequestLike): Set<string> {
    const header = requestHeader(request, 'cookie');
    return new Set(this.cookieNames.filter((name) => readCookie(header, name).value !== undefined));
  }

  private namesSetOn(response: HttpResponseLike): string[] {
    const set = headerValues(response, 'Set-Cookie').map((cookie) => cookie.slice(0, cookie.indexOf('=')));
    return this.cookieNames.filter((name) => set.includes(name));
  }

  /**
   * Domains other than the configured one where a browser may hold a copy of our cookies
   * (`undefined`: host-only). None for `__Host-` names, which browsers keep host-only.
   */
  private otherDomains(request: HttpRequestLike): (string | undefined)[] {
    if (this.hostOnlyNames) return [];
    const { domain } = this.options.cookie;
    const parents = parentDomains(requestHeader(request, 'host')).filter((parent) => parent !== domain);
    return domain === undefined ? parents : [undefined, ...parents];
  }

  /** Set-Cookie values that delete the named cookies on each domain (`undefined`: host-only). */
  private clearingCookies(names: ReadonlySet<string>, domains: (string | undefined)[]): string[] {
    if (names.size === 0) return [];
    const epoch = new Date(0);
    const { accessToken, refreshToken, idRefreshToken } = this.names;
    return domains.flatMap((domain) => [
      ...(names.has(accessToken)
        ? [serialize(accessToken, '', { ...this.attributes('/', true, epoch), domain })]
        : []),
      ...(names.has(refreshToken)
        ? [
            serialize(refreshToken, '', {
              ...this.attributes(this.refreshTokenPath(), true, epoch),
              domain,
            }),
          ]
        : []),
      ...(names.has(idRefreshToken)
        ? [serialize(idRefreshToken, '', { ...this.attributes('/', false, epoch), domain })]
        : []),
    ]);
  }

  /**
   * The refresh cookie's Path: the refresh route, except for `__Host-` names, which browsers accept
   * only with `Path=/` (the cookie is then sent with every request; it stays HttpOnly and Secure).
   */
  private refreshTokenPath(): string {
    return this.hostOnlyNames ? '/' : this.refreshCookiePath();
  }

  private attributes(path: string, httpOnly: boolean, expires: Date): SerializeOptions {
    const { domain, secure, sameSite } = this.options.cookie;
    return { path, httpOnly, expires, secure, sameSite, domain };
  }

  /** Keeps the app's own cookies and replaces any session cookie already on the response. */
  private replaceCookies(response: HttpResponseLike, cookies: string[]): void {
    const others = headerValues(response, 'Set-Cookie').filter(
      (cookie) => !this.cookieNames.includes(cookie.slice(0, cookie.indexOf('='))),
    );
    setHeader(response, 'Set-Cookie', [...others, ...cookies]);
  }
}

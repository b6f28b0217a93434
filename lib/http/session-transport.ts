import { serialize, type SerializeOptions } from 'cookie';
import type { IssuedToken, RefreshedSession } from '../interfaces/session.interface.js';
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
import { readCookie } from './request-credentials.js';
import {
  ACCESS_TOKEN_HEADER,
  ANTI_CSRF_HEADER,
  HOST_ONLY_NAME_PREFIX,
  ID_REFRESH_TOKEN_HEADER,
  ID_REFRESH_TOKEN_REMOVED,
  REFRESH_TOKEN_HEADER,
  sessionCookieNames,
  type SessionCookieNames,
} from './wire.js';

/** Tokens to deliver on create or refresh. */
export interface DeliveredTokens {
  accessToken: IssuedToken;
  refreshToken: IssuedToken;
  idRefreshToken: IssuedToken;
  antiCsrfToken: string | undefined;
}

/** The tokens a refresh delivers. */
export function deliveredTokens(refreshed: RefreshedSession): DeliveredTokens {
  return {
    accessToken: refreshed.newAccessToken,
    refreshToken: refreshed.newRefreshToken,
    idRefreshToken: refreshed.newIdRefreshToken,
    antiCsrfToken: refreshed.newAntiCsrfToken,
  };
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

/**
 * Writes session cookies and headers in the exact shape existing front ends expect (reading them is
 * `request-credentials.ts`).
 */
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
    this.hostOnlyNames = options.cookie.namePrefix === HOST_ONLY_NAME_PREFIX;
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
    // A "remember me"-less session: browser-session cookies (no Expires, no Max-Age).
    const expires =
      tokens.refreshToken.persistent === false ? undefined : new Date(tokens.refreshToken.expires);
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
   * Sets only a new access token of the current generation (a changed payload or `auth_time`): the
   * `sAccessToken` cookie, expiring with the session like the one it replaces (`undefined`: a
   * browser-session cookie), or with
   * `headerTransport` the `access-token` header. The refresh, idRefresh and anti-csrf tokens stay.
   */
  deliverAccessToken(
    response: HttpResponseLike,
    accessToken: IssuedToken,
    sessionExpires: number | undefined,
    headerTransport: boolean,
  ): void {
    setHeader(response, 'Cache-Control', 'no-store');
    if (headerTransport) {
      setHeader(response, ACCESS_TOKEN_HEADER, accessToken.value);
      appendToListHeader(response, 'Access-Control-Expose-Headers', [ACCESS_TOKEN_HEADER]);
      return;
    }
    const attributes = this.attributes(
      '/',
      true,
      sessionExpires === undefined ? undefined : new Date(sessionExpires),
    );
    const others = headerValues(response, 'Set-Cookie').filter(
      (cookie) => cookie.slice(0, cookie.indexOf('=')) !== this.names.accessToken,
    );
    setHeader(response, 'Set-Cookie', [
      ...others,
      serialize(this.names.accessToken, accessToken.value, attributes),
    ]);
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
    setHeader(response, ID_REFRESH_TOKEN_HEADER, ID_REFRESH_TOKEN_REMOVED);
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

  private attributes(path: string, httpOnly: boolean, expires: Date | undefined): SerializeOptions {
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

// A dependency-free browser client: import it in the page (`nestjs-token-session/client`).
// It imports only the wire contract (`../http/wire.ts`, itself import-free), nothing of the server.
import {
  ANTI_CSRF_HEADER,
  bareOrigin,
  DEFAULT_REFRESH_PATH,
  HOST_ONLY_NAME_PREFIX,
  ID_REFRESH_TOKEN_COOKIE,
  ID_REFRESH_TOKEN_HEADER,
  ID_REFRESH_TOKEN_REMOVED,
  INVALID_CLAIM,
  SAFE_METHODS,
  SESSION_NOT_FRESH,
  type ClaimValidationError,
} from '../http/wire.js';
import type { SessionClient, SessionClientOptions, SignedOutReason } from './session-client.types.js';

export type { ClaimValidationError } from '../http/wire.js';

export type {
  SessionClient,
  SessionClientOptions,
  SignedOutEvent,
  SignedOutReason,
} from './session-client.types.js';

interface StoredToken {
  idRefreshToken: string;
  antiCsrf: string;
}

interface BrowserGlobals {
  document?: { cookie: string; baseURI?: string };
  localStorage?: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
  };
  navigator?: { locks?: { request<T>(name: string, callback: () => Promise<T>): Promise<T> } };
  location?: { href: string; origin: string };
}

const REFRESH_LOCK = 'nestjs-token-session-refresh';
const STORAGE_POLL_MS = 20;
const STORAGE_WAIT_MS = 1000;

/** Parses `url` (relative ones against `base`), or `undefined` when it is not a URL. */
function parseUrl(url: string, base?: string): URL | undefined {
  try {
    return new URL(url, base);
  } catch {
    return undefined;
  }
}

/** The origin of an `apiOrigins` entry; anything but a bare http(s) origin is a mistake to report. */
function apiOrigin(entry: unknown): string {
  const origin = bareOrigin(entry);
  if (origin !== undefined) return origin;
  throw new Error(
    `createSessionClient: apiOrigins entries must be bare origins such as 'https://api.example.com' ` +
      `(scheme, host and optional port; no path, query, user or wildcard), got ${JSON.stringify(entry)}.`,
  );
}

/** The first cookie called `name`, decoded (`undefined` when malformed), or `null` when there is none. */
function cookieNamed(cookies: string, name: string): string | undefined | null {
  for (const pair of cookies.split(';')) {
    const [key, ...rest] = pair.trim().split('=');
    if (key !== name) continue;
    try {
      return decodeURIComponent(rest.join('='));
    } catch {
      return undefined; // a malformed cookie (`%E0%A4%A`) is no session, never a thrown URIError
    }
  }
  return null;
}

/** Creates the session client of one page. */
export function createSessionClient(options: SessionClientOptions = {}): SessionClient {
  const browser = globalThis as BrowserGlobals;
  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const cookieNamePrefix = options.cookieNamePrefix ?? '';
  if (cookieNamePrefix !== '' && cookieNamePrefix !== HOST_ONLY_NAME_PREFIX) {
    throw new Error(
      `createSessionClient: cookieNamePrefix must be '' or '${HOST_ONLY_NAME_PREFIX}' (the server's cookie.namePrefix), got ${JSON.stringify(cookieNamePrefix)}.`,
    );
  }
  // Exact name: with the `__Host-` prefix a plain `sIdRefreshToken` is someone else's cookie.
  const idRefreshCookie = `${cookieNamePrefix}${ID_REFRESH_TOKEN_COOKIE}`;
  const pageOrigin = browser.location?.origin;
  if (options.apiOrigins !== undefined && !Array.isArray(options.apiOrigins)) {
    throw new Error(
      `createSessionClient: apiOrigins must be an array of origins such as ['https://api.example.com'], got ${JSON.stringify(options.apiOrigins)}.`,
    );
  }
  const trustedOrigins = new Set((options.apiOrigins ?? []).map(apiOrigin));
  if (pageOrigin !== undefined && pageOrigin !== 'null') trustedOrigins.add(pageOrigin);
  const refreshOption = options.refreshPath ?? DEFAULT_REFRESH_PATH;
  // Without a page (not a browser) a relative path cannot be resolved, nor sent anywhere else.
  const refreshUrl = parseUrl(refreshOption, baseUrl());
  if (refreshUrl !== undefined && !trustedOrigins.has(refreshUrl.origin)) {
    throw new Error(
      `createSessionClient: refreshPath ${JSON.stringify(refreshOption)} is on ${refreshUrl.origin}, which is ` +
        `neither the page's origin nor in apiOrigins; add that origin to apiOrigins.`,
    );
  }
  // Resolved once: a `<base>` inserted later cannot move the refresh elsewhere.
  const refreshPath = refreshUrl?.href ?? refreshOption;
  const expiredStatus = options.sessionExpiredStatusCode ?? 401;
  const storageKey = options.storageKey ?? 'nestjs-token-session';
  const graphqlPath = options.graphqlPath ?? '/graphql';
  let refreshing: Promise<boolean> | undefined;
  let signedOut = false;

  /**
   * What `fetch` resolves relative URLs against: the document's base URL, which a `<base href>`
   * moves away from the page's own URL.
   */
  function baseUrl(): string | undefined {
    try {
      return browser.document?.baseURI ?? browser.location?.href;
    } catch {
      return browser.location?.href;
    }
  }

  /** `url` resolved as `fetch` resolves it, when it goes to the page's origin or one of `apiOrigins`. */
  function sessionUrl(url: string): URL | undefined {
    const parsed = parseUrl(url, baseUrl());
    return parsed !== undefined && trustedOrigins.has(parsed.origin) ? parsed : undefined;
  }

  function isSessionUrl(url: string): boolean {
    return sessionUrl(url) !== undefined;
  }

  function readCookies(): string {
    try {
      return browser.document?.cookie ?? '';
    } catch {
      return ''; // a sandboxed document may refuse cookie access
    }
  }

  /**
   * The `sIdRefreshToken` cookie, or `__Host-sIdRefreshToken` (server option `cookie.namePrefix`),
   * which wins when both are set: an unprefixed one may outlive a switch to the prefix.
   */
  function idRefreshToken(): string | undefined {
    return cookieNamed(readCookies(), idRefreshCookie) ?? undefined;
  }

  function stored(): StoredToken | undefined {
    try {
      const raw = browser.localStorage?.getItem(storageKey);
      const token = raw ? (JSON.parse(raw) as Partial<StoredToken> | null) : undefined;
      return typeof token?.idRefreshToken === 'string' && typeof token.antiCsrf === 'string'
        ? { idRefreshToken: token.idRefreshToken, antiCsrf: token.antiCsrf }
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes (or, with `undefined`, removes) the shared token; a refused storage keeps none. */
  function store(token: StoredToken | undefined): void {
    try {
      if (token) browser.localStorage?.setItem(storageKey, JSON.stringify(token));
      else browser.localStorage?.removeItem(storageKey);
    } catch {
      // Storage disabled or full: the next non-GET request refreshes to learn the token again.
    }
  }

  function antiCsrfToken(): string | undefined {
    const token = stored();
    // A token of another refresh generation is stale: every tab shares the newest one.
    return token && token.idRefreshToken === idRefreshToken() ? token.antiCsrf : undefined;
  }

  function reportSignedOut(type: SignedOutReason, reason?: string): void {
    store(undefined);
    if (signedOut) return;
    signedOut = true;
    options.onSignedOut?.({ type, reason });
  }

  /**
   * Whether a response came from the session API: its final URL (after redirects) is ours. A
   * response built without a URL (a custom `fetch`) counts as the request's.
   */
  function isSessionResponse(response: Response): boolean {
    return response.url === '' || isSessionUrl(response.url);
  }

  function record(response: Response): void {
    const idHeader = response.headers.get(ID_REFRESH_TOKEN_HEADER);
    if (idHeader === ID_REFRESH_TOKEN_REMOVED) {
      store(undefined);
      return;
    }
    const antiCsrf = response.headers.get(ANTI_CSRF_HEADER);
    if (idHeader && antiCsrf) {
      store({ idRefreshToken: idHeader.split(';')[0], antiCsrf });
      signedOut = false;
    }
  }

  /**
   * The anti-csrf token for the current cookies. When another tab has just refreshed, its cookies
   * reach this tab before its `localStorage` write does: wait a moment for the token to catch up.
   */
  async function currentAntiCsrfToken(): Promise<string | undefined> {
    for (let waited = 0; ; waited += STORAGE_POLL_MS) {
      const token = antiCsrfToken();
      if (token !== undefined || waited >= STORAGE_WAIT_MS || idRefreshToken() === undefined) return token;
      if (stored() === undefined) return undefined;
      await new Promise((resolve) => setTimeout(resolve, STORAGE_POLL_MS));
    }
  }

  async function errorBody(response: Response): Promise<{ type?: unknown; claimValidationErrors?: unknown }> {
    try {
      const body: unknown = await response.clone().json();
      return typeof body === 'object' && body !== null ? body : {};
    } catch {
      return {};
    }
  }

  /** A 403 the user can act on while signed in: tell the page; the request still resolves. */
  async function reportForbidden(response: Response): Promise<void> {
    const body = await errorBody(response);
    try {
      if (body.type === INVALID_CLAIM) {
        const errors = Array.isArray(body.claimValidationErrors) ? body.claimValidationErrors : [];
        options.onInvalidClaim?.(errors as ClaimValidationError[]);
      } else if (body.type === SESSION_NOT_FRESH) {
        options.onStepUpRequired?.();
      }
    } catch (error) {
      // The page's handler failed: report it as an uncaught error, but resolve the request anyway.
      setTimeout(() => {
        throw error;
      });
    }
  }

  /** The error body's `type` and revocation `reason` (strings only). */
  async function errorOf(response: Response): Promise<{ type?: string; reason?: string }> {
    try {
      const body = (await response.clone().json()) as { type?: unknown; reason?: unknown };
      return {
        type: typeof body?.type === 'string' ? body.type : undefined,
        reason: typeof body?.reason === 'string' ? body.reason : undefined,
      };
    } catch {
      return {};
    }
  }

  /** The session error a GraphQL answer carries in `errors[].extensions.code`, if any. */
  async function graphqlErrorType(url: URL, response: Response): Promise<string | undefined> {
    const contentType = response.headers.get('content-type') ?? '';
    if (url.pathname !== graphqlPath && !contentType.includes('application/graphql-response+json'))
      return undefined;
    try {
      const body = (await response.clone().json()) as { errors?: { extensions?: { code?: unknown } }[] };
      const codes = Array.isArray(body?.errors) ? body.errors.map((error) => error?.extensions?.code) : [];
      return (
        codes.find((code) => code === 'TRY_REFRESH_TOKEN') ??
        (codes.find((code) => typeof code === 'string' && code.startsWith('UNAUTHORISED')) as
          string | undefined)
      );
    } catch {
      return undefined;
    }
  }

  async function withLock<T>(callback: () => Promise<T>): Promise<T> {
    const locks = browser.navigator?.locks;
    return locks ? locks.request(REFRESH_LOCK, callback) : callback();
  }

  /** One refresh for all callers of this tab; across tabs, the Web Locks API serialises them. */
  function refreshOnce(idBefore: string | undefined): Promise<boolean> {
    refreshing ??= withLock(async () => {
      const idNow = idRefreshToken();
      if (idNow === undefined) {
        reportSignedOut('NO_SESSION');
        return false;
      }
      // Another tab refreshed while this one waited: its cookies are ours already.
      if (idBefore !== undefined && idNow !== idBefore) return true;
      let response: Response;
      try {
        response = await baseFetch(refreshPath, { method: 'POST', credentials: 'include' });
      } catch {
        return false; // offline: nobody is signed out for it
      }
      if (!isSessionResponse(response)) return false;
      record(response);
      if (response.ok) return true;
      const { type, reason } = await errorOf(response);
      if (type === 'UNAUTHORISED' || type === 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED') {
        reportSignedOut(type, reason);
      }
      return false;
    }).finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function sessionFetch(input: string | URL | Request, requestInit?: RequestInit): Promise<Response> {
    const inputRequest = typeof input !== 'string' && !('href' in input) ? input : undefined;
    const url = sessionUrl(inputRequest ? inputRequest.url : String(input));
    // Credentials, the anti-csrf token and refreshes are for the session API only.
    if (url === undefined) return baseFetch(input, requestInit);
    // A Request keeps its own method, headers and body unless `requestInit` overrides them; each
    // attempt sends a clone, so a retry after a refresh still has the body.
    const request = inputRequest && new Request(inputRequest, requestInit);
    const init = requestInit ?? {};
    for (let attempt = 0; ; attempt++) {
      const idBefore = idRefreshToken();
      const headers = new Headers(request ? request.headers : init.headers);
      const method = (request?.method ?? init.method ?? 'GET').toUpperCase();
      let redirect = request?.redirect ?? init.redirect ?? 'follow';
      if (!SAFE_METHODS.has(method)) {
        const antiCsrf = await currentAntiCsrfToken();
        if (antiCsrf) {
          headers.set(ANTI_CSRF_HEADER, antiCsrf);
          // `fetch` keeps the header across a redirect to any origin, and a script cannot see where a
          // redirect points before following it: the token goes out only to the URL checked above.
          if (redirect === 'follow') redirect = 'manual';
        }
      }
      const sent = { headers, credentials: 'include', redirect } satisfies RequestInit;
      // The resolved URL: a `<base>` changed while waiting for the token cannot move the request.
      const response = await (request
        ? baseFetch(request.clone(), sent)
        : baseFetch(url.href, { ...init, ...sent }));
      // Redirected elsewhere: that server's headers and errors say nothing about our session.
      if (!isSessionResponse(response)) return response;
      record(response);
      if (response.status === 403) await reportForbidden(response);
      const expired = response.status === expiredStatus || response.status === 401;
      // GraphQL answers session errors with 200 and `errors[].extensions.code`.
      const { type, reason }: { type?: string; reason?: string } = expired
        ? await errorOf(response)
        : response.ok
          ? { type: await graphqlErrorType(url, response) }
          : {};
      if (type === undefined) return response;
      if (type === 'TRY_REFRESH_TOKEN' && attempt === 0 && (await refreshOnce(idBefore))) continue;
      if (type === 'UNAUTHORISED' || type === 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED') {
        reportSignedOut(type, reason);
      }
      return response;
    }
  }

  return {
    fetch: sessionFetch,
    refresh: () => refreshOnce(idRefreshToken()),
    hasSession: () => idRefreshToken() !== undefined,
    antiCsrfToken,
  };
}

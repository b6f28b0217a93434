// A dependency-free browser client: import it in the page (`nestjs-token-session/client`).
// It must not import anything from the server side of the package.

/** Options of {@link createSessionClient}. */
export interface SessionClientOptions {
  /**
   * The refresh route, as the browser reaches it (global prefix included).
   * @default '/session/refresh'
   */
  refreshPath?: string;
  /**
   * The status the server answers `TRY_REFRESH_TOKEN` with (`sessionExpiredStatusCode`).
   * @default 401
   */
  sessionExpiredStatusCode?: number;
  /** Called once when the session is gone (sign-out elsewhere, revoked, expired or stolen). */
  onSignedOut?: (reason: SignedOutReason) => void;
  /**
   * Where the anti-csrf token is kept in `localStorage`, shared by every tab.
   * @default 'nestjs-token-session'
   */
  storageKey?: string;
  /** The `fetch` to wrap (defaults to the global one). */
  fetch?: typeof fetch;
}

/** Why the client reports the user signed out. */
export type SignedOutReason = 'UNAUTHORISED' | 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED' | 'NO_SESSION';

/** A `fetch` that carries the session: credentials, anti-csrf header, transparent refresh. */
export interface SessionClient {
  /** Like `fetch`; on `TRY_REFRESH_TOKEN` it refreshes once (for all concurrent calls) and retries. */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
  /** Refreshes now; `false` when the session is gone (or the server could not answer). */
  refresh(): Promise<boolean>;
  /** Whether the browser holds a session (the `sIdRefreshToken` cookie is readable by the page). */
  hasSession(): boolean;
  /** The anti-csrf token of the current session, if known. */
  antiCsrfToken(): string | undefined;
}

interface StoredToken {
  idRefreshToken: string;
  antiCsrf: string;
}

interface BrowserGlobals {
  document?: { cookie: string };
  localStorage?: {
    getItem(key: string): string | null;
    setItem(key: string, value: string): void;
    removeItem(key: string): void;
  };
  navigator?: { locks?: { request<T>(name: string, callback: () => Promise<T>): Promise<T> } };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const REFRESH_LOCK = 'nestjs-token-session-refresh';
const STORAGE_POLL_MS = 20;
const STORAGE_WAIT_MS = 1000;

/** Creates the session client of one page. */
export function createSessionClient(options: SessionClientOptions = {}): SessionClient {
  const browser = globalThis as BrowserGlobals;
  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const refreshPath = options.refreshPath ?? '/session/refresh';
  const expiredStatus = options.sessionExpiredStatusCode ?? 401;
  const storageKey = options.storageKey ?? 'nestjs-token-session';
  let refreshing: Promise<boolean> | undefined;
  let signedOut = false;

  function idRefreshToken(): string | undefined {
    const cookies = browser.document?.cookie ?? '';
    for (const pair of cookies.split(';')) {
      const [name, ...rest] = pair.trim().split('=');
      if (name === 'sIdRefreshToken') return decodeURIComponent(rest.join('='));
    }
    return undefined;
  }

  function stored(): StoredToken | undefined {
    try {
      const raw = browser.localStorage?.getItem(storageKey);
      return raw ? (JSON.parse(raw) as StoredToken) : undefined;
    } catch {
      return undefined;
    }
  }

  function antiCsrfToken(): string | undefined {
    const token = stored();
    // A token of another refresh generation is stale: every tab shares the newest one.
    return token && token.idRefreshToken === idRefreshToken() ? token.antiCsrf : undefined;
  }

  function reportSignedOut(reason: SignedOutReason): void {
    browser.localStorage?.removeItem(storageKey);
    if (signedOut) return;
    signedOut = true;
    options.onSignedOut?.(reason);
  }

  function record(response: Response): void {
    const idHeader = response.headers.get('id-refresh-token');
    if (idHeader === 'remove') {
      browser.localStorage?.removeItem(storageKey);
      return;
    }
    const antiCsrf = response.headers.get('anti-csrf');
    if (idHeader && antiCsrf) {
      const idRefresh = idHeader.split(';')[0];
      browser.localStorage?.setItem(storageKey, JSON.stringify({ idRefreshToken: idRefresh, antiCsrf }));
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

  async function errorType(response: Response): Promise<string | undefined> {
    try {
      const body = (await response.clone().json()) as { type?: unknown };
      return typeof body?.type === 'string' ? body.type : undefined;
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
      const response = await baseFetch(refreshPath, { method: 'POST', credentials: 'include' });
      record(response);
      if (response.ok) return true;
      const type = await errorType(response);
      if (type === 'UNAUTHORISED' || type === 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED') reportSignedOut(type);
      return false;
    }).finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function sessionFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const idBefore = idRefreshToken();
      const headers = new Headers(init.headers);
      const method = (init.method ?? 'GET').toUpperCase();
      if (!SAFE_METHODS.has(method)) {
        const antiCsrf = await currentAntiCsrfToken();
        if (antiCsrf) headers.set('anti-csrf', antiCsrf);
      }
      const response = await baseFetch(input, { ...init, headers, credentials: 'include' });
      record(response);
      if (response.status !== expiredStatus && response.status !== 401) return response;
      const type = await errorType(response);
      if (type === 'TRY_REFRESH_TOKEN' && attempt === 0 && (await refreshOnce(idBefore))) continue;
      if (type === 'UNAUTHORISED' || type === 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED') reportSignedOut(type);
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

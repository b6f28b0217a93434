// The browser client's public types; type-only, so the client ships as one module plus the wire contract.
import type { ClaimValidationError } from '../http/wire.js';

/** Options of `createSessionClient`. */
export interface SessionClientOptions {
  /**
   * The refresh route, as the browser reaches it (global prefix included); an absolute URL when the
   * API is on another origin, which must then be in `apiOrigins`.
   * @default '/session/refresh'
   * @throws Error at creation when it is on an origin that is neither the page's nor in `apiOrigins`.
   */
  refreshPath?: string;
  /**
   * The status the server answers `TRY_REFRESH_TOKEN` with (`sessionExpiredStatusCode`).
   * @default 401
   */
  sessionExpiredStatusCode?: number;
  /**
   * Called once when the session is gone (sign-out elsewhere, revoked, expired or stolen), with the
   * server's error `type` and, when the server told this session's holder why, its revocation
   * `reason` (`'signed-out'`, `'revoked'`, `'theft'`, `'limit'`, `'expired'`... or the app's own).
   */
  onSignedOut?: (event: SignedOutEvent) => void;
  /**
   * Called when the session API answers 403 `INVALID_CLAIM` (the session lacks a claim the route
   * requires, e.g. a role), with the body's `claimValidationErrors` (`[{ claim, reason }]`). The user
   * stays signed in and `fetch` still resolves with the 403 response.
   */
  onInvalidClaim?: (errors: ClaimValidationError[]) => void;
  /**
   * Called when the session API answers 403 `SESSION_NOT_FRESH` (the route needs a recent sign-in:
   * ask for the password again, then retry). The user stays signed in and `fetch` still resolves
   * with the 403 response.
   */
  onStepUpRequired?: () => void;
  /**
   * Where the anti-csrf token is kept in `localStorage`, shared by every tab.
   * @default 'nestjs-token-session'
   */
  storageKey?: string;
  /** The `fetch` to wrap (defaults to the global one). */
  fetch?: typeof fetch;
  /**
   * Origins other than the page's own that serve the session API, e.g. `['https://api.example.com']`
   * (scheme, host and port; compared exactly, as the URL API serialises them). Only requests to the
   * page's origin and to these get credentials, the anti-csrf header and refreshes, and only their
   * responses (after any redirect) may change the stored tokens; any other request goes to `fetch`
   * untouched. Such an API needs CORS with credentials for the page's origin and a `cookie.domain`
   * shared with the page, so the page can read `sIdRefreshToken`.
   * @default []
   * @throws Error at creation when an entry is not a bare `http(s)` origin.
   */
  apiOrigins?: readonly string[];
  /**
   * The server's `cookie.namePrefix`: with `'__Host-'` the client reads `__Host-sIdRefreshToken` and
   * never the plain `sIdRefreshToken`, which a sibling subdomain or a plain-HTTP page can plant.
   * @default ''
   * @throws Error at creation when it is neither `''` nor `'__Host-'`.
   */
  cookieNamePrefix?: '' | '__Host-';
  /**
   * Path of the GraphQL endpoint: a `200` answer from it whose `errors` carry
   * `extensions.code: 'TRY_REFRESH_TOKEN'` refreshes once and retries, like a REST `401`; `UNAUTHORISED`
   * reports the user signed out. A response typed `application/graphql-response+json` is read so
   * wherever it comes from.
   * @default '/graphql'
   */
  graphqlPath?: string;
}

/** The error type with which the client reports the user signed out. */
export type SignedOutReason = 'UNAUTHORISED' | 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED' | 'NO_SESSION';

/** What `onSignedOut` receives. */
export interface SignedOutEvent {
  /** The server's error type, or `'NO_SESSION'` when the browser holds no session cookie. */
  type: SignedOutReason;
  /**
   * Why the session was revoked, as the server told its holder (see `REVOCATION_REASONS` on the
   * server); `undefined` when it did not say (unknown, forgotten, or no session at all).
   */
  reason: string | undefined;
}

/** A `fetch` that carries the session: credentials, anti-csrf header, transparent refresh. */
export interface SessionClient {
  /**
   * Like `fetch`; on `TRY_REFRESH_TOKEN` it refreshes once (for all concurrent calls) and retries.
   * Only for the page's origin and `apiOrigins` (relative URLs resolved against `document.baseURI`,
   * as `fetch` does): other URLs go to `fetch` as they are. A request that gets the anti-csrf header
   * follows no redirect: it is sent with `redirect: 'manual'` (unless `'error'` was asked for), so a
   * redirect answers it with a `type: 'opaqueredirect'` response (status 0), since `fetch` would
   * carry the header to whatever origin the redirect names.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Refreshes now; `false` when the session is gone (or the server could not answer). */
  refresh(): Promise<boolean>;
  /**
   * Whether the browser holds a session (the `sIdRefreshToken` cookie, under `cookieNamePrefix`, is
   * readable by the page); a malformed cookie is no session.
   */
  hasSession(): boolean;
  /** The anti-csrf token of the current session, if known. */
  antiCsrfToken(): string | undefined;
}

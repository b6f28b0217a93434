import type { SessionMetadataOptions } from './session-metadata.interface.js';
import type { JWK } from 'jose';
import type { SessionAuditOptions, SessionTelemetryOptions } from './observability-options.interface.js';
import type { ResolvedRevocationOptions, RevocationOptions } from '../revocation/revocation.options.js';

/** Signing algorithms for access tokens. */
export type AccessTokenAlgorithm = 'HS256' | 'ES256' | 'EdDSA' | 'RS256';

/** How non-GET requests prove they come from the app's own pages. */
export type AntiCsrfMode = 'token' | 'custom-header' | 'none';

/**
 * Decides whether a page origin may open a connection with the session cookies; called with the
 * normalised origin (`'https://app.example.com'`: lower-case, no default port), never with `null`.
 * Only `true` trusts; a throw refuses the connection.
 */
export type TrustedOriginCheck = (origin: string) => boolean;

/**
 * The `trustedOrigins` option: exact origins (`'https://app.example.com'`, `'http://localhost:5173'`)
 * and/or functions for patterns, or one function.
 */
export type TrustedOrigins = readonly (string | TrustedOriginCheck)[] | TrustedOriginCheck;

/** `trustedOrigins` checked at start-up: normalised exact origins and the functions. */
export interface ResolvedTrustedOrigins {
  readonly origins: readonly string[];
  readonly checks: readonly TrustedOriginCheck[];
}

/** Access-token (JWT) settings. */
export interface AccessTokenOptions {
  /**
   * Lifetime of an access token, in seconds.
   * @default 900
   */
  validity?: number;
  /**
   * Signing algorithm.
   * @default 'HS256'
   */
  algorithm?: AccessTokenAlgorithm;
  /**
   * Check the session row on every guarded request, so a revoked session is refused at once.
   * @default false
   */
  blacklisting?: boolean;
  /**
   * Allowed clock skew when checking `exp` and `iat`, in seconds.
   * @default 5
   */
  clockTolerance?: number;
  /** The `iss` claim to set and require. */
  issuer?: string;
  /** The `aud` claim to set and require. */
  audience?: string;
  /** Where signing keys come from. */
  signingKey?: SigningKeyOptions;
}

/** Signing-key settings. */
export interface SigningKeyOptions {
  /**
   * Keep a key ring in the database, rotated every `updateInterval`.
   * @default true
   */
  dynamic?: boolean;
  /**
   * How long a ring key signs before the next one takes over, in seconds.
   * @default 604800
   */
  updateInterval?: number;
  /** Static JWKs (each with a `kid`) that replace the database ring; the first one signs. */
  keys?: JWK[];
}

/** Refresh-token settings. */
export interface RefreshTokenOptions {
  /**
   * Sliding lifetime of a session: each refresh extends it by this many seconds.
   * @default 8640000
   */
  validity?: number;
  /**
   * Path of the refresh route, before any global prefix, URI version and `RouterModule` path.
   * @default '/session/refresh'
   */
  path?: string;
  /**
   * The `Path` of the `sRefreshToken` cookie, used as given. Unset, it is the path at which Nest
   * really serves the refresh route (global prefix and its `exclude`, URI version, `RouterModule`
   * path), found at start-up. Set it only where that path is not one literal path (a version array,
   * a route parameter in the global prefix): it must cover every path the route is served at, or
   * start-up fails. With `refreshRoute: false`, set it to the path of your own refresh route (start-up
   * fails without it under URI versioning, a global prefix `exclude` list or route parameter, or
   * `RouterModule` paths). It and the served path must be what browsers send (no space, non-ASCII,
   * dot segment or `;`), or start-up fails.
   * @default the served path of the refresh route
   */
  cookiePath?: string;
  /**
   * How long a just-rotated refresh token still answers with the live token, in seconds (1 to 60).
   * @default 10
   */
  gracePeriod?: number;
  /** Hard limit on a session's life from its creation, in seconds; sliding expiry never passes it. */
  absoluteLifetime?: number;
  /**
   * The idle window of a session created without "remember me" (`persistent: false`,
   * `rememberMe: false`), in seconds: each refresh extends it by this much. Its cookies are
   * browser-session cookies (no `Expires`/`Max-Age`).
   * @default 86400
   */
  nonPersistentValidity?: number;
}

/** What happens when a sign-in would exceed `maxSessionsPerUser`. */
export type SessionLimitPolicy = 'revoke-oldest' | 'revoke-least-recently-active' | 'refuse';

/** Cookie attributes. */
export interface SessionCookieOptions {
  /** The cookie `Domain`; host-only cookies when unset. */
  domain?: string;
  /**
   * Send cookies over HTTPS only.
   * @default true
   */
  secure?: boolean;
  /**
   * The cookie `SameSite` attribute; `'none'` needs `secure` and an anti-csrf mode.
   * @default 'lax'
   */
  sameSite?: 'lax' | 'strict' | 'none';
  /**
   * A prefix for the three cookie names. `'__Host-'` (cookies `__Host-sAccessToken`,
   * `__Host-sRefreshToken`, `__Host-sIdRefreshToken`) makes browsers refuse copies planted by a
   * sibling subdomain or over plain HTTP (cookie tossing; RFC 6265bis section 4.1.3.2). Browsers keep
   * such cookies host-only, Secure and at `Path=/`, so it needs `secure: true`, no `domain`, and the
   * refresh cookie is sent with every request rather than to the refresh path only. The original
   * names stay the default because existing front ends read `sIdRefreshToken`.
   * @default ''
   */
  namePrefix?: '' | '__Host-';
}

/** Options of `SessionModule.forRoot()`. */
export interface SessionModuleOptions {
  /**
   * At least 32 random bytes (e.g. `openssl rand -base64 48` kept in an environment variable).
   * Every key the library uses is derived from it.
   */
  secret: string;
  /** Access-token settings. */
  accessToken?: AccessTokenOptions;
  /** Refresh-token settings. */
  refreshToken?: RefreshTokenOptions;
  /** Cookie attributes. */
  cookie?: SessionCookieOptions;
  /**
   * Anti-CSRF protection of cookie-based, state-changing requests.
   * @default 'token'
   */
  antiCsrf?: AntiCsrfMode;
  /**
   * Page origins besides the server's own whose WebSocket, socket.io and graphql-ws connections may
   * be authenticated by the session cookies, e.g. an SPA at `https://app.example.com` with its API
   * and sockets at `https://api.example.com` (cookies shared through `cookie.domain`).
   *
   * A browser sends the cookies with any page's WebSocket upgrade and no anti-csrf header can ride
   * along, so an upgrade authenticated by cookies is refused (`UNAUTHORISED`) unless its `Origin`
   * is the server's own or trusted here (cross-site WebSocket hijacking; RFC 6455 §10.2 "Origin
   * Considerations"). Connections that send the access token explicitly (socket.io `auth`,
   * `Authorization: Bearer`, `connection_init`, `session.refresh`) and clients sending no `Origin`
   * are not affected; with `antiCsrf: 'none'` no origin is checked (start-up refuses both together).
   *
   * Shape: exact origins (`scheme://host[:port]`, no path; compared after normalisation: scheme and
   * host case-insensitive, default ports dropped, so `'HTTPS://App.Example.com:443'` is
   * `'https://app.example.com'`; another scheme or port is another origin) and/or functions
   * `(origin) => boolean` for patterns, or one function. `'*'`, wildcards in a string, paths and
   * non-http(s) entries fail start-up. `Origin: null` (sandboxed frames, `file:` pages) is never
   * trusted and never passed to a function: every such page sends it, attackers' included.
   * @default [] (the server's own origin only)
   */
  trustedOrigins?: TrustedOrigins;
  /**
   * HTTP status of `TRY_REFRESH_TOKEN` (440 for older front ends).
   * @default 401
   */
  sessionExpiredStatusCode?: number;
  /**
   * How often expired sessions are removed, in seconds (0 turns cleanup off).
   * @default 3600
   */
  cleanupInterval?: number;
  /**
   * Rows the cleanup removes per statement (by primary key, so it never locks a live session's row).
   * @default 1000
   */
  cleanupBatchSize?: number;
  /**
   * Pause between two cleanup batches, in seconds.
   * @default 0.1
   */
  cleanupBatchPause?: number;
  /**
   * Longest wait for one database call, in seconds; a slower call answers `GENERAL_ERROR`. At most
   * half the grace period, so a client retrying after a late commit still lands inside it.
   * @default the smaller of 5 and half of `refreshToken.gracePeriod`
   */
  databaseTimeout?: number;
  /** OpenTelemetry spans and metrics, when `@opentelemetry/api` is installed (README, Operations). */
  telemetry?: SessionTelemetryOptions;
  /** An audit trail of every lifecycle event, written off the request path (README, Operations). */
  audit?: SessionAuditOptions;
  /**
   * What each session records about its client (IP, user agent, device, last activity, login
   * method, label) for "your devices" pages; `false` records nothing. The IP is the adapter's
   * request IP (`req.ip` on Express, `request.ip` on Fastify): behind a proxy it is the client's
   * only when the app trusts the proxy (Express `app.set('trust proxy', …)`, Fastify `trustProxy`).
   * @default { ip: 'truncated' }
   */
  sessionMetadata?: false | SessionMetadataOptions;
  /**
   * How long the reason of a revocation is kept for the revoked session's holder, in seconds
   * (removed by the cleanup like expired sessions; 0 keeps none).
   * @default 2592000 (30 days)
   */
  revocationReasonRetention?: number;
  /**
   * Most live sessions one user may hold (NIST SP 800-53 AC-10); unset: no cap. Enforced at
   * creation under a per-user database lock, so parallel sign-ins never exceed it.
   */
  maxSessionsPerUser?: number;
  /**
   * At the cap: revoke the oldest session, the least recently active (by `lastActiveAt`: its last
   * refresh or `checkDatabase` request; its last refresh when metadata is off), or refuse the
   * sign-in with `SessionLimitError` (403 `SESSION_LIMIT_REACHED`, nothing written). Revoked
   * sessions get the reason `'limit'`.
   * @default 'revoke-oldest'
   */
  onSessionLimit?: SessionLimitPolicy;
  /**
   * A revocation bus for many instances: `checkDatabase` routes and `blacklisting` answered from
   * memory, with no database read, while the bus is healthy. Unset: one read per such request.
   * See README, "Running many instances".
   */
  revocation?: RevocationOptions;
}

/** Table names of the session entities. */
export interface SessionTableNames {
  /**
   * Session rows.
   * @default 'session_info'
   */
  sessions?: string;
  /**
   * The signing-key ring.
   * @default 'session_signing_keys'
   */
  signingKeys?: string;
  /**
   * The audit trail (`TypeOrmAuditSink`).
   * @default 'session_audit'
   */
  audit?: string;
  /**
   * Revocation reasons kept for the revoked sessions' holders.
   * @default 'session_revocations'
   */
  revocations?: string;
  /**
   * The revocation log (used with the `revocation` option).
   * @default 'session_revocation_log'
   */
  revocationLog?: string;
}

/** Options with every default applied; what the library reads at run time. */
export interface ResolvedSessionOptions {
  secret: string;
  accessToken: Required<Omit<AccessTokenOptions, 'issuer' | 'audience' | 'signingKey'>> &
    Pick<AccessTokenOptions, 'issuer' | 'audience'> & {
      signingKey: Required<Omit<SigningKeyOptions, 'keys'>> & Pick<SigningKeyOptions, 'keys'>;
    };
  refreshToken: Required<Omit<RefreshTokenOptions, 'absoluteLifetime' | 'cookiePath'>> &
    Pick<RefreshTokenOptions, 'absoluteLifetime' | 'cookiePath'>;
  cookie: Required<Omit<SessionCookieOptions, 'domain'>> & Pick<SessionCookieOptions, 'domain'>;
  antiCsrf: AntiCsrfMode;
  trustedOrigins: ResolvedTrustedOrigins;
  sessionExpiredStatusCode: number;
  cleanupInterval: number;
  cleanupBatchSize: number;
  cleanupBatchPause: number;
  databaseTimeout: number;
  sessionMetadata: false | Required<SessionMetadataOptions>;
  revocationReasonRetention: number;
  maxSessionsPerUser?: number;
  onSessionLimit: SessionLimitPolicy;
  revocation?: ResolvedRevocationOptions;
}

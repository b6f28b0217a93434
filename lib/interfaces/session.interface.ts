import type { SessionMetadata, SessionMetadataInput } from './session-metadata.interface.js';
import type { ImpersonationStart } from '../claims/impersonation.js';

/** The session an access or refresh token belongs to. */
export interface SessionInfo {
  /** The session handle: revoke or look up the session with it. */
  handle: string;
  /** The user id exactly as given to `createNewSession` (same type, same characters). */
  userId: string | number;
  /**
   * The JSON value given to `createNewSession`, as changed since by `mergeIntoAccessTokenPayload`
   * (the value the access token carries).
   */
  jwtPayload: unknown;
  /** For an impersonation only: who acts as the user (the RFC 8693 `act` claim, `{ sub: actorUserId }`). */
  actor?: { sub: string };
}

/** A token with its expiry. */
export interface IssuedToken {
  value: string;
  /** Expiry, epoch milliseconds. */
  expires: number;
  /** `false` on the tokens of a session created with `persistent: false`: deliver them as browser-session cookies. */
  persistent?: boolean;
}

/** Per-session options of `SessionEngine.createNewSession`. */
export interface CreateSessionOptions {
  /**
   * A shorter access-token lifetime for this session, in seconds (at most `accessToken.validity`);
   * kept with the session, so every refresh honours it.
   * @default accessToken.validity
   */
  accessTokenValidity?: number;
  /**
   * `false` ("remember me" unticked): the session's cookies are browser-session cookies (no
   * `Expires`/`Max-Age`) and its idle window is `refreshToken.nonPersistentValidity`; kept with the
   * session, so every refresh honours it.
   * @default true
   */
  persistent?: boolean;
  /**
   * Makes the session an impersonation: its row and tokens name the actor (RFC 8693 `act`), its
   * hard lifetime is `ttl` seconds, and `session.impersonation-started` is emitted. Use
   * `SessionService.impersonate`, which sets it.
   */
  impersonation?: ImpersonationStart;
  /** What is known about the client (IP, user agent, login method, label); see `sessionMetadata`. */
  metadata?: SessionMetadataInput;
}

/** Per-call options of `SessionEngine.refreshSession`. */
export interface RefreshSessionOptions {
  /** The client's current IP and user agent, recorded with the session; see `sessionMetadata`. */
  metadata?: SessionMetadataInput;
}

/**
 * What `SessionEngine.createNewSession` returns: the tokens of one refresh generation, as the engine
 * issues them. {@link RefreshedSession} derives from it, so the two cannot drift apart.
 */
export interface CreatedSession {
  session: SessionInfo;
  accessToken: IssuedToken;
  refreshToken: IssuedToken;
  idRefreshToken: IssuedToken;
  /** The anti-csrf token for the `anti-csrf` header; `undefined` unless `antiCsrf` is `'token'`. */
  antiCsrfToken: string | undefined;
}

/** What `SessionEngine.getSession` returns. */
export interface VerifiedSession {
  session: SessionInfo;
  /**
   * A re-issued access token to send back. This version never re-issues on `getSession`
   * (it stays `undefined`); the field is kept from the original API so callers handle it.
   */
  newAccessToken?: IssuedToken;
}

/** The names a refresh gives the tokens: `newAccessToken` for `accessToken`, and so on. */
type Renewed<Tokens> = {
  [Name in keyof Tokens as Name extends 'session' ? Name : `new${Capitalize<Name & string>}`]: Tokens[Name];
};

/**
 * What `SessionEngine.refreshSession` returns: the {@link CreatedSession} tokens of the new
 * generation under `new` names (`session`, `newAccessToken`, `newRefreshToken`,
 * `newIdRefreshToken`, and `newAntiCsrfToken`, `undefined` unless `antiCsrf` is `'token'`).
 */
export interface RefreshedSession extends Renewed<CreatedSession> {}

/** Per-call options of `SessionEngine.getSession`. */
export interface GetSessionOptions {
  /**
   * Also require a live session row carrying this token's refresh generation, so a revoked
   * session is refused at once (one database read).
   * @default the `accessToken.blacklisting` option
   */
  checkDatabase?: boolean;
  /**
   * Step-up: require that the user authenticated (signed in, or `SessionService.elevate`) at most
   * this many **seconds** ago (the token's `auth_time`); else `SESSION_NOT_FRESH` (403, body
   * `{ maxAge }`), cookies untouched.
   */
  fresh?: number;
  /**
   * `false` refuses an impersonated session (one whose token names an actor, `act`) with
   * `IMPERSONATION_NOT_ALLOWED` (403).
   * @default true
   */
  allowImpersonation?: boolean;
}

/**
 * A live session of a user, for "your devices" pages (times in epoch ms), with its
 * {@link SessionMetadata} (IP, user agent, device, last activity, login method, label).
 */
export interface SessionListEntry extends SessionMetadata {
  handle: string;
  createdAt: number;
  lastRefreshedAt: number;
  expiresAt: number;
  /** `true` on the session of the caller (`currentHandle`, or the session `listSessions()` was called on). */
  current?: true;
}

/** Options of `listSessionsForUser`. */
export interface ListSessionsOptions {
  /** The caller's own session handle: its entry gets `current: true`. */
  currentHandle?: string;
}

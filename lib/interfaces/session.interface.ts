/** The session an access or refresh token belongs to. */
export interface SessionInfo {
  /** The session handle: revoke or look up the session with it. */
  handle: string;
  /** The user id exactly as given to `createNewSession` (same type, same characters). */
  userId: string | number;
  /** The JSON value given to `createNewSession`, unchanged for the life of the session. */
  jwtPayload: unknown;
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
}

/** A live session of a user, for "your devices" pages (times in epoch ms). */
export interface SessionListEntry {
  handle: string;
  createdAt: number;
  lastRefreshedAt: number;
  expiresAt: number;
}

import type { SessionInfo } from '../interfaces/session.interface.js';
import type { UserId } from '../session.arguments.js';
import type { HttpResponseLike } from './http-adapter.js';
import type { RevokeOptions } from '../revocation/revocation-reasons.js';

/** What `Session` needs from the service, kept narrow so a session cannot reach other users. */
export interface SessionOperations {
  getSessionData(handle: string, response: HttpResponseLike): Promise<unknown>;
  updateSessionData(handle: string, data: unknown, response: HttpResponseLike): Promise<void>;
  revokeSession(handle: string, response: HttpResponseLike, options?: RevokeOptions): Promise<void>;
}

/** The session of the current request, as handlers get it from `@Session()`. */
export interface Session {
  /** The user id exactly as given at login (same type, same characters). */
  getUserId(): UserId;
  /** The session handle (to list or revoke sessions). */
  getHandle(): string;
  /** The JWT payload given at login; fixed for the life of the session. */
  getJWTPayload(): unknown;
  /**
   * The session's data from the database.
   * @throws SessionError `UNAUTHORISED` when the session is gone (for a cookie session, the session
   * cookies the request carried are cleared).
   */
  getSessionData(): Promise<unknown>;
  /**
   * Replaces the session's data.
   * @throws SessionError `UNAUTHORISED` when the session is gone (for a cookie session, the session
   * cookies the request carried are cleared).
   */
  updateSessionData(data: unknown): Promise<void>;
  /**
   * Signs out: revokes the session and clears the session cookies the request carried (none when a
   * Bearer token authenticated it: a header credential never clears cookies). `reason` (default
   * `'signed-out'`) is what the session's other copies (another tab's refresh) are told.
   * @throws SessionError `GENERAL_ERROR` for a malformed reason or an unavailable database.
   */
  revokeSession(options?: RevokeOptions): Promise<void>;
}

/** The {@link Session} of one request and its response. */
export class RequestSession implements Session {
  constructor(
    private readonly info: SessionInfo,
    private readonly response: HttpResponseLike,
    private readonly operations: SessionOperations,
  ) {}

  /** The user id exactly as given at login (same type, same characters). */
  getUserId(): UserId {
    return this.info.userId;
  }

  /** The session handle (to list or revoke sessions). */
  getHandle(): string {
    return this.info.handle;
  }

  /** The JWT payload given at login; fixed for the life of the session. */
  getJWTPayload(): unknown {
    return this.info.jwtPayload;
  }

  /**
   * The session's data from the database.
   * @throws SessionError `UNAUTHORISED` when the session is gone (for a cookie session, the session
   * cookies the request carried are cleared).
   */
  getSessionData(): Promise<unknown> {
    return this.operations.getSessionData(this.info.handle, this.response);
  }

  /**
   * Replaces the session's data.
   * @throws SessionError `UNAUTHORISED` when the session is gone (for a cookie session, the session
   * cookies the request carried are cleared).
   */
  updateSessionData(data: unknown): Promise<void> {
    return this.operations.updateSessionData(this.info.handle, data, this.response);
  }

  /**
   * Signs out: revokes the session and clears the session cookies the request carried (none when a
   * Bearer token authenticated it: a header credential never clears cookies). `reason` defaults to
   * `'signed-out'`.
   */
  revokeSession(options?: RevokeOptions): Promise<void> {
    return this.operations.revokeSession(this.info.handle, this.response, options);
  }
}

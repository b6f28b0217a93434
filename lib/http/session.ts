import type { SessionInfo, SessionListEntry } from '../interfaces/session.interface.js';
import type { JwtPayloadPatch } from '../claims/payload-merge.js';
import type { UserId } from '../session.arguments.js';
import type { HttpResponseLike } from './http-adapter.js';
import type { RevokeOptions } from '../revocation/revocation-reasons.js';

/** What `Session` needs from the service, kept narrow so a session cannot reach other users. */
export interface SessionOperations {
  getSessionData(handle: string, response: HttpResponseLike): Promise<unknown>;
  updateSessionData(handle: string, data: unknown, response: HttpResponseLike): Promise<void>;
  revokeSession(handle: string, response: HttpResponseLike, options?: RevokeOptions): Promise<void>;
  listSessions(userId: UserId, handle: string): Promise<SessionListEntry[]>;
  /** Merges into the payload and delivers the new access token; answers the new session info. */
  mergeIntoAccessTokenPayload(
    handle: string,
    patch: JwtPayloadPatch,
    response: HttpResponseLike,
  ): Promise<SessionInfo>;
  /** Signs an impersonation out: deletes it and reports `session.impersonation-ended`. */
  endImpersonation(info: SessionInfo, response: HttpResponseLike): Promise<void>;
}

/** The session of the current request, as handlers get it from `@Session()`. */
export interface Session {
  /** The user id exactly as given at login (same type, same characters). */
  getUserId(): UserId;
  /** The session handle (to list or revoke sessions). */
  getHandle(): string;
  /** The JWT payload of the request's access token, or as merged by this request. */
  getJWTPayload(): unknown;
  /**
   * Merges `patch` into the session's JWT payload (keys set to `null` are removed): updates the
   * session row, answers a new access token the way this request's came (the `sAccessToken` cookie
   * or the `access-token` header), same session and refresh chain; {@link getJWTPayload} answers
   * the merged payload at once. The session's other access tokens keep the old payload until they
   * expire or refresh (at once on `checkDatabase` routes, which answer them `TRY_REFRESH_TOKEN`).
   * @throws SessionError `GENERAL_ERROR` for a bad patch or one that makes the access token too large
   * (nothing written); `UNAUTHORISED` when the session is gone (cookies cleared for a cookie session).
   */
  mergeIntoAccessTokenPayload(patch: JwtPayloadPatch): Promise<void>;
  /** For an impersonation, who acts as the user (RFC 8693 `act`: `{ sub: actorUserId }`); else `undefined`. */
  getActor(): { sub: string } | undefined;
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
   * `'signed-out'`) is what the session's other copies (another tab's refresh) are told. For an
   * impersonation, this ends it (`session.impersonation-ended`, cause `'signed-out'`;
   * `session.revoked` reason `'impersonation-ended'`).
   * @throws SessionError `GENERAL_ERROR` for a malformed reason or an unavailable database.
   */
  revokeSession(options?: RevokeOptions): Promise<void>;
  /**
   * The signed-in user's live sessions with their metadata, oldest first; this one carries
   * `current: true` (see `SessionEngine.listSessionsForUser`).
   * @throws SessionError `GENERAL_ERROR` when the database is unavailable.
   */
  listSessions(): Promise<SessionListEntry[]>;
}

/** The {@link Session} of one request and its response. */
export class RequestSession implements Session {
  constructor(
    private info: SessionInfo,
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

  /** The JWT payload of the request's access token, or as merged by this request. */
  getJWTPayload(): unknown {
    return this.info.jwtPayload;
  }

  /** See {@link Session.mergeIntoAccessTokenPayload}. */
  async mergeIntoAccessTokenPayload(patch: JwtPayloadPatch): Promise<void> {
    this.info = await this.operations.mergeIntoAccessTokenPayload(this.info.handle, patch, this.response);
  }

  /** For an impersonation, who acts as the user (RFC 8693 `act`: `{ sub: actorUserId }`); else `undefined`. */
  getActor(): { sub: string } | undefined {
    return this.info.actor;
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
    if (this.info.actor !== undefined) return this.operations.endImpersonation(this.info, this.response);
    return this.operations.revokeSession(this.info.handle, this.response, options);
  }

  /**
   * The signed-in user's live sessions with their metadata, oldest first; this one carries
   * `current: true` (see `SessionEngine.listSessionsForUser`).
   * @throws SessionError `GENERAL_ERROR` when the database is unavailable.
   */
  listSessions(): Promise<SessionListEntry[]> {
    return this.operations.listSessions(this.info.userId, this.info.handle);
  }
}

import type { JwtPayloadPatch } from '../claims/payload-merge.js';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { HttpResponseLike } from './http-adapter.js';
import type { SessionTransport } from './session-transport.js';
import type { SessionInfo } from '../interfaces/session.interface.js';
import type { SessionEngine } from '../session.engine.js';
import type { ReissuedSession } from '../claims/claims-operations.js';

/** How the credential of a request travelled: its new access token goes back the same way. */
export type ClaimsTransport = 'cookie' | 'header';

/**
 * The request side of claim changes: runs the engine's change, then answers the new access token
 * on the request's transport. `SessionService` delegates here.
 */
export class RequestClaims {
  constructor(
    private readonly engine: SessionEngine,
    private readonly transport: SessionTransport,
  ) {}

  /**
   * Merges into the payload of the request's session and delivers the new access token.
   * @throws SessionError `UNAUTHORISED` when the session is gone; `GENERAL_ERROR` (nothing written).
   */
  async merge(
    handle: string,
    patch: JwtPayloadPatch,
    response: HttpResponseLike,
    via: ClaimsTransport,
  ): Promise<SessionInfo> {
    const record = await this.engine.claims.merge(handle, patch);
    const reissued = record && (await this.engine.claims.reissue(handle, record));
    if (!reissued) throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    return this.deliver(response, reissued, via);
  }

  /** Sets the new access token on the response; answers the session info it carries. */
  deliver(response: HttpResponseLike, reissued: ReissuedSession, via: ClaimsTransport): SessionInfo {
    const { record, issued } = reissued;
    this.transport.deliverAccessToken(response, issued.accessToken, record.expiresAt, via === 'header');
    return issued.session;
  }
}

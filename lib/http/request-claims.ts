import type { JwtPayloadPatch } from '../claims/payload-merge.js';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { HttpResponseLike } from './http-adapter.js';
import type { SessionTransport } from './session-transport.js';
import type { SessionInfo } from '../interfaces/session.interface.js';
import type { SessionEngine } from '../session.engine.js';
import type { SessionEvents } from '../session.events.js';
import { LoginError } from '../errors/login.error.js';
import { attemptLogin } from '../login/login-attempt.js';
import type { LoginStrategyRegistry } from '../login/login-strategy.registry.js';
import { assertUserId, userKeyOf } from '../session.arguments.js';
import type { CredentialTransport } from './authenticated-by.js';
import type { Session } from './session.js';
import type { ReissuedSession } from '../claims/claims-operations.js';

/** What `SessionService.elevate` answers: done, or a further step of a multi-step strategy. */
export type ElevateOutcome =
  { status: 'elevated'; session: Session } | { status: 'pending'; challenge?: unknown };

/**
 * The request side of claim changes: runs the engine's change, then answers the new access token
 * on the request's transport. `SessionService` delegates here.
 */
export class RequestClaims {
  constructor(
    private readonly engine: SessionEngine,
    private readonly transport: SessionTransport,
    private readonly strategies: LoginStrategyRegistry,
    private readonly events: SessionEvents,
  ) {}

  /**
   * Step-up within the session: the strategy must accept the credentials as the session's own user.
   * Then `auth_time` is now on the row and in a new access token (same handle, refresh chain).
   * @throws LoginError `LOGIN_FAILED` for wrong credentials or another user's (nothing written),
   * `UNKNOWN_LOGIN_STRATEGY`; SessionError `IMPERSONATION_NOT_ALLOWED` for an impersonation,
   * `UNAUTHORISED` when the session is gone, `GENERAL_ERROR`.
   */
  async elevate(
    response: HttpResponseLike,
    session: Session,
    strategyName: string,
    credentials: unknown,
    via: CredentialTransport,
  ): Promise<ElevateOutcome> {
    // An actor proving their own identity says nothing about the user's: never fresh by them.
    if (session.getActor() !== undefined) {
      throw new SessionError(SessionError.IMPERSONATION_NOT_ALLOWED, Messages.impersonationNotAllowed);
    }
    const decision = await attemptLogin(this.strategies, this.events, strategyName, credentials);
    if ('pending' in decision) return { status: 'pending', challenge: decision.challenge };
    const { userId } = decision.identity;
    assertUserId(userId);
    const strategy = String(strategyName);
    if (userKeyOf(userId) !== userKeyOf(session.getUserId())) {
      this.events.publish('login.attempt', { strategy, success: false, error: 'another-user' });
      throw new LoginError(LoginError.LOGIN_FAILED, 'The credentials are not valid.');
    }
    const reissued = await this.engine.claims.elevate(session.getHandle(), session.getUserId());
    this.deliver(response, reissued, via);
    this.events.publish('login.attempt', { strategy, success: true, userId: session.getUserId() });
    return { status: 'elevated', session };
  }

  /**
   * Merges into the payload of the request's session and delivers the new access token.
   * @throws SessionError `UNAUTHORISED` when the session is gone; `GENERAL_ERROR` (nothing written).
   */
  async merge(
    handle: string,
    patch: JwtPayloadPatch,
    response: HttpResponseLike,
    via: CredentialTransport,
  ): Promise<SessionInfo> {
    const record = await this.engine.claims.merge(handle, patch);
    const reissued = record && (await this.engine.claims.reissue(handle, record));
    if (!reissued) throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    return this.deliver(response, reissued, via);
  }

  /** Ends the request's impersonation (its sign-out): deletes the row, reports the end once. */
  async endImpersonation(info: SessionInfo): Promise<void> {
    await this.engine.claims.endImpersonation(
      {
        handle: info.handle,
        userId: String(info.userId),
        userIdType: typeof info.userId === 'number' ? 'number' : 'string',
        actor: JSON.stringify(info.actor),
      },
      'signed-out',
    );
  }

  /** Sets the new access token on the response; answers the session info it carries. */
  deliver(response: HttpResponseLike, reissued: ReissuedSession, via: CredentialTransport): SessionInfo {
    const { record, issued } = reissued;
    // A "remember me"-less session's cookie stays a browser-session cookie (no Expires).
    const expires = record.persistent === false ? undefined : record.expiresAt;
    this.transport.deliverAccessToken(response, issued.accessToken, expires, via === 'header');
    return issued.session;
  }
}

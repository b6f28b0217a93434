import type { ClaimValidation } from '../claim-validation/claim-validation.js';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import { tryRefreshError } from '../engine/access-verifier.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import type { SessionInfo, VerifiedSession } from '../interfaces/session.interface.js';
import type { SessionEngine } from '../session.engine.js';
import { clearOnAuthFailure } from '../session-operations.js';
import type { VerifyRequestOptions } from '../session.service.js';
import type { CredentialTransport } from './authenticated-by.js';
import type { HttpRequestLike, HttpResponseLike } from './http-adapter.js';
import {
  readRequestCredentials,
  type CouldBeOwnToken,
  type RequestCredentials,
} from './request-credentials.js';
import type { Session } from './session.js';
import type { SessionTransport } from './session-transport.js';

/** Makes the request's `Session` and records how it was authenticated (`SessionService`'s). */
export type RequestSessionFactory = (
  info: SessionInfo,
  request: HttpRequestLike,
  response: HttpResponseLike,
  transport: CredentialTransport,
) => Session;

/**
 * `SessionService.verifyRequest`'s work: reads the request's credential, verifies it with the engine
 * and makes the request's `Session`. Without a promise when nothing must be awaited (a token this
 * instance verified before, no claims, no database read): the guard's hot path.
 */
export class RequestVerification {
  constructor(
    private readonly engine: SessionEngine,
    private readonly transport: SessionTransport,
    private readonly options: ResolvedSessionOptions,
    private readonly couldBeOwnToken: CouldBeOwnToken,
    private readonly claimValidation: ClaimValidation,
    private readonly requestSession: RequestSessionFactory,
  ) {}

  /** Verifies the request's credential (see `SessionService.verifyRequest`); throws or rejects. */
  verify(
    request: HttpRequestLike,
    response: HttpResponseLike,
    options: VerifyRequestOptions,
  ): Session | undefined | Promise<Session | undefined> {
    const credentials = readRequestCredentials(request, 'access', this.couldBeOwnToken, this.transport.names);
    if (credentials.kind === 'bearer') {
      // Header transport: no cookies, so no CSRF exposure and no idRefreshToken.
      const verified = this.engine.verifySession(credentials.token, null, options);
      if (verified instanceof Promise) {
        return verified.then((done) => this.admitted(done, request, response, 'header', options));
      }
      return this.admitted(verified, request, response, 'header', options);
    }
    if (
      options.sessionRequired === false &&
      (credentials.kind === 'none' ||
        (credentials.accessToken.value === undefined && credentials.idRefreshToken.value === undefined))
    ) {
      return undefined;
    }
    if (credentials.kind === 'none' || credentials.idRefreshToken.value === undefined) {
      this.transport.clear(response, request);
      throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
    }
    if (credentials.accessToken.conflicting) throw this.tryRefresh(Messages.accessTokenInvalid);
    const antiCsrf = this.antiCsrfToken(credentials, options.antiCsrfCheck ?? true);
    let verified: VerifiedSession | Promise<VerifiedSession>;
    try {
      verified = this.engine.verifySession(credentials.accessToken.value, antiCsrf, options);
    } catch (error) {
      return this.cookieVerifyFailed(error, request, response);
    }
    if (verified instanceof Promise) {
      return verified.then(
        (done) => this.admitted(done, request, response, 'cookie', options),
        (error: unknown) => this.cookieVerifyFailed(error, request, response),
      );
    }
    return this.admitted(verified, request, response, 'cookie', options);
  }

  /** A cookie session that failed verification: its cookies are cleared when it is unauthorised. */
  private cookieVerifyFailed(error: unknown, request: HttpRequestLike, response: HttpResponseLike): never {
    clearOnAuthFailure(this.transport, response, error, request);
    throw error;
  }

  private admitted(
    verified: VerifiedSession,
    request: HttpRequestLike,
    response: HttpResponseLike,
    transport: CredentialTransport,
    options: VerifyRequestOptions,
  ): Session | Promise<Session> {
    return this.withClaims(this.requestSession(verified.session, request, response, transport), options);
  }

  /** The anti-csrf value to check: `null` skips (safe method, check off, or mode other than token). */
  private antiCsrfToken(
    credentials: Extract<RequestCredentials, { kind: 'cookies' }>,
    check: boolean,
  ): string | null | undefined {
    if (!check || this.options.antiCsrf === 'none' || credentials.safeMethod) return null;
    if (this.options.antiCsrf === 'custom-header') {
      // Browsers send custom headers cross-site only after a CORS preflight the app controls.
      if (!credentials.antiCsrf) throw this.tryRefresh(Messages.antiCsrfMismatch);
      return null;
    }
    return credentials.antiCsrf;
  }

  /** The session once its `claims` pass; without claims, itself (no extra work on other routes). */
  private withClaims(session: Session, { claims }: VerifyRequestOptions): Session | Promise<Session> {
    return claims?.length ? this.claimValidation.enforce(session, claims) : session;
  }

  private tryRefresh(message: string): SessionError {
    return tryRefreshError(message, this.options.sessionExpiredStatusCode);
  }
}

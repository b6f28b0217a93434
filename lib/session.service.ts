import { Inject, Injectable, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { ApplicationConfig, ModulesContainer } from '@nestjs/core';
import { SessionErrorMessages as Messages } from './errors/session-error.messages.js';
import { SessionError } from './errors/session.error.js';
import {
  appendToListHeader,
  requestOf,
  setHeader,
  type HttpRequestLike,
  type HttpResponseLike,
} from './http/http-adapter.js';
import { RequestSession, type Session, type SessionOperations } from './http/session.js';
import {
  readRequestCredentials,
  wantsHeaderTransport,
  type CouldBeOwnToken,
} from './http/request-credentials.js';
import { deliveredTokens, SessionTransport, type DeliveredTokens } from './http/session-transport.js';
import { SESSION_CORS_ALLOWED_HEADERS } from './http/wire.js';
import { requestMetadata } from './http/request-metadata.js';
import { loginLabel } from './metadata/login-label.js';
import type { ResolvedSessionOptions } from './interfaces/session-options.interface.js';
import type { CreateSessionOptions, GetSessionOptions, SessionInfo } from './interfaces/session.interface.js';
import type { UserId } from './session.arguments.js';
import { SESSION_REFRESH_CONTROLLER, SESSION_RESOLVED_OPTIONS } from './session.constants.js';
import { resolveRefreshCookiePath } from './http/refresh-route-path.js';
import { SessionEngine } from './session.engine.js';
import { SessionEvents } from './session.events.js';
import { attemptLogin } from './login/login-attempt.js';
import { SessionHandleApi } from './session-handle-api.js';
import { RequestVerification } from './http/request-verification.js';
import { clearOnAuthError, requestSessionOperations } from './session-operations.js';
import { RequestClaims, type ElevateOutcome } from './http/request-claims.js';
import { DEFAULT_IMPERSONATION_TTL, type ImpersonateOptions } from './claims/impersonation.js';
import { loginExpiresIn } from './login/login-expires-in.js';
import { rememberMeOf } from './engine/session-limit.js';
import { LoginStrategyRegistry } from './login/login-strategy.registry.js';
import { ClaimValidation } from './claim-validation/claim-validation.js';
import type { ClaimsOption } from './claim-validation/session-claims.js';
import { authenticatedBy, setAuthenticatedBy, type CredentialTransport } from './http/authenticated-by.js';

/** Per-request verification settings (from `@VerifySession()` or the `getSession` arguments). */
export interface VerifyRequestOptions extends GetSessionOptions, ClaimsOption {
  /**
   * Enforce anti-csrf on state-changing cookie requests.
   * @default true
   */
  antiCsrfCheck?: boolean;
  /**
   * Refuse a request without a session; `false` yields `undefined` for a request that carries none.
   * @default true
   */
  sessionRequired?: boolean;
}

/** Options of `SessionService.login`. */
export interface LoginOptions {
  /**
   * A shorter access-token lifetime for this session (at most `accessToken.validity`); refreshes
   * keep it. A number is seconds; a string is a duration with a unit, as `@nestjs/jwt` and the
   * Kuzzle SDK take it (`'90s'`, `'15m'`, `'1h'`, `'7d'`, parsed by the `ms` package).
   */
  expiresIn?: number | string;
  /**
   * A name for the session shown on "your devices" pages (at most 128 characters), e.g. `'Work laptop'`.
   * @throws LoginError `INVALID_LOGIN_OPTIONS` (400) for a non-string or a longer one.
   */
  label?: string;
  /**
   * `false` ("remember me" unticked): browser-session cookies and the shorter idle window
   * `refreshToken.nonPersistentValidity`, kept across refreshes (see `CreateSessionOptions.persistent`).
   * @default true
   */
  rememberMe?: boolean;
}

/** What `SessionService.login` answers. */
export type LoginOutcome =
  { status: 'signed-in'; session: Session } | { status: 'pending'; challenge?: unknown };

/**
 * The request-bound session API: reads and writes cookies and headers, and delegates to
 * `SessionEngine`. Works with the Express and Fastify adapters, no cookie middleware needed.
 */
@Injectable()
export class SessionService extends SessionHandleApi implements OnApplicationBootstrap {
  private readonly transport: SessionTransport;
  /** Operations of a cookie-authenticated session: an auth failure or sign-out clears its cookies. */
  private readonly operations: SessionOperations;
  /** Operations of a header-authenticated session: a header credential never clears cookies. */
  private readonly headerOperations: SessionOperations;
  private refreshCookiePath: string | undefined;
  /** The engine's own-token check, bound once: it settles a Bearer value next to session cookies. */
  private readonly couldBeOwnToken: CouldBeOwnToken;
  /** Claim changes of a request's session (payload merge, step-up, impersonation). */
  private readonly claims: RequestClaims;
  /** Set by the observability module: reports a failed verification (`session.verify` span). */
  private verifyFailed: ((request: HttpRequestLike, error: unknown) => void) | undefined;
  private readonly verification: RequestVerification;

  constructor(
    engine: SessionEngine,
    @Inject(SESSION_RESOLVED_OPTIONS) private readonly options: ResolvedSessionOptions,
    private readonly applicationConfig: ApplicationConfig,
    private readonly strategies: LoginStrategyRegistry,
    private readonly events: SessionEvents,
    private readonly modules: ModulesContainer,
    @Inject(SESSION_REFRESH_CONTROLLER) private readonly refreshController: Type | null,
    private readonly claimValidation: ClaimValidation,
  ) {
    super(engine);
    this.transport = new SessionTransport(options, () => this.refreshPath());
    this.couldBeOwnToken = (value, purpose) => this.engine.couldBeOwnToken(value, purpose);
    this.claims = new RequestClaims(engine, this.transport, strategies, events);
    const operations = requestSessionOperations(engine, this.transport, this.claims);
    this.operations = operations.cookie;
    this.headerOperations = operations.header;
    this.verification = new RequestVerification(
      engine,
      this.transport,
      options,
      this.couldBeOwnToken,
      claimValidation,
      (info, request, response, transport) => this.requestSession(info, request, response, transport),
    );
  }

  /**
   * Finds the `sRefreshToken` cookie path once routes are registered, so a routing set-up no cookie
   * path fits fails `app.init()` instead of signing users out at their first refresh.
   * @throws SessionError `GENERAL_ERROR` saying which option to set.
   */
  onApplicationBootstrap(): void {
    this.refreshPath();
  }

  /**
   * Starts a session and sets its cookies on the response, replacing any session cookies the request
   * carried or the response set. Tokens go into `access-token`/`refresh-token` headers instead when
   * the request asked with `session-transport: header` and was not authenticated by a session cookie
   * (a cookie session never turns into readable tokens). `options.persistent: false` makes them
   * browser-session cookies ("remember me" unticked).
   * @throws SessionError `GENERAL_ERROR` for a bad argument or an unavailable database;
   * SessionLimitError `SESSION_LIMIT_REACHED` (403) at `maxSessionsPerUser` with `onSessionLimit: 'refuse'`.
   */
  async createNewSession(
    response: HttpResponseLike,
    userId: UserId,
    jwtPayload?: unknown,
    sessionData?: unknown,
    options?: Pick<CreateSessionOptions, 'persistent'>,
  ): Promise<Session> {
    const metadata = { ...requestMetadata(requestOf(response)), loginMethod: 'direct' };
    const persistent = options?.persistent;
    const created = await this.engine.createNewSession(userId, jwtPayload, sessionData, {
      metadata,
      persistent,
    });
    return this.deliverNewSession(response, created);
  }

  /**
   * Signs a user in through a named strategy: `validate(credentials)` decides who it is, then the
   * session is created as by `createNewSession`. Wrong credentials write nothing: no cookie, no row.
   * @throws LoginError `LOGIN_FAILED` (401, existing cookies untouched), `UNKNOWN_LOGIN_STRATEGY`
   * or `INVALID_LOGIN_OPTIONS` (400); SessionLimitError `SESSION_LIMIT_REACHED` (403, nothing
   * written); SessionError `GENERAL_ERROR`.
   */
  async login(
    response: HttpResponseLike,
    strategyName: string,
    credentials: unknown,
    options: LoginOptions = {},
  ): Promise<LoginOutcome> {
    const accessTokenValidity = loginExpiresIn(options.expiresIn, this.options.accessToken.validity);
    const label = loginLabel(options.label);
    const persistent = rememberMeOf(options.rememberMe);
    const decision = await attemptLogin(this.strategies, this.events, strategyName, credentials);
    if ('pending' in decision) return { status: 'pending', challenge: decision.challenge };
    const { identity } = decision;
    const created = await this.engine.createNewSession(
      identity.userId,
      identity.jwtPayload,
      identity.sessionData,
      {
        accessTokenValidity,
        persistent,
        metadata: { ...requestMetadata(requestOf(response)), loginMethod: String(strategyName), label },
      },
    );
    const session = this.deliverNewSession(response, created);
    this.events.publish('login.attempt', {
      strategy: String(strategyName),
      success: true,
      userId: identity.userId,
    });
    return { status: 'signed-in', session };
  }

  /**
   * Signs the response in as `targetUserId` on behalf of `actorUserId` (RFC 8693 `act`), for `ttl`
   * seconds that refreshes never extend; see {@link ImpersonateOptions} and README "Changing claims".
   * Emits `session.impersonation-started`. Who may impersonate whom is the app's decision.
   * @throws SessionError `GENERAL_ERROR` for bad options (also an actor acting as itself).
   */
  async impersonate(response: HttpResponseLike, options: ImpersonateOptions): Promise<Session> {
    const { actorUserId, ttl = DEFAULT_IMPERSONATION_TTL, reason, jwtPayload, sessionData } = options;
    const impersonation = { actorUserId, ttl, reason };
    const created = await this.engine.createNewSession(options.targetUserId, jwtPayload, sessionData, {
      impersonation,
      metadata: { ...requestMetadata(requestOf(response)), loginMethod: 'impersonation' },
    });
    return this.deliverNewSession(response, created);
  }

  /**
   * Step-up within the session: a login strategy must accept `credentials` as the session's own
   * user; then `auth_time` is now (row and a new access token on the request's transport, same
   * handle and refresh chain) and `session.elevated` is emitted.
   * @throws LoginError `LOGIN_FAILED` (wrong or another user's credentials: nothing written);
   * SessionError `IMPERSONATION_NOT_ALLOWED` (403), `UNAUTHORISED` (session gone), `GENERAL_ERROR`.
   */
  elevate(
    res: HttpResponseLike,
    session: Session,
    strategy: string,
    credentials: unknown,
  ): Promise<ElevateOutcome> {
    const via = authenticatedBy(requestKey(requestOf(res))) ?? 'cookie';
    return clearOnAuthError(this.transport, res, () =>
      this.claims.elevate(res, session, strategy, credentials, via),
    );
  }

  /**
   * Verifies the request's session (Bearer header first, then cookies; see {@link verifyRequest}).
   * @throws SessionError `TRY_REFRESH_TOKEN` (cookies untouched), `UNAUTHORISED` (the session
   * cookies the request carried cleared, for a cookie session), `GENERAL_ERROR`.
   */
  async getSession(
    request: HttpRequestLike,
    response: HttpResponseLike,
    enableCsrfProtection: boolean,
    options: GetSessionOptions & ClaimsOption = {},
  ): Promise<Session> {
    const session = await this.verifyRequest(request, response, {
      ...options,
      antiCsrfCheck: enableCsrfProtection,
    });
    return session!;
  }

  /**
   * Verifies a request as `SessionGuard` does; `undefined` only when the session is optional and
   * the request carries none. `Authorization: Bearer` wins over cookies, except that a Bearer value
   * which cannot be our access token (another issuer's JWT, `undefined`, empty...) is ignored when the
   * request carries session cookies. A failing Bearer token never clears cookies.
   * @throws SessionError `TRY_REFRESH_TOKEN` (cookies untouched), `UNAUTHORISED` (the session
   * cookies the request carried cleared, for a cookie session), `INVALID_CLAIM`, `GENERAL_ERROR`.
   */
  async verifyRequest(
    request: HttpRequestLike,
    response: HttpResponseLike,
    options: VerifyRequestOptions = {},
  ): Promise<Session | undefined> {
    return this.verifyRequestNow(request, response, options);
  }

  /**
   * {@link verifyRequest} for `SessionGuard`: answers without a promise when nothing must be awaited
   * (a token this instance verified before, no claims, no database read), else a promise. Fails by
   * throwing or by the promise, with the errors of {@link verifyRequest}.
   */
  verifyRequestNow(
    request: HttpRequestLike,
    response: HttpResponseLike,
    options: VerifyRequestOptions = {},
  ): Session | undefined | Promise<Session | undefined> {
    const report = this.verifyFailed;
    if (report === undefined) return this.verification.verify(request, response, options);
    try {
      const session = this.verification.verify(request, response, options);
      if (!(session instanceof Promise)) return session;
      return session.catch((error: unknown) => {
        report(request, error);
        throw error;
      });
    } catch (error) {
      report(request, error);
      throw error;
    }
  }

  /**
   * Rotates the request's refresh token and writes the new tokens the way the old one came: sent in
   * `Authorization: Bearer <refresh token>`, they answer in `access-token`/`refresh-token` headers;
   * sent in the `sRefreshToken` cookie, in cookies only, whatever `session-transport` asks (page
   * script must never read an HttpOnly token). A Bearer value that cannot be our refresh token is
   * ignored when the request carries session cookies. Needs no anti-csrf token.
   * @throws SessionError `UNAUTHORISED` or `UNAUTHORISED_AND_TOKEN_THEFT_DETECTED` (the session
   * cookies the request carried cleared, for a cookie refresh; nothing cleared for a Bearer one),
   * `GENERAL_ERROR` (nothing set).
   */
  async refreshSession(request: HttpRequestLike, response: HttpResponseLike): Promise<Session> {
    const credentials = readRequestCredentials(
      request,
      'refresh',
      this.couldBeOwnToken,
      this.transport.names,
    );
    if (credentials.kind === 'bearer') {
      const refreshed = await this.engine.refreshSession(credentials.token, {
        metadata: requestMetadata(request),
      });
      this.transport.deliver(response, deliveredTokens(refreshed), true, request);
      return this.requestSession(refreshed.session, request, response, 'header');
    }
    const refreshToken = credentials.kind === 'cookies' ? credentials.refreshToken.value : undefined;
    if (credentials.kind === 'cookies' && credentials.refreshToken.conflicting) {
      this.transport.clear(response, request, false);
      throw new SessionError(SessionError.UNAUTHORISED, Messages.refreshTokenInvalid);
    }
    const refreshed = await clearOnAuthError(
      this.transport,
      response,
      () => this.engine.refreshSession(refreshToken, { metadata: requestMetadata(request) }),
      request,
      false,
    );
    this.transport.deliver(response, deliveredTokens(refreshed), false, request);
    return this.requestSession(refreshed.session, request, response, 'cookie');
  }

  /**
   * Clears the session cookies the response's request carried (or the response set), e.g. after
   * revoking a session elsewhere; a request without session cookies gets no `Set-Cookie`.
   */
  clearSessionCookies(response: HttpResponseLike): void {
    this.transport.clear(response);
  }

  /** For a CORS preflight answered by the app: allows the session headers and credentials. */
  setRelevantHeadersForOptionsAPI(response: HttpResponseLike): void {
    appendToListHeader(response, 'Access-Control-Allow-Headers', SESSION_CORS_ALLOWED_HEADERS);
    setHeader(response, 'Access-Control-Allow-Credentials', 'true');
  }

  /** Delivers a created session: headers only for a login that asked and holds no cookie session. */
  private deliverNewSession(
    response: HttpResponseLike,
    created: DeliveredTokens & { session: SessionInfo },
  ): Session {
    const request = requestOf(response);
    const viaHeader = wantsHeaderTransport(request) && !this.holdsCookieSession(request);
    this.transport.deliver(response, created, viaHeader, request);
    return this.requestSession(created.session, request, response, viaHeader ? 'header' : 'cookie');
  }

  /**
   * Whether the request was authenticated by, or carries, a cookie session: its new tokens then go
   * into cookies only, never into headers page script could read.
   */
  private holdsCookieSession(request: HttpRequestLike): boolean {
    const seen = authenticatedBy(requestKey(request));
    if (seen !== undefined) return seen === 'cookie';
    return (
      readRequestCredentials(request, 'access', this.couldBeOwnToken, this.transport.names).kind === 'cookies'
    );
  }

  private requestSession(
    info: SessionInfo,
    request: HttpRequestLike,
    response: HttpResponseLike,
    transport: CredentialTransport,
  ): Session {
    // Keyed by the raw Node request (see `requestKey`).
    setAuthenticatedBy(requestKey(request), transport);
    const operations = transport === 'cookie' ? this.operations : this.headerOperations;
    return new RequestSession(info, response, operations);
  }

  private refreshPath(): string {
    // Resolved once, after the app has set its global prefix, versioning and RouterModule paths.
    this.refreshCookiePath ??= resolveRefreshCookiePath(
      this.options.refreshToken,
      this.refreshController,
      this.modules,
      this.applicationConfig,
    );
    return this.refreshCookiePath;
  }
}

/**
 * One key per HTTP request whichever object a caller holds: Fastify's request wraps the Node request
 * (`raw`) that Express hands out directly, and an app may pass either (`reply` or `reply.raw`).
 */
function requestKey(request: HttpRequestLike): object {
  return (request as { raw?: object }).raw ?? request;
}

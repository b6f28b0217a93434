export { SessionError, isErrorFromAuth } from './errors/session.error.js';
export { LoginError, type LoginErrorType } from './errors/login.error.js';
export { SessionLimitError } from './errors/session-limit.error.js';
export {
  MAX_REVOCATION_REASON_LENGTH,
  REVOCATION_REASONS,
  type BuiltInRevocationReason,
  type RevocationReason,
  type RevokeOptions,
} from './revocation/revocation-reasons.js';
export {
  LOGIN_STRATEGY_METADATA,
  LoginStrategy,
  type LoginIdentity,
  type LoginStrategyResult,
  type PendingLogin,
} from './login/login-strategy.js';
export { LoginStrategyRegistry } from './login/login-strategy.registry.js';
export {
  CLAIMS_FETCHED_AT,
  SessionClaims,
  type ClaimsOption,
  type ClaimValidatorOptions,
  type SessionClaimValidator,
} from './claim-validation/session-claims.js';
export { CLAIM_FETCHER_METADATA, ClaimFetcher } from './claim-validation/claim-fetcher.js';
export { ClaimFetcherRegistry } from './claim-validation/claim-fetcher.registry.js';
export {
  SessionEvents,
  type LoginAttemptEvent,
  type SessionCreatedEvent,
  type SessionEventMap,
  type SessionRefreshedEvent,
  type SessionRevokedEvent,
  type TokenTheftEvent,
} from './session.events.js';
export type { SessionErrorOptions, SessionErrorType, TokenTheftDetails } from './errors/session.error.js';
export type * from './interfaces/session-options.interface.js';
export type * from './interfaces/observability-options.interface.js';
export { SessionObservability } from './observability/session-observability.js';
export type { SessionHealth } from './observability/session-health.js';
export type * from './interfaces/session.interface.js';
export type * from './interfaces/session-metadata.interface.js';
export type { UserId } from './session.arguments.js';
export {
  MAX_JWT_PAYLOAD_BYTES,
  MAX_SESSION_DATA_BYTES,
  MAX_USER_ID_LENGTH,
  SESSION_CLOCK,
} from './session.constants.js';
export { SessionEngine } from './session.engine.js';
export {
  PUBLIC_ACCESS_METADATA,
  PublicAccess,
  Session,
  SessionResponse,
  VERIFY_SESSION_METADATA,
  VerifySession,
  type SessionField,
  type VerifySessionOptions,
} from './session.decorators.js';
export { SESSION_REQUEST_PROPERTY, getRequestSession } from './http/request-session.js';
export { SessionGuard } from './session.guard.js';
export {
  ParseSessionHandlePipe,
  type ParseSessionHandlePipeOptions,
} from './http/parse-session-handle.pipe.js';
export { SessionConnections, type CloseSessionsOptions } from './connections/session-connections.js';
export { SESSION_CLOSE_CODES } from './connections/live-connections.js';
export {
  SESSION_CLOSED_EVENT,
  SESSION_REFRESH_EVENT,
  SESSION_REFRESHED_EVENT,
  type GraphqlWsContextLike,
  type SocketIoSocketLike,
} from './connections/connection-transports.js';
export type { SessionFailure } from './connections/context-errors.js';
export {
  SessionService,
  type LoginOptions,
  type LoginOutcome,
  type VerifyRequestOptions,
} from './session.service.js';
export { SessionJwksController } from './session-jwks.controller.js';
export { SessionRefreshController } from './session-refresh.controller.js';
export type { HttpRequestLike, HttpResponseLike } from './http/http-adapter.js';
export {
  ACCESS_TOKEN_COOKIE,
  ACCESS_TOKEN_HEADER,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  ID_REFRESH_TOKEN_HEADER,
  INVALID_CLAIM,
  REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_HEADER,
  SESSION_CORS_ALLOWED_HEADERS,
  SESSION_CORS_EXPOSED_HEADERS,
  SESSION_TRANSPORT_HEADER,
  type ClaimValidationError,
} from './http/wire.js';
export type { SessionModuleExtras } from './session.module-definition.js';
export { SessionModule } from './session.module.js';
export { DEFAULT_SESSION_OPTIONS, resolveSessionOptions } from './session.options.js';
export {
  createSessionEntities,
  DEFAULT_TABLE_NAMES,
  sessionEntities,
  type SessionEntities,
} from './storage/session.entities.js';
export { createSessionMigrations, sessionMigrations } from './storage/session.migrations.js';
export { TypeOrmAuditSink, type TypeOrmAuditSinkOptions } from './storage/typeorm-audit.sink.js';
export type { SessionAuditRow } from './storage/session-audit.entity.js';
export type { SessionClock } from './tokens/clock.js';
export { systemClock } from './tokens/clock.js';
// Changing claims, step-up and impersonation (claims/).
export type {
  ImpersonationEndedEvent,
  ImpersonationStartedEvent,
  SessionElevatedEvent,
  SessionPayloadChangedEvent,
} from './session.events.js';
export type { JwtPayloadPatch } from './claims/payload-merge.js';
export type { ElevateOutcome } from './http/request-claims.js';
export {
  DEFAULT_IMPERSONATION_TTL,
  type ImpersonateOptions,
  type ImpersonationStart,
} from './claims/impersonation.js';
export type { RevocationOptions, RevocationTransportName } from './revocation/revocation.options.js';
export type { RevocationStatus } from './revocation/revocation.monitor.js';
export type { RevocationEntry, RevocationKind } from './storage/revocation-log.port.js';

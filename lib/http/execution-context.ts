import type { ExecutionContext } from '@nestjs/common';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { ResolvedTrustedOrigins } from '../interfaces/session-options.interface.js';
import type { HttpRequestLike, HttpResponseLike } from './http-adapter.js';
import { getRequestSession } from './request-session.js';
import { readRequestCredentials, type CouldBeOwnToken } from './request-credentials.js';
import type { Session } from './session.js';
import { isAllowedUpgradeOrigin } from './trusted-origins.js';
import type { SessionCookieNames } from './wire.js';

// Where each kind of Nest execution context keeps what the guard needs. No import of
// @nestjs/graphql, @nestjs/websockets or @nestjs/microservices: the shapes are read structurally.

/** A GraphQL context object as Apollo (`{ req, res }`) or Mercurius (`{ reply }`) builds it. */
interface GraphqlContextLike {
  req?: HttpRequestLike & { res?: HttpResponseLike; extra?: object };
  res?: HttpResponseLike;
  reply?: HttpResponseLike & { request?: HttpRequestLike };
  /** graphql-ws: the connection's `extra` (`{ socket, request }`) for a subscription. */
  extra?: object;
  /** Mercurius: the `connection_init` payload of the subscription's connection. */
  _connectionInit?: Record<string, unknown>;
}

/** The GraphQL context argument of a resolver (Nest passes `root, args, context, info`). */
export function graphqlContextOf(context: ExecutionContext): GraphqlContextLike {
  return (context.getArgByIndex(2) ?? {}) as GraphqlContextLike;
}

/**
 * The HTTP request and response behind a GraphQL operation: Apollo's `{ req, res }` (Express sets
 * `req.res`, so a context with `req` alone still reaches the response), Mercurius's `{ reply }`.
 */
export function graphqlHttpOf(
  gql: GraphqlContextLike,
): { request: HttpRequestLike; response: HttpResponseLike } | undefined {
  const request = gql.req?.headers ? gql.req : gql.reply?.request;
  const response = gql.reply ?? gql.res ?? gql.req?.res;
  return request?.headers && response ? { request, response } : undefined;
}

/** The HTTP response of an HTTP or GraphQL-over-HTTP context, else `undefined`. */
export function responseOfContext(context: ExecutionContext): HttpResponseLike | undefined {
  const type = context.getType<string>();
  if (type === 'http') return context.switchToHttp().getResponse<HttpResponseLike>();
  return type === 'graphql' ? graphqlHttpOf(graphqlContextOf(context))?.response : undefined;
}

/** The graphql-ws connection (`extra`) a subscription runs on, when it runs on one. */
export function graphqlConnectionOf(gql: GraphqlContextLike): object | undefined {
  return gql.extra ?? gql.req?.extra;
}

/**
 * Where the guard keeps the session of a non-HTTP context: the GraphQL context object, the gateway
 * client (socket), or the RPC context of the message.
 */
export function sessionHolderOf(context: ExecutionContext): object | undefined {
  switch (context.getType<string>()) {
    case 'graphql':
      return graphqlContextOf(context);
    case 'ws':
      return context.switchToWs().getClient<object>();
    case 'rpc':
      return context.switchToRpc().getContext<object>();
    default:
      return context.switchToHttp().getRequest<object>();
  }
}

/** The session `SessionGuard` attached to a non-HTTP context (what `@Session()` gives there). */
export function contextSession(context: ExecutionContext): Session | undefined {
  const holder = sessionHolderOf(context);
  return holder === undefined || holder === null ? undefined : getRequestSession(holder);
}

/**
 * The access token of a connection's upgrade request (or of any header set): `Authorization: Bearer`
 * first, else the `sAccessToken` cookie, which needs `sIdRefreshToken` next to it as on HTTP.
 * `undefined` when it carries no session at all. `originCheck`: cookies are accepted only from the
 * server's own origin or one of these trusted origins (`isAllowedUpgradeOrigin`); `false` leaves the
 * origin unchecked (`antiCsrf: 'none'`). `httpsOnly` (`Secure` cookies): an `http:` page is not the
 * server's own origin.
 * @throws SessionError `UNAUTHORISED` (session cookies without `sIdRefreshToken`) or
 * `TRY_REFRESH_TOKEN` (conflicting copies of the access-token cookie), with `status`; `UNAUTHORISED`
 * (session cookies from an origin neither the server's own nor trusted).
 */
export function upgradeAccessToken(
  headers: HttpRequestLike['headers'] | undefined,
  couldBeOwnToken: CouldBeOwnToken,
  names: SessionCookieNames,
  expiredStatus: number,
  originCheck: ResolvedTrustedOrigins | false = false,
  httpsOnly = false,
): string | undefined {
  if (!headers) return undefined;
  const credentials = readRequestCredentials({ method: 'GET', headers }, 'access', couldBeOwnToken, names);
  if (credentials.kind === 'none') return undefined;
  if (credentials.kind === 'bearer') return credentials.token;
  if (credentials.idRefreshToken.value === undefined) {
    throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
  }
  // A browser sends cookies with any page's WebSocket upgrade and no anti-csrf header can ride
  // along: another origin's page would drive the socket as the user (cross-site WebSocket hijacking).
  if (originCheck !== false && !isAllowedUpgradeOrigin(headers, originCheck, httpsOnly)) {
    throw new SessionError(SessionError.UNAUTHORISED, Messages.crossOriginUpgrade);
  }
  if (credentials.accessToken.conflicting || credentials.accessToken.value === undefined) {
    throw new SessionError(SessionError.TRY_REFRESH_TOKEN, Messages.accessTokenInvalid, {
      status: expiredStatus,
    });
  }
  return credentials.accessToken.value;
}

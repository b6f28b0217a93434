import { IntrinsicException } from '@nestjs/common';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import { closeReason, SESSION_CLOSE_CODES } from './live-connections.js';

// The error each Nest context reports to its client. The classes come from optional peers,
// loaded on first use so that an app without them never imports them.

/** What a socket or a microservice client receives for a session failure. */
export interface SessionFailure {
  status: 'error';
  type: SessionError['type'];
  message: string;
  /** The HTTP status the type answers with (`sessionExpiredStatusCode` for `TRY_REFRESH_TOKEN`). */
  statusCode: number;
}

/** The payload a socket or RPC client receives for a session error. */
export function sessionFailure(error: SessionError): SessionFailure {
  return { status: 'error', type: error.type, message: error.message, statusCode: error.getStatus() };
}

type ErrorClass = new (payload: object) => Error;

let wsException: Promise<ErrorClass> | undefined;
let rpcException: Promise<ErrorClass> | undefined;

/**
 * A refused GraphQL operation. GraphQL wraps it in a `GraphQLError` that keeps these `extensions`;
 * being an `IntrinsicException`, Nest does not log it as an ERROR (an expired token is routine).
 */
class SessionGraphqlFailure extends IntrinsicException {
  constructor(
    message: string,
    readonly extensions: { code: string; status: number },
  ) {
    super(message);
  }
}

/**
 * A session error as the context's own error: a `WsException` (socket `exception` event), an
 * `RpcException` (the client's observable errors) or a `GraphQLError` whose `extensions.code` is the
 * type (Apollo would otherwise turn a 401 into `UNAUTHENTICATED`). Other errors pass unchanged.
 */
export async function contextError(type: string, error: unknown): Promise<unknown> {
  if (!(error instanceof SessionError)) return error;
  if (type === 'ws') {
    wsException ??= import('@nestjs/websockets').then((module) => module.WsException as ErrorClass);
    return new (await wsException)(sessionFailure(error));
  }
  if (type === 'rpc') {
    rpcException ??= import('@nestjs/microservices').then((module) => module.RpcException as ErrorClass);
    return new (await rpcException)(sessionFailure(error));
  }
  if (type === 'graphql') {
    return new SessionGraphqlFailure(error.message, { code: error.type, status: error.getStatus() });
  }
  return error;
}

/** Closes a refused connection: `4401 TRY_REFRESH_TOKEN`, else `4403` with the error type. */
export function refuse(transport: { close(code: number, reason: string): void }, error: unknown): void {
  const type = error instanceof SessionError ? error.type : SessionError.GENERAL_ERROR;
  const code =
    type === SessionError.TRY_REFRESH_TOKEN
      ? SESSION_CLOSE_CODES.TRY_REFRESH_TOKEN
      : SESSION_CLOSE_CODES.UNAUTHORISED;
  transport.close(code, closeReason(type));
}

/** A socket.io `connect_error`: its `data` is the {@link SessionFailure}. */
export function connectError(error: unknown): Error {
  const failure = sessionFailure(
    error instanceof SessionError ? error : new SessionError(SessionError.GENERAL_ERROR, Messages.internal),
  );
  return Object.assign(new Error(failure.type), { data: failure });
}

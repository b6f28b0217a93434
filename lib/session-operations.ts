import { SessionError } from './errors/session.error.js';
import type { HttpRequestLike, HttpResponseLike } from './http/http-adapter.js';
import type { RequestClaims } from './http/request-claims.js';
import type { SessionOperations } from './http/session.js';
import type { SessionTransport } from './http/session-transport.js';
import { REVOCATION_REASONS, revocationReasonOf } from './revocation/revocation-reasons.js';
import type { SessionEngine } from './session.engine.js';

/**
 * What a request's `Session` may do, for each way it was authenticated: a cookie session's auth
 * failure or sign-out clears its cookies; a header credential never clears cookies.
 */
export function requestSessionOperations(
  engine: SessionEngine,
  transport: SessionTransport,
  claims: RequestClaims,
): { cookie: SessionOperations; header: SessionOperations } {
  const listSessions: SessionOperations['listSessions'] = (userId, handle) =>
    engine.listSessionsForUser(userId, { currentHandle: handle });
  const signOut = (handle: string, options: Parameters<SessionOperations['revokeSession']>[2]) =>
    engine.revokeSessionUsingSessionHandle(handle, {
      reason: revocationReasonOf(options, REVOCATION_REASONS.signedOut),
    });
  return {
    cookie: {
      getSessionData: (handle, response) =>
        clearOnAuthError(transport, response, () => engine.getSessionData(handle)),
      updateSessionData: (handle, data, response) =>
        clearOnAuthError(transport, response, () => engine.updateSessionData(handle, data)),
      revokeSession: async (handle, response, options) => {
        // Sign-out clears the cookies even when the row is already gone or the database is down.
        transport.clear(response);
        await signOut(handle, options);
      },
      listSessions,
      mergeIntoAccessTokenPayload: (handle, patch, response) =>
        clearOnAuthError(transport, response, () => claims.merge(handle, patch, response, 'cookie')),
      endImpersonation: async (info, response) => {
        transport.clear(response);
        await claims.endImpersonation(info);
      },
    },
    header: {
      getSessionData: (handle) => engine.getSessionData(handle),
      updateSessionData: (handle, data) => engine.updateSessionData(handle, data),
      revokeSession: async (handle, _response, options) => {
        await signOut(handle, options);
      },
      listSessions,
      mergeIntoAccessTokenPayload: (handle, patch, response) =>
        claims.merge(handle, patch, response, 'header'),
      endImpersonation: (info) => claims.endImpersonation(info),
    },
  };
}

/** Runs `operation`, clearing the cookies before an `UNAUTHORISED` or theft error leaves the request. */
export async function clearOnAuthError<T>(
  transport: SessionTransport,
  response: HttpResponseLike,
  operation: () => Promise<T>,
  request?: HttpRequestLike,
  offRefreshPath = true,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    clearOnAuthFailure(transport, response, error, request, offRefreshPath);
    throw error;
  }
}

/** Clears the session cookies the request carried when `error` is `UNAUTHORISED` or theft. */
export function clearOnAuthFailure(
  transport: SessionTransport,
  response: HttpResponseLike,
  error: unknown,
  request?: HttpRequestLike,
  offRefreshPath = true,
): void {
  if (
    error instanceof SessionError &&
    (error.type === SessionError.UNAUTHORISED ||
      error.type === SessionError.UNAUTHORISED_AND_TOKEN_THEFT_DETECTED)
  ) {
    transport.clear(response, request, offRefreshPath);
  }
}

import type { Attributes, Span } from '@opentelemetry/api';
import { SessionError } from '../errors/session.error.js';
import { getRequestSession } from '../http/request-session.js';
import type { CreatedSession, RefreshedSession } from '../interfaces/session.interface.js';
import type { SessionEngine } from '../session.engine.js';
import type { SessionService } from '../session.service.js';
import {
  credentialTransportOf,
  requestContextOf,
  sessionRequestContext,
  type SessionRequestContext,
} from './request-context.js';
import { TelemetryAttributes, type SessionOperation, type SessionTelemetry } from './session-telemetry.js';

type AnyFunction = (...args: never[]) => unknown;

/** Replaces an object's method with a wrapper of it, on the instance only. */
function wrapMethod<T extends object, K extends keyof T>(
  target: T,
  name: K,
  wrapper: (original: (...args: unknown[]) => Promise<unknown>, args: unknown[]) => Promise<unknown>,
): void {
  const original = (target[name] as AnyFunction).bind(target) as (...args: unknown[]) => Promise<unknown>;
  Object.defineProperty(target, name, {
    value: (...args: unknown[]) => wrapper(original, args),
    configurable: true,
    writable: true,
  });
}

/**
 * Puts the engine's operations that write or read the store in `session.<operation>` spans:
 * create, refresh, data calls, revocations, listings and key rotation. Verification is traced
 * inside the engine, where the cached path can stay untouched.
 */
export function instrumentEngine(engine: SessionEngine, telemetry: SessionTelemetry): void {
  if (!telemetry.enabled) return;
  const handleOf = (span: Span, handle: string) => {
    if (span.isRecording()) span.setAttributes(telemetry.subjectAttributes(handle));
  };
  const traced = <K extends keyof SessionEngine>(
    name: K,
    operation: SessionOperation,
    attributes: (args: unknown[]) => Attributes,
    finish?: (span: Span, result: unknown) => void,
  ) =>
    wrapMethod(engine, name, (original, args) =>
      telemetry.trace(
        operation,
        () => attributes(args),
        () => original(...args),
        finish,
      ),
    );
  const none = () => ({});
  const byHandle = ([handle, userId]: unknown[]) => telemetry.subjectAttributes(handle, userId);
  const byUser = ([userId]: unknown[]) => telemetry.subjectAttributes(undefined, userId);
  const revoked = (span: Span, result: unknown) =>
    span.setAttribute(TelemetryAttributes.revokedCount, typeof result === 'number' ? result : result ? 1 : 0);

  traced('createNewSession', 'create', byUser, (span, created) =>
    handleOf(span, (created as CreatedSession).session.handle),
  );
  wrapMethod(engine, 'refreshSession', (original, args) =>
    telemetry.trace(
      'refresh',
      {},
      () =>
        original(...args).catch((error: unknown) => {
          if (error instanceof SessionError && error.type === SessionError.UNAUTHORISED) {
            telemetry.refresh('unauthorised');
          }
          throw error;
        }),
      (span, refreshed) => handleOf(span, (refreshed as RefreshedSession).session.handle),
    ),
  );
  traced('getSessionData', 'data.get', byHandle);
  traced('updateSessionData', 'data.update', byHandle);
  traced('revokeSessionUsingSessionHandle', 'revoke', byHandle, revoked);
  traced('revokeSessionForUser', 'revoke', byHandle, revoked);
  traced(
    'revokeOtherSessions',
    'revoke',
    ([userId, kept]) => telemetry.subjectAttributes(kept, userId),
    revoked,
  );
  traced('revokeAllSessionsForUser', 'revoke', byUser, revoked);
  traced('listSessionsForUser', 'list', byUser);
  traced('rotateSigningKeys', 'key-ring.rotate', none);
}

/** The request behind a response (Express `res.req`, Fastify `reply.request`). */
function requestOfResponse(response: unknown): unknown {
  const shape = response as { req?: unknown; request?: unknown } | undefined;
  return shape?.req ?? shape?.request;
}

/** Runs `run` with the request context of `request` (IP, user agent, adapter, transport). */
function runWithRequest<T>(context: SessionRequestContext, run: () => T): T {
  return sessionRequestContext.run(context, run);
}

interface SessionOperationsShape {
  getSessionData: AnyFunction;
  updateSessionData: AnyFunction;
  revokeSession: AnyFunction;
}

/**
 * Gives the request-bound calls of `SessionService` their request context, so spans name the
 * transport and adapter and audit events carry IP and user agent: login, create, refresh, and the
 * data and sign-out calls of a request's `Session`. `verifyRequest` (the guard's hot path) is left alone.
 */
export function instrumentService(
  service: SessionService,
  telemetry: SessionTelemetry,
  audited = true,
): void {
  const login = (response: unknown) => {
    const request = requestOfResponse(response) as { headers?: Record<string, unknown> } | undefined;
    const transport = request?.headers?.['session-transport'] === 'header' ? 'header' : 'cookie';
    return requestContextOf(request, transport);
  };
  // The request context feeds audit events and span attributes only: with neither, no
  // AsyncLocalStorage (on Node 20 its first `run` makes every promise of the app dearer).
  const withRequest = <T>(context: SessionRequestContext, run: () => T): T =>
    audited || telemetry.tracing ? runWithRequest(context, run) : run();
  wrapMethod(service, 'createNewSession', (original, args) =>
    withRequest(login(args[0]), () => original(...args)),
  );
  wrapMethod(service, 'login', (original, args) => withRequest(login(args[0]), () => original(...args)));
  // The guard's path: nothing is added to a success; a failure no engine span reported (no session
  // cookies, no idRefreshToken, a missing custom anti-csrf header) gets its `session.verify` span.
  // (A hook, not a wrapper: the guard's success path gets no promise layer from it.)
  if (telemetry.enabled) {
    (service as unknown as { verifyFailed: (request: unknown, error: unknown) => void }).verifyFailed = (
      request,
      error,
    ) => {
      if (error instanceof SessionError) {
        const { transport, adapter } = requestContextOf(request, credentialTransportOf(request));
        telemetry.failed('verify', error, {
          [TelemetryAttributes.transport]: transport!,
          [TelemetryAttributes.adapter]: adapter!,
        });
      }
    };
  }
  wrapMethod(service, 'refreshSession', (original, args) =>
    withRequest(requestContextOf(args[0], credentialTransportOf(args[0])), () => original(...args)),
  );
  // The operations a request's `Session` calls (sign-out, data): their response names the request.
  const inner = service as unknown as Record<'operations' | 'headerOperations', SessionOperationsShape>;
  for (const [field, transport] of [
    ['operations', 'cookie'],
    ['headerOperations', 'header'],
  ] as const) {
    const operations = inner[field];
    if (!operations) continue;
    // The response's position in each call.
    for (const [name, at] of [
      ['getSessionData', 1],
      ['updateSessionData', 2],
      ['revokeSession', 1],
    ] as const) {
      wrapMethod(operations, name, (original, args) => {
        const request = requestOfResponse(args[at]);
        const session = request && typeof request === 'object' ? getRequestSession(request) : undefined;
        const context = requestContextOf(request, transport);
        if (session) context.session = { handle: session.getHandle(), userId: session.getUserId() };
        return withRequest(context, () => original(...args));
      });
    }
  }
}

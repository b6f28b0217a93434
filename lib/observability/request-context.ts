import { AsyncLocalStorage } from 'node:async_hooks';

/** What the request-bound API knows about the request behind an engine call. */
export interface SessionRequestContext {
  /** The client's address as the adapter reports it (`req.ip`; `trust proxy` decides). */
  ip?: string;
  userAgent?: string;
  adapter?: 'express' | 'fastify';
  /** How the credential (or, for a login, the new tokens) travels. */
  transport?: 'cookie' | 'header';
  /** The request's own session (sign-out, data calls): names the user of events about it. */
  session?: { handle: string; userId: string | number };
}

/**
 * The request context of the current call chain: set by the observability wrappers of
 * `SessionService`, read by spans and audit events (the engine itself never sees a request).
 */
export const sessionRequestContext = new AsyncLocalStorage<SessionRequestContext>();

/** The longest user agent kept (headers can be large; audit columns are not). */
const MAX_USER_AGENT = 512;

interface RequestShape {
  ip?: unknown;
  raw?: unknown;
  headers?: Record<string, unknown>;
  socket?: { remoteAddress?: unknown };
}

/** The request context of an Express or Fastify request (either the adapter's or the raw one). */
export function requestContextOf(request: unknown, transport?: 'cookie' | 'header'): SessionRequestContext {
  const req = (request ?? {}) as RequestShape;
  const userAgent = req.headers?.['user-agent'];
  const ip = typeof req.ip === 'string' ? req.ip : req.socket?.remoteAddress;
  return {
    ip: typeof ip === 'string' ? ip : undefined,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, MAX_USER_AGENT) : undefined,
    // Fastify's request wraps the Node request in `raw`; Express hands out the Node request itself.
    adapter: req.raw !== undefined ? 'fastify' : 'express',
    transport,
  };
}

/** The transport a request's refresh token or access token travels by: Bearer header or cookies. */
export function credentialTransportOf(request: unknown): 'cookie' | 'header' {
  const authorization = (request as RequestShape | undefined)?.headers?.authorization;
  return typeof authorization === 'string' && /^bearer\s+\S/i.test(authorization) ? 'header' : 'cookie';
}

import type { Session } from './session.js';

/** The request property `SessionGuard` puts the session under (never `req.session`, which express-session owns). */
export const SESSION_REQUEST_PROPERTY = Symbol.for('nestjs-token-session:session');

type WithSession = Record<typeof SESSION_REQUEST_PROPERTY, Session | undefined>;

/** Puts the session on the request, where `@Session()` and {@link getRequestSession} read it. */
export function setRequestSession(request: object, session: Session | undefined): void {
  (request as WithSession)[SESSION_REQUEST_PROPERTY] = session;
}

/** The session `SessionGuard` attached to a request, if any. */
export function getRequestSession(request: object): Session | undefined {
  return (request as WithSession)[SESSION_REQUEST_PROPERTY];
}

import type { INestApplicationContext } from '@nestjs/common';
import { ANTI_CSRF_HEADER, sessionCookieNames } from '../http/wire.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import type { UserId } from '../session.arguments.js';
import { SESSION_RESOLVED_OPTIONS } from '../session.constants.js';
import { SessionEngine } from '../session.engine.js';

/** The storage port behind `SessionEngine`: inject `SESSION_STORE` to inspect or fault the stored sessions. */
export { SESSION_STORE, type SessionRecord, type SessionStore } from '../storage/session-store.js';

/** What a test sends to act as a signed-in user. */
export interface TestSessionCredentials {
  /** The `Cookie` request header carrying the three session cookies (names as configured). */
  cookie: string;
  /** The `anti-csrf` header value for non-GET requests (undefined unless `antiCsrf` is `'token'`). */
  antiCsrf: string | undefined;
  /** Both headers at once: `request.set(credentials.headers)`. */
  headers: Record<string, string>;
  /** The raw access token, for `Authorization: Bearer`. */
  accessToken: string;
  refreshToken: string;
  sessionHandle: string;
}

/**
 * Creates a session for `userId` in an e2e test and returns what to send, so a suite needs no login
 * flow: `request(app.getHttpServer()).post('/notes').set(credentials.headers)`.
 */
export async function createTestSession(
  app: INestApplicationContext,
  userId: UserId,
  jwtPayload?: unknown,
  sessionData?: unknown,
): Promise<TestSessionCredentials> {
  const engine = app.get(SessionEngine, { strict: false });
  const created = await engine.createNewSession(userId, jwtPayload, sessionData);
  const options = app.get<ResolvedSessionOptions>(SESSION_RESOLVED_OPTIONS, { strict: false });
  const names = sessionCookieNames(options.cookie.namePrefix);
  const cookie = [
    `${names.accessToken}=${created.accessToken.value}`,
    `${names.refreshToken}=${created.refreshToken.value}`,
    `${names.idRefreshToken}=${created.idRefreshToken.value}`,
  ].join('; ');
  const headers: Record<string, string> = { Cookie: cookie };
  if (created.antiCsrfToken !== undefined) headers[ANTI_CSRF_HEADER] = created.antiCsrfToken;
  return {
    cookie,
    antiCsrf: created.antiCsrfToken,
    headers,
    accessToken: created.accessToken.value,
    refreshToken: created.refreshToken.value,
    sessionHandle: created.session.handle,
  };
}

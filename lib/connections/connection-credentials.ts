import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import { tryRefreshError } from '../engine/access-verifier.js';
import { upgradeAccessToken } from '../http/execution-context.js';
import type { CouldBeOwnToken } from '../http/request-credentials.js';
import { RequestSession, type Session, type SessionOperations } from '../http/session.js';
import { sessionCookieNames, type SessionCookieNames } from '../http/wire.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import type { GetSessionOptions } from '../interfaces/session.interface.js';
import { REVOCATION_REASONS, revocationReasonOf } from '../revocation/revocation-reasons.js';
import type { SessionEngine } from '../session.engine.js';
import { accessTokenExpiry } from './connection-tokens.js';

// How a connection's credentials are read and verified, and what its session can do without an
// HTTP response. `SessionConnections` keeps the registry and the bindings.

/** A stand-in response for sessions without one (their operations never read it). */
const NO_RESPONSE = Object.freeze({});

/** Reads and verifies the access token of a connection or message. */
export class ConnectionCredentials {
  private readonly names: SessionCookieNames;
  private readonly couldBeOwnToken: CouldBeOwnToken;
  private readonly operations: SessionOperations;

  constructor(
    private readonly engine: SessionEngine,
    private readonly options: ResolvedSessionOptions,
  ) {
    this.names = sessionCookieNames(options.cookie.namePrefix);
    this.couldBeOwnToken = (value, purpose) => this.engine.couldBeOwnToken(value, purpose);
    this.operations = connectionOperations(engine);
  }

  /**
   * Verifies an access token as a Bearer request would be (with the route's `checkDatabase`,
   * `fresh` and `allowImpersonation`); `expiresAt` in epoch ms.
   */
  async verify(
    accessToken: string | undefined,
    options: Pick<GetSessionOptions, 'checkDatabase' | 'fresh' | 'allowImpersonation'> = {},
  ): Promise<{ session: Session; expiresAt: number }> {
    const { checkDatabase, fresh, allowImpersonation } = options;
    const verified = await this.engine.getSession(accessToken, null, {
      checkDatabase,
      fresh,
      allowImpersonation,
    });
    const session = new RequestSession(verified.session, NO_RESPONSE, this.operations);
    return { session, expiresAt: accessTokenExpiry(accessToken as string) };
  }

  /** `accessToken.blacklisting`: every guarded message reads the session row, as every request. */
  get blacklisting(): boolean {
    return this.options.accessToken.blacklisting;
  }

  /** The access token of an upgrade request: `Authorization: Bearer`, else the session cookies. */
  headerToken(headers: Record<string, unknown> | undefined): string | undefined {
    return upgradeAccessToken(
      headers as Record<string, string>,
      this.couldBeOwnToken,
      this.names,
      this.options.sessionExpiredStatusCode,
      // As on HTTP, only `antiCsrf: 'none'` leaves cross-site requests to the app.
      this.options.antiCsrf !== 'none' && this.options.trustedOrigins,
      this.options.cookie.secure,
    );
  }

  noSession(): SessionError {
    return new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
  }

  tryRefresh(): SessionError {
    return tryRefreshError(Messages.accessTokenMissing, this.options.sessionExpiredStatusCode);
  }
}

/** A connection has no response: its session's operations never touch cookies. */
function connectionOperations(engine: SessionEngine): SessionOperations {
  return {
    getSessionData: (handle) => engine.getSessionData(handle),
    updateSessionData: (handle, data) => engine.updateSessionData(handle, data),
    revokeSession: async (handle, _response, options) => {
      await engine.revokeSessionUsingSessionHandle(handle, {
        reason: revocationReasonOf(options, REVOCATION_REASONS.signedOut),
      });
    },
    listSessions: (userId, handle) => engine.listSessionsForUser(userId, { currentHandle: handle }),
    // A new access token needs a response to travel in; a connection has none.
    mergeIntoAccessTokenPayload: () =>
      Promise.reject(
        new SessionError(
          SessionError.GENERAL_ERROR,
          'mergeIntoAccessTokenPayload needs an HTTP response for the new access token: over a connection, call SessionService.mergeIntoAccessTokenPayload(handle, patch); the client gets the new payload at its next refresh.',
        ),
      ),
    endImpersonation: async (info) => {
      await engine.claims.endImpersonation(
        {
          handle: info.handle,
          userId: String(info.userId),
          userIdType: typeof info.userId === 'number' ? 'number' : 'string',
          actor: JSON.stringify(info.actor),
        },
        'signed-out',
      );
    },
  };
}

/** Whether a route's options need the connection's token verified again (a database read or its claims). */
export function needsTokenCheck(
  options: Pick<GetSessionOptions, 'checkDatabase' | 'fresh' | 'allowImpersonation'>,
  blacklisting: boolean,
): boolean {
  return (
    (options.checkDatabase ?? blacklisting) ||
    options.fresh !== undefined ||
    options.allowImpersonation === false
  );
}

import { HttpException, HttpStatus } from '@nestjs/common';

/** The machine-readable kinds of session failure, named as in the original library. */
export type SessionErrorType =
  | 'GENERAL_ERROR'
  | 'UNAUTHORISED'
  | 'TRY_REFRESH_TOKEN'
  | 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED'
  | 'SESSION_NOT_FRESH'
  | 'IMPERSONATION_NOT_ALLOWED'
  | 'INVALID_CLAIM';

/** Who the stolen refresh token belonged to; given to the app, never sent to the client. */
export interface TokenTheftDetails {
  sessionHandle: string;
  userId: string | number;
}

/** Options of a {@link SessionError}. */
export interface SessionErrorOptions {
  /** The underlying failure (a driver error, say), kept for logs. */
  cause?: unknown;
  /** The HTTP status to answer with; defaults to the status of the type. */
  status?: number;
  /** For `UNAUTHORISED_AND_TOKEN_THEFT_DETECTED`: whose session was revoked. */
  theft?: TokenTheftDetails;
  /** More fields of the response body (e.g. `maxAge` of `SESSION_NOT_FRESH`); never secrets. */
  body?: Record<string, unknown>;
  /** Why the session was revoked, for its own holder only: sent in the body as `reason`. */
  reason?: string;
}

const DEFAULT_STATUS: Record<SessionErrorType, number> = {
  GENERAL_ERROR: HttpStatus.INTERNAL_SERVER_ERROR,
  UNAUTHORISED: HttpStatus.UNAUTHORIZED,
  TRY_REFRESH_TOKEN: HttpStatus.UNAUTHORIZED,
  UNAUTHORISED_AND_TOKEN_THEFT_DETECTED: HttpStatus.UNAUTHORIZED,
  SESSION_NOT_FRESH: HttpStatus.FORBIDDEN,
  IMPERSONATION_NOT_ALLOWED: HttpStatus.FORBIDDEN,
  INVALID_CLAIM: HttpStatus.FORBIDDEN,
};

/**
 * The one error the library throws at request time. It is a Nest `HttpException`, so it renders
 * itself (status of its type, a JSON body naming the type) without a global filter.
 */
export class SessionError extends HttpException {
  /** The database is down or too slow, or the app passed a bad argument (HTTP 500). */
  static readonly GENERAL_ERROR = 'GENERAL_ERROR' as const;
  /** The session is gone, revoked or expired, or the refresh token is invalid: sign in again. */
  static readonly UNAUTHORISED = 'UNAUTHORISED' as const;
  /** The access token is missing, expired or invalid: call the refresh route and retry. */
  static readonly TRY_REFRESH_TOKEN = 'TRY_REFRESH_TOKEN' as const;
  /** A refresh token was reused: the session was revoked. */
  static readonly UNAUTHORISED_AND_TOKEN_THEFT_DETECTED = 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED' as const;
  /** The route needs a recent sign-in (`fresh`): elevate the session, then retry (403; body: `maxAge` s). */
  static readonly SESSION_NOT_FRESH = 'SESSION_NOT_FRESH' as const;
  /** The route or operation refuses an impersonated session (403). */
  static readonly IMPERSONATION_NOT_ALLOWED = 'IMPERSONATION_NOT_ALLOWED' as const;
  /** A claim validator refused the session (403; body: `claimValidationErrors: [{ claim, reason }]`). */
  static readonly INVALID_CLAIM = 'INVALID_CLAIM' as const;

  /** Whose session a detected theft revoked (only on `UNAUTHORISED_AND_TOKEN_THEFT_DETECTED`). */
  readonly theft?: TokenTheftDetails;
  /** Why the session was revoked (`'signed-out'`, `'theft'`, an app's reason), told to its holder. */
  readonly reason?: string;

  constructor(
    readonly type: SessionErrorType,
    message: string,
    options: SessionErrorOptions = {},
  ) {
    const status = options.status ?? DEFAULT_STATUS[type];
    // The body names the type (and a revoked session's reason, for its holder only): theft details
    // and causes stay on the server.
    const reason = options.reason === undefined ? {} : { reason: options.reason };
    super({ statusCode: status, type, message, ...reason, ...options.body }, status, {
      cause: options.cause,
    });
    this.name = 'SessionError';
    this.theft = options.theft;
    this.reason = options.reason;
  }

  /**
   * How Node prints it (a start-up failure, a log line): type, message, stack and cause, without
   * the HTTP body, status and options an `HttpException` carries, which repeat the message.
   */
  [Symbol.for('nodejs.util.inspect.custom')](
    _depth: number,
    options: object,
    inspect: InspectFunction,
  ): string {
    const [first = '', ...frames] = (this.stack ?? '').split('\n');
    const head = first.replace(/^SessionError:/, `SessionError [${this.type}]:`);
    const cause = this.cause === undefined ? '' : ` {\n  [cause]: ${inspect(this.cause, options)}\n}`;
    return [head, ...frames].join('\n') + cause;
  }
}

type InspectFunction = (value: unknown, options: object) => string;

/**
 * Tells an authentication failure (the client must refresh or sign in again) from a general
 * error, as the original library's `isErrorFromAuth` did.
 */
export function isErrorFromAuth(error: unknown): error is SessionError {
  return error instanceof SessionError && error.type !== SessionError.GENERAL_ERROR;
}

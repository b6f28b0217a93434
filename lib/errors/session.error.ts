import { HttpException, HttpStatus } from '@nestjs/common';
import type { ClaimValidationError } from '../http/wire.js';

/** The machine-readable kinds of session failure, named as in the original library. */
export type SessionErrorType =
  | 'GENERAL_ERROR'
  | 'UNAUTHORISED'
  | 'TRY_REFRESH_TOKEN'
  | 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED'
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
  /** For `INVALID_CLAIM`: which claims failed and why (sent in the body). */
  claimValidationErrors?: ClaimValidationError[];
}

const DEFAULT_STATUS: Record<SessionErrorType, number> = {
  GENERAL_ERROR: HttpStatus.INTERNAL_SERVER_ERROR,
  UNAUTHORISED: HttpStatus.UNAUTHORIZED,
  TRY_REFRESH_TOKEN: HttpStatus.UNAUTHORIZED,
  UNAUTHORISED_AND_TOKEN_THEFT_DETECTED: HttpStatus.UNAUTHORIZED,
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
  /** A claim validator of the route refused the session (HTTP 403; cookies untouched). */
  static readonly INVALID_CLAIM = 'INVALID_CLAIM' as const;

  /** Whose session a detected theft revoked (only on `UNAUTHORISED_AND_TOKEN_THEFT_DETECTED`). */
  readonly theft?: TokenTheftDetails;
  /** The failed claims (only on `INVALID_CLAIM`), as sent in the body. */
  readonly claimValidationErrors?: ClaimValidationError[];

  constructor(
    readonly type: SessionErrorType,
    message: string,
    options: SessionErrorOptions = {},
  ) {
    const status = options.status ?? DEFAULT_STATUS[type];
    // The body names the type only: theft details and causes stay on the server.
    const { claimValidationErrors } = options;
    const extra = claimValidationErrors && { claimValidationErrors };
    super({ statusCode: status, type, message, ...extra }, status, { cause: options.cause });
    this.name = 'SessionError';
    this.theft = options.theft;
    this.claimValidationErrors = claimValidationErrors;
  }
}

/**
 * Tells an authentication failure (the client must refresh or sign in again) from a general
 * error, as the original library's `isErrorFromAuth` did.
 */
export function isErrorFromAuth(error: unknown): error is SessionError {
  return error instanceof SessionError && error.type !== SessionError.GENERAL_ERROR;
}

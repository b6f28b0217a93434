import { HttpException, HttpStatus } from '@nestjs/common';

/** Why a login through a strategy was refused. */
export type LoginErrorType = 'LOGIN_FAILED' | 'UNKNOWN_LOGIN_STRATEGY' | 'INVALID_LOGIN_OPTIONS';

/**
 * A refused login. Its own type (not `UNAUTHORISED`), so a failed attempt never clears the cookies
 * of a session the browser already has. Renders itself like `SessionError`.
 */
export class LoginError extends HttpException {
  /** Wrong credentials (401). */
  static readonly LOGIN_FAILED = 'LOGIN_FAILED' as const;
  /** No strategy of that name is registered (400). */
  static readonly UNKNOWN_LOGIN_STRATEGY = 'UNKNOWN_LOGIN_STRATEGY' as const;
  /** A login option (e.g. `expiresIn`) is out of range (400). */
  static readonly INVALID_LOGIN_OPTIONS = 'INVALID_LOGIN_OPTIONS' as const;

  constructor(
    readonly type: LoginErrorType,
    message: string,
  ) {
    const status = type === LoginError.LOGIN_FAILED ? HttpStatus.UNAUTHORIZED : HttpStatus.BAD_REQUEST;
    super({ statusCode: status, type, message }, status);
    this.name = 'LoginError';
  }
}

import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * A sign-in refused because the user holds `maxSessionsPerUser` live sessions and `onSessionLimit`
 * is `'refuse'` (HTTP 403, type `SESSION_LIMIT_REACHED`). Nothing was written, and the cookies of a
 * session the browser already has are left alone. Renders itself like `SessionError`.
 */
export class SessionLimitError extends HttpException {
  static readonly SESSION_LIMIT_REACHED = 'SESSION_LIMIT_REACHED' as const;

  readonly type = SessionLimitError.SESSION_LIMIT_REACHED;

  constructor(
    /** The cap that was reached. */
    readonly limit: number,
  ) {
    const message = `This account already has ${limit} active session${limit === 1 ? '' : 's'}: sign out elsewhere first.`;
    super(
      { statusCode: HttpStatus.FORBIDDEN, type: SessionLimitError.SESSION_LIMIT_REACHED, message },
      HttpStatus.FORBIDDEN,
    );
    this.name = 'SessionLimitError';
  }
}

import { HttpException, HttpStatus, Injectable, Optional, type PipeTransform } from '@nestjs/common';
import { SESSION_HANDLE_PATTERN } from '../tokens/refresh-token.js';

/** Options of {@link ParseSessionHandlePipe}, as Nest's own `ParseUUIDPipe` takes them. */
export interface ParseSessionHandlePipeOptions {
  /**
   * Status of the refusal.
   * @default 400 (`HttpStatus.BAD_REQUEST`); `HttpStatus.NOT_FOUND` answers a malformed handle as an unknown one
   */
  errorHttpStatusCode?: HttpStatus;
}

/**
 * Checks that a route parameter is a session handle (32 lowercase hexadecimal characters) before it
 * reaches `SessionService`, whose handle calls treat a malformed one as the app's own bug
 * (`GENERAL_ERROR`, 500). Anything else is refused as Nest's `ParseUUIDPipe` refuses a non-UUID.
 * @throws HttpException with `errorHttpStatusCode` (default 400) and the message
 * `Validation failed (session handle is expected)`.
 * @example
 * ```ts
 * @Delete(':handle')
 * revoke(@Session() session: Session, @Param('handle', ParseSessionHandlePipe) handle: string) {
 *   return this.sessions.revokeSessionForUser(handle, session.getUserId());
 * }
 * ```
 */
@Injectable()
export class ParseSessionHandlePipe implements PipeTransform<unknown, string> {
  private readonly status: HttpStatus;

  constructor(@Optional() options: ParseSessionHandlePipeOptions = {}) {
    this.status = options.errorHttpStatusCode ?? HttpStatus.BAD_REQUEST;
  }

  transform(value: unknown): string {
    if (typeof value === 'string' && SESSION_HANDLE_PATTERN.test(value)) return value;
    throw new HttpException('Validation failed (session handle is expected)', this.status);
  }
}

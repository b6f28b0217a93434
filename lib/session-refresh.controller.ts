import {
  Controller,
  HttpCode,
  HttpStatus,
  Inject,
  Post,
  Req,
  Res,
  type Type,
  type VERSION_NEUTRAL,
} from '@nestjs/common';
import type { HttpRequestLike, HttpResponseLike } from './http/http-adapter.js';
import { BodylessRoute } from './http/bodyless-routes.js';
import { PublicAccess } from './session.decorators.js';
import { SessionService } from './session.service.js';

/**
 * The refresh route (`POST` at `refreshToken.path`): rotates the refresh token and answers 200
 * with new cookies, to a plain `POST` with credentials and no body. Public under a global guard.
 */
@Controller()
export class SessionRefreshController {
  constructor(@Inject(SessionService) private readonly sessionService: SessionService) {}

  @PublicAccess()
  @BodylessRoute()
  @Post()
  @HttpCode(HttpStatus.OK)
  async refresh(
    @Req() request: HttpRequestLike,
    @Res({ passthrough: true }) response: HttpResponseLike,
  ): Promise<void> {
    await this.sessionService.refreshSession(request, response);
  }
}

/** The refresh controller mounted at `path`, with its own version when one is given. */
export function createRefreshController(
  path: string,
  version?: string | typeof VERSION_NEUTRAL,
): Type<SessionRefreshController> {
  class MountedSessionRefreshController extends SessionRefreshController {}
  Controller(version === undefined ? { path } : { path, version })(MountedSessionRefreshController);
  return MountedSessionRefreshController;
}

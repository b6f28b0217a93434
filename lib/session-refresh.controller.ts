import {
  Controller,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Inject,
  NotFoundException,
  Post,
  Req,
  Res,
  type Type,
  type VERSION_NEUTRAL,
} from '@nestjs/common';
import type { HttpRequestLike, HttpResponseLike } from './http/http-adapter.js';
import { BodylessRoute } from './http/bodyless-routes.js';
import { PublicAccess } from './session.decorators.js';
import { SessionEngine } from './session.engine.js';
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

/** `GET /.well-known/jwks.json`: the public keys that verify access tokens (asymmetric algorithms). */
@Controller('.well-known')
export class SessionJwksController {
  constructor(@Inject(SessionEngine) private readonly engine: SessionEngine) {}

  @PublicAccess()
  @BodylessRoute()
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=60')
  jwks(): { keys: Record<string, unknown>[] } {
    const jwks = this.engine.getJwks();
    // HMAC keys are secret: nothing to publish.
    if (jwks.keys.length === 0) throw new NotFoundException();
    return jwks;
  }
}

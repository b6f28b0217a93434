import { Controller, Get, Header, Inject, NotFoundException } from '@nestjs/common';
import { BodylessRoute } from './http/bodyless-routes.js';
import { PublicAccess } from './session.decorators.js';
import { SessionEngine } from './session.engine.js';

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

import { Body, Controller, HttpCode, HttpStatus, Post, Res, UseGuards } from '@nestjs/common';
import { Session, SessionGuard, SessionService, type HttpResponseLike } from '../../lib/index.js';
import { UsersService } from '../users/users.service.js';

interface Credentials {
  username?: unknown;
  password?: unknown;
  expiresIn?: number;
  /** Unticked "Remember me" (`false`): browser-session cookies. */
  rememberMe?: unknown;
}

/** Sign-up, login through the `local` strategy, and sign-out. Rate-limited (see AppModule). */
@Controller('auth')
export class AuthController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersService,
  ) {}

  @Post('signup')
  @HttpCode(HttpStatus.CREATED)
  async signUp(@Body() body: Credentials, @Res({ passthrough: true }) response: HttpResponseLike) {
    const user = await this.users.create(body?.username, body?.password);
    await this.sessions.createNewSession(response, user.id, { username: user.username }, undefined, {
      persistent: body?.rememberMe !== false,
    });
    return { username: user.username };
  }

  @Post('login')
  @HttpCode(HttpStatus.OK)
  async login(@Body() body: Credentials, @Res({ passthrough: true }) response: HttpResponseLike) {
    const outcome = await this.sessions.login(response, 'local', body, {
      expiresIn: body?.expiresIn,
      rememberMe: body?.rememberMe !== false,
    });
    if (outcome.status === 'pending') return { status: 'pending' };
    const { username } = outcome.session.getJWTPayload() as { username: string };
    return { status: 'signed-in', username };
  }

  @UseGuards(SessionGuard)
  @Post('logout')
  @HttpCode(HttpStatus.OK)
  async logout(@Session() session: Session) {
    await session.revokeSession();
    return { signedOut: true };
  }
}

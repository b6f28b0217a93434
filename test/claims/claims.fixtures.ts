import { Body, Controller, Get, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import {
  PublicAccess,
  Session,
  SessionGuard,
  SessionService,
  VerifySession,
  type HttpResponseLike,
} from '../../lib/index.js';

/** Routes that change claims: the payload in a handler and by handle or user (an admin's calls). */
@Controller('claims')
export class ClaimsController {
  constructor(private readonly sessions: SessionService) {}

  @UseGuards(SessionGuard)
  @Post('merge')
  @HttpCode(200)
  async merge(@Session() session: Session, @Body() body: { patch: Record<string, unknown> }) {
    await session.mergeIntoAccessTokenPayload(body.patch);
    return { payload: session.getJWTPayload() };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ checkDatabase: true })
  @Get('strict-me')
  strictMe(@Session() session: Session) {
    return { payload: session.getJWTPayload() };
  }

  @PublicAccess()
  @Post('admin/merge')
  @HttpCode(200)
  async adminMerge(@Body() body: { handle: string; patch: Record<string, unknown> }) {
    return { changed: await this.sessions.mergeIntoAccessTokenPayload(body.handle, body.patch) };
  }

  @PublicAccess()
  @Post('admin/merge-user')
  @HttpCode(200)
  async adminMergeUser(@Body() body: { userId: string | number; patch: Record<string, unknown> }) {
    return { changed: await this.sessions.mergeIntoAccessTokenPayloadForUser(body.userId, body.patch) };
  }

  @PublicAccess()
  @Get('echo')
  echo(@Res({ passthrough: true }) _response: HttpResponseLike) {
    return {};
  }
}

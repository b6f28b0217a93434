import { Body, Controller, Get, HttpCode, Injectable, Post, Res, UseGuards } from '@nestjs/common';
import {
  LoginStrategy,
  type LoginStrategyResult,
  PublicAccess,
  Session,
  SessionGuard,
  SessionService,
  VerifySession,
  type HttpResponseLike,
} from '../../lib/index.js';

/** Two users with their passwords, each signing in as itself. */
@LoginStrategy('step-up')
@Injectable()
export class StepUpStrategy implements LoginStrategy<{ user?: string; password?: string }> {
  validate({ user, password }: { user?: string; password?: string }): LoginStrategyResult {
    if (user === 'ada' && password === 'ada-pass') return { userId: 'ada' };
    if (user === 'bob' && password === 'bob-pass') return { userId: 'bob' };
    return null;
  }
}

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

  @UseGuards(SessionGuard)
  @VerifySession({ fresh: 300 })
  @Get('sensitive')
  sensitive(@Session('handle') handle: string) {
    return { handle };
  }

  @UseGuards(SessionGuard)
  @Post('elevate')
  @HttpCode(200)
  async elevate(
    @Session() session: Session,
    @Body() body: { credentials: unknown },
    @Res({ passthrough: true }) response: HttpResponseLike,
  ) {
    const outcome = await this.sessions.elevate(response, session, 'step-up', body.credentials);
    return { status: outcome.status };
  }

  /** An admin's "sign in as": open here; an app guards it with its own admin check. */
  @PublicAccess()
  @Post('impersonate')
  @HttpCode(200)
  async impersonate(
    @Body() body: { actor: string | number; target: string | number; ttl?: number; reason?: string },
    @Res({ passthrough: true }) response: HttpResponseLike,
  ) {
    const session = await this.sessions.impersonate(response, {
      actorUserId: body.actor,
      targetUserId: body.target,
      ttl: body.ttl,
      reason: body.reason,
      jwtPayload: { role: 'customer' },
    });
    return { handle: session.getHandle(), actor: session.getActor() };
  }

  @PublicAccess()
  @Post('admin/revoke')
  @HttpCode(200)
  async adminRevoke(@Body() body: { handle?: string; userId?: string }) {
    if (body.handle !== undefined && body.userId !== undefined) {
      return { revoked: await this.sessions.revokeSessionForUser(body.handle, body.userId) };
    }
    if (body.handle !== undefined) {
      return { revoked: await this.sessions.revokeSessionUsingSessionHandle(body.handle) };
    }
    return { revoked: await this.sessions.revokeAllSessionsForUser(body.userId!) };
  }

  @UseGuards(SessionGuard)
  @Get('whoami')
  whoami(@Session() session: Session) {
    return { userId: session.getUserId(), actor: session.getActor() ?? null };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ allowImpersonation: false })
  @Get('no-impersonation')
  noImpersonation(@Session('userId') userId: string | number) {
    return { userId };
  }

  @UseGuards(SessionGuard)
  @Post('revoke-others')
  @HttpCode(200)
  async revokeOthers(@Session() session: Session) {
    return { count: await this.sessions.revokeOtherSessions(session) };
  }
}

/** Admin routes: the controller refuses impersonations; a route's own options must not drop that. */
@UseGuards(SessionGuard)
@VerifySession({ allowImpersonation: false })
@Controller('admin-area')
export class AdminAreaController {
  @VerifySession({ checkDatabase: true })
  @Get('strict')
  strict(@Session('userId') userId: string | number) {
    return { userId };
  }
}

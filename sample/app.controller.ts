import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Post,
  UseGuards,
} from '@nestjs/common';
import { SkipThrottle } from '@nestjs/throttler';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import {
  ParseSessionHandlePipe,
  Session,
  SessionGuard,
  SessionService,
  VerifySession,
} from '../lib/index.js';
import { Note } from './notes/note.entity.js';

/** The signed-in part of the app. `checkDatabase`: a revoked session is signed out at once. */
@SkipThrottle()
@UseGuards(SessionGuard)
@VerifySession({ checkDatabase: true })
@Controller()
export class AppController {
  constructor(
    private readonly sessions: SessionService,
    @InjectRepository(Note) private readonly notes: Repository<Note>,
  ) {}

  @Get('me')
  me(@Session() session: Session) {
    const { username } = session.getJWTPayload() as { username: string };
    return { userId: session.getUserId(), username, sessionHandle: session.getHandle() };
  }

  @Get('notes')
  listNotes(@Session('userId') userId: number) {
    return this.notes.find({ where: { userId }, order: { id: 'DESC' }, take: 50 });
  }

  @Post('notes')
  @HttpCode(HttpStatus.CREATED)
  addNote(@Session('userId') userId: number, @Body() body: { text?: unknown }) {
    const text = typeof body?.text === 'string' ? body.text.trim() : '';
    if (text.length === 0 || text.length > 500) throw new BadRequestException('text: 1 to 500 characters');
    return this.notes.save(this.notes.create({ userId, text, createdAt: Date.now() }));
  }

  /** The user's sessions with browser, OS, network (truncated IP) and last activity; this one `current`. */
  @Get('sessions')
  listSessions(@Session() session: Session) {
    return session.listSessions();
  }

  @Delete('sessions/:handle')
  @HttpCode(HttpStatus.NO_CONTENT)
  async revokeSession(
    @Session() session: Session,
    // A malformed handle is answered as an unknown one: 404.
    @Param('handle', new ParseSessionHandlePipe({ errorHttpStatusCode: HttpStatus.NOT_FOUND }))
    handle: string,
  ) {
    if (!(await this.sessions.revokeSessionForUser(handle, session.getUserId()))) {
      throw new NotFoundException('No such session of yours.');
    }
  }

  @Post('sessions/revoke-others')
  @HttpCode(HttpStatus.OK)
  async revokeOthers(@Session() session: Session) {
    return { revoked: await this.sessions.revokeOtherSessions(session) };
  }
}

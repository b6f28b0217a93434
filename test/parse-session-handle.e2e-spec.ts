import {
  Controller,
  Delete,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  UseGuards,
} from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANTI_CSRF_HEADER,
  ParseSessionHandlePipe,
  Session,
  SessionGuard,
  SessionService,
} from '../lib/index.js';
import { CookieJar } from './support/cookies.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { createHttpApp, type AdapterKind, type HttpApp } from './support/http-app.js';

/** A "your devices" page: the handle in the URL comes from the client. */
@UseGuards(SessionGuard)
@Controller('devices')
class DevicesController {
  constructor(private readonly sessions: SessionService) {}

  @Delete(':handle')
  @HttpCode(204)
  async revoke(@Session() session: Session, @Param('handle', ParseSessionHandlePipe) handle: string) {
    if (!(await this.sessions.revokeSessionForUser(handle, session.getUserId()))) {
      throw new NotFoundException('No such session of yours.');
    }
  }

  @Delete('as-unknown/:handle')
  @HttpCode(204)
  async revokeAsUnknown(
    @Session() session: Session,
    @Param('handle', new ParseSessionHandlePipe({ errorHttpStatusCode: HttpStatus.NOT_FOUND }))
    handle: string,
  ) {
    if (!(await this.sessions.revokeSessionForUser(handle, session.getUserId()))) {
      throw new NotFoundException('No such session of yours.');
    }
  }
}

describe.each(['express', 'fastify'] as AdapterKind[])('ParseSessionHandlePipe on %s', (adapter) => {
  let database: TestDatabase;
  let http: HttpApp;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: database.options,
      options: { cookie: { secure: false } },
      controllers: [DevicesController],
    });
  });
  afterAll(async () => {
    await http?.close();
    await database?.drop();
  });

  async function signIn(userId: string) {
    const login = await http.request.post('/login').send({ userId }).expect(200);
    return {
      jar: new CookieJar().store(login),
      antiCsrf: String(login.headers[ANTI_CSRF_HEADER]),
      handle: String(login.body.handle),
    };
  }

  const remove = (path: string, who: { jar: CookieJar; antiCsrf: string }) =>
    http.request.delete(path).set('Cookie', who.jar.header()).set(ANTI_CSRF_HEADER, who.antiCsrf);

  it.each(['nope', 'A'.repeat(32), 'a'.repeat(31), `${'a'.repeat(32)}0`, '%00'.repeat(3)])(
    'answers a malformed handle %j with 400 and the reason, not a 500, revoking nothing',
    async (handle) => {
      const me = await signIn('pipe-user');
      const answer = await remove(`/devices/${handle}`, me).expect(400);
      expect(answer.body).toMatchObject({
        statusCode: 400,
        message: 'Validation failed (session handle is expected)',
      });
      await http.request.get('/me').set('Cookie', me.jar.header()).expect(200);
    },
  );

  it('passes a well-formed handle through: an unknown one is 404, the own other device is revoked', async () => {
    const me = await signIn('pipe-owner');
    const other = await signIn('pipe-owner');
    await remove(`/devices/${'0'.repeat(32)}`, me).expect(404);
    await remove(`/devices/${other.handle}`, me).expect(204);
    await http.request.post('/session/refresh').set('Cookie', other.jar.header()).expect(401);
  });

  it('answers with errorHttpStatusCode when given (404: a malformed handle is an unknown one)', async () => {
    const me = await signIn('pipe-user-404');
    await remove('/devices/as-unknown/nope', me).expect(404);
  });
});

import { Body, Controller, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  Session,
  SessionGuard,
  SessionService,
  type HttpResponseLike,
} from '../../lib/index.js';
import { CookieJar } from '../support/cookies.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { createHttpApp, type AdapterKind, type HttpApp } from '../support/http-app.js';

// A "remember me"-less session (persistent: false) keeps browser-session cookies: a payload change
// re-issuing the access token must not turn sAccessToken into a cookie that outlives the browser.

@Controller('rm')
class RememberMeController {
  constructor(private readonly sessions: SessionService) {}

  @Post('login')
  @HttpCode(200)
  async login(
    @Body() body: { persistent?: boolean },
    @Res({ passthrough: true }) response: HttpResponseLike,
  ) {
    await this.sessions.createNewSession(response, 'kiosk-user', {}, {}, { persistent: body.persistent });
    return {};
  }

  @UseGuards(SessionGuard)
  @Post('merge')
  @HttpCode(200)
  async merge(@Session() session: Session) {
    await session.mergeIntoAccessTokenPayload({ theme: 'dark' });
    return {};
  }
}

function accessCookie(response: Response): string {
  const header = response.headers['set-cookie'] as unknown as string[] | string | undefined;
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const found = list.find(
    (raw) => raw.startsWith(`${ACCESS_TOKEN_COOKIE}=`) && !raw.startsWith(`${ACCESS_TOKEN_COOKIE}=;`),
  );
  expect(found).toBeDefined();
  return found!;
}

const lasting = (raw: string) => /;\s*(expires|max-age)=/i.test(raw);

describe.each<AdapterKind>(['express', 'fastify'])(
  'remember-me and a re-issued access token on %s',
  (adapter) => {
    let db: TestDatabase;
    let http: HttpApp;

    beforeAll(async () => {
      db = await createTestDatabase('sqlite');
      http = await createHttpApp({
        adapter,
        database: db.options,
        options: { cookie: { secure: false } },
        controllers: [RememberMeController],
      });
    });
    afterAll(async () => {
      await http?.close();
      await db?.drop();
    });

    async function mergeAfterLogin(persistent: boolean | undefined): Promise<Response> {
      const login = await http.request.post('/rm/login').send({ persistent }).expect(200);
      const jar = new CookieJar().store(login);
      return http.request
        .post('/rm/merge')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, String(login.headers[ANTI_CSRF_HEADER]))
        .expect(200);
    }

    it('persistent: false: the access-token cookie set by a payload change has no Expires or Max-Age', async () => {
      expect(lasting(accessCookie(await mergeAfterLogin(false)))).toBe(false);
    });

    it('a persistent session keeps an expiring access-token cookie after a payload change', async () => {
      expect(lasting(accessCookie(await mergeAfterLogin(undefined)))).toBe(true);
    });
  },
);

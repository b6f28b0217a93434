import { Controller, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublicAccess, SessionGuard, SessionService, type HttpResponseLike } from '../../lib/index.js';
import { CookieJar, cookieNamed, setCookies } from '../support/cookies.js';
import { createTestDatabase } from '../support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { BrowserJar } from './support/browser-jar.js';
import { SESSION_COOKIES, expectTryRefresh } from './support/expectations.js';
import {
  ACCESS_TOKEN_COOKIE,
  ACCESS_TOKEN_HEADER,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  ID_REFRESH_TOKEN_HEADER,
  REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_HEADER,
  SESSION_TRANSPORT_HEADER,
} from '../../lib/http/wire.js';

/*
 * The HTTP transport rules (README, HTTP contract) on both adapters:
 * - a Bearer value that cannot be our token never spoils a cookie session, and a failing header
 *   credential never clears cookies;
 * - new tokens travel the way the presented credential travelled;
 * - opt-in `__Host-` cookie names, and a login replaces whatever session cookies the request carried;
 * - only the cookies a request carried (or its response set) are ever cleared.
 */

/** Routes that re-issue or revoke inside one request. */
@Controller()
class TransportRulesController {
  constructor(private readonly sessions: SessionService) {}

  /** A cookie-authenticated request that starts a new session (say, "switch account"). */
  @UseGuards(SessionGuard)
  @Post('switch-user')
  @HttpCode(200)
  async switchUser(@Res({ passthrough: true }) response: HttpResponseLike) {
    const session = await this.sessions.createNewSession(response, 'switched');
    return { handle: session.getHandle() };
  }

  /** The same through the Node response (Fastify's `reply.raw`), as a middleware-style caller holds it. */
  @UseGuards(SessionGuard)
  @Post('switch-user-raw')
  @HttpCode(200)
  async switchUserRaw(@Res({ passthrough: true }) response: HttpResponseLike) {
    const raw = (response as { raw?: HttpResponseLike }).raw ?? response;
    const session = await this.sessions.createNewSession(raw, 'switched');
    return { handle: session.getHandle() };
  }

  /** Sets cookies and clears them again in one response. */
  @PublicAccess()
  @Post('login-then-logout')
  @HttpCode(200)
  async loginThenLogout(@Res({ passthrough: true }) response: HttpResponseLike) {
    const session = await this.sessions.createNewSession(response, 'fleeting');
    await session.revokeSession();
    return { signedOut: true };
  }
}

interface SignedIn {
  response: Response;
  jar: CookieJar;
  antiCsrf: string;
}

async function signIn(http: HttpApp, userId: string): Promise<SignedIn> {
  const response = await http.request.post('/login').send({ userId }).expect(200);
  return {
    response,
    jar: new CookieJar().store(response),
    antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
  };
}

/** Tokens of a session created with header transport. */
async function signInWithHeaders(http: HttpApp, userId: string) {
  const response = await http.request
    .post('/login')
    .set(SESSION_TRANSPORT_HEADER, 'header')
    .send({ userId })
    .expect(200);
  return {
    accessToken: response.headers[ACCESS_TOKEN_HEADER] as string,
    refreshToken: response.headers[REFRESH_TOKEN_HEADER] as string,
  };
}

/** Bearer values that cannot be one of our access tokens. */
async function foreignBearerValues(): Promise<[string, string][]> {
  const otherKey = randomBytes(32);
  const claims = { sub: 'someone', sid: 'f'.repeat(32), gen: 1 };
  const sign = (header: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', ...header } as never)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(otherKey);
  return [
    ["another issuer's JWT", await sign({ typ: 'JWT', kid: 'their-key' })],
    [
      'a JWT of our typ with a ring-shaped kid the ring never made',
      await sign({ typ: 'at+jwt', kid: 'ab'.repeat(16) }),
    ],
    ['undefined', 'undefined'],
    ['null', 'null'],
    ['nothing', ''],
    ['blanks', '    '],
  ];
}

function authorization(value: string): string {
  return value.trim() === '' ? `Bearer${value}` : `Bearer ${value}`;
}

function expectNoSetCookie(response: Response, label = ''): void {
  expect(setCookies(response), label).toEqual([]);
  expect(response.headers[ID_REFRESH_TOKEN_HEADER], label).toBeUndefined();
}

/** Exactly `names` are cleared (expired, empty), with `id-refresh-token: remove`. */
function expectClearedOnly(response: Response, names: string[], label = ''): void {
  const cookies = setCookies(response);
  expect(new Set(cookies.map((cookie) => cookie.name)), label).toEqual(new Set(names));
  for (const cookie of cookies) expect([cookie.value, cookie.expires?.getTime()], label).toEqual(['', 0]);
  expect(response.headers[ID_REFRESH_TOKEN_HEADER], label).toBe('remove');
}

function expectNoTokenHeaders(response: Response): void {
  expect(response.headers[ACCESS_TOKEN_HEADER]).toBeUndefined();
  expect(response.headers[REFRESH_TOKEN_HEADER]).toBeUndefined();
}

describe.each(ADAPTERS)('HTTP transport rules on %s', (adapter) => {
  let http: HttpApp;

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: database.options,
      options: { accessToken: { validity: 60 } },
      controllers: [TransportRulesController],
    });
  });
  afterAll(async () => {
    await http?.close();
  });

  describe('a Bearer value next to a cookie session', () => {
    it('ignores a Bearer value that cannot be our access token on guarded GET and POST routes', async () => {
      const { jar, antiCsrf } = await signIn(http, 'cookie-user');
      for (const [label, value] of await foreignBearerValues()) {
        const me = await http.request
          .get('/me')
          .set('Cookie', jar.header())
          .set('Authorization', authorization(value));
        expect(me.status, label).toBe(200);
        expect(me.body.userId, label).toBe('cookie-user');
        expectNoSetCookie(me, label);
        const note = await http.request
          .post('/notes')
          .set('Cookie', jar.header())
          .set(ANTI_CSRF_HEADER, antiCsrf)
          .set('Authorization', authorization(value));
        expect(note.status, label).toBe(201);
      }
    });

    it('still answers TRY_REFRESH_TOKEN, cookies untouched, for a genuine but expired token of ours', async () => {
      const expired = await signInWithHeaders(http, 'old-device');
      http.clock.advance(120);
      const { jar } = await signIn(http, 'cookie-user');
      const response = await http.request
        .get('/me')
        .set('Cookie', jar.header())
        .set('Authorization', `Bearer ${expired.accessToken}`);
      expectTryRefresh(response, 'expired Bearer');
    });

    it('without cookies, a Bearer value that cannot be ours is TRY_REFRESH_TOKEN and sets nothing', async () => {
      for (const [label, value] of await foreignBearerValues()) {
        expectTryRefresh(await http.request.get('/me').set('Authorization', authorization(value)), label);
      }
    });

    it('ignores a Bearer value that cannot be our refresh token on a cookie refresh', async () => {
      const { jar } = await signIn(http, 'cookie-refresher');
      const values = [...(await foreignBearerValues()), ['an access token', jar.get(ACCESS_TOKEN_COOKIE)!]];
      for (const [label, value] of values) {
        const response = await http.request
          .post('/session/refresh')
          .set('Cookie', jar.header())
          .set('Authorization', authorization(value));
        expect(response.status, `${label}: ${response.text}`).toBe(200);
        expect(cookieNamed(response, REFRESH_TOKEN_COOKIE)?.value, label).toBeTruthy();
        expectNoTokenHeaders(response);
        jar.store(response);
      }
      expect((await http.request.get('/me').set('Cookie', jar.header())).status).toBe(200);
    });

    it('a failing Bearer refresh token of ours answers UNAUTHORISED and clears no cookie', async () => {
      const revoked = await signInWithHeaders(http, 'revoked-device');
      await http.request.post('/logout').set('Authorization', `Bearer ${revoked.accessToken}`).expect(200);
      const { jar } = await signIn(http, 'cookie-user');
      const response = await http.request
        .post('/session/refresh')
        .set('Cookie', jar.header())
        .set('Authorization', `Bearer ${revoked.refreshToken}`);
      expect(response.status).toBe(401);
      expect(response.body.type).toBe('UNAUTHORISED');
      expectNoSetCookie(response);
      expect((await http.request.get('/me').set('Cookie', jar.header())).status).toBe(200);
    });

    it('a sign-out authenticated by a Bearer token clears none of the cookies the request carried', async () => {
      const device = await signInWithHeaders(http, 'header-leaver');
      const { jar } = await signIn(http, 'cookie-user');
      const response = await http.request
        .post('/logout')
        .set('Cookie', jar.header())
        .set('Authorization', `Bearer ${device.accessToken}`)
        .expect(200);
      expectNoSetCookie(response);
      expect((await http.request.get('/me').set('Cookie', jar.header())).status).toBe(200);
    });
  });

  describe('new tokens travel the way the credential travelled', () => {
    it('answers a cookie refresh asking for header transport with cookies only', async () => {
      const { jar } = await signIn(http, 'page-script-victim');
      const response = await http.request
        .post('/session/refresh')
        .set('Cookie', jar.header())
        .set(SESSION_TRANSPORT_HEADER, 'header')
        .expect(200);
      expectNoTokenHeaders(response);
      const exposed = String(response.headers['access-control-expose-headers']).split(/,\s*/);
      expect(exposed).not.toContain(ACCESS_TOKEN_HEADER);
      expect(exposed).not.toContain(REFRESH_TOKEN_HEADER);
      for (const name of SESSION_COOKIES) expect(cookieNamed(response, name)?.value, name).toBeTruthy();
      expect(cookieNamed(response, REFRESH_TOKEN_COOKIE)?.httpOnly).toBe(true);
    });

    it('answers a Bearer refresh with token headers and no cookies, even when the request carries cookies', async () => {
      const device = await signInWithHeaders(http, 'mobile');
      const { jar } = await signIn(http, 'browser');
      const response = await http.request
        .post('/session/refresh')
        .set('Cookie', jar.header())
        .set('Authorization', `Bearer ${device.refreshToken}`)
        .expect(200);
      expectNoSetCookie(response);
      expect(response.headers[REFRESH_TOKEN_HEADER]).toMatch(/\./);
      const me = await http.request
        .get('/me')
        .set('Authorization', `Bearer ${response.headers[ACCESS_TOKEN_HEADER]}`)
        .expect(200);
      expect(me.body.userId).toBe('mobile');
    });

    it.each(['/switch-user', '/switch-user-raw'])(
      'starts a session in a cookie-authenticated request (%s) with cookies, whatever session-transport asks',
      async (path) => {
        const { jar, antiCsrf } = await signIn(http, 'switcher');
        const response = await http.request
          .post(path)
          .set('Cookie', jar.header())
          .set(ANTI_CSRF_HEADER, antiCsrf)
          .set(SESSION_TRANSPORT_HEADER, 'header')
          .expect(200);
        expectNoTokenHeaders(response);
        expect(cookieNamed(response, ACCESS_TOKEN_COOKIE)?.value).toBeTruthy();
      },
    );

    it('answers a login carrying a cookie session with cookies, whatever session-transport asks', async () => {
      const { jar } = await signIn(http, 'first');
      const response = await http.request
        .post('/login')
        .set('Cookie', jar.header())
        .set(SESSION_TRANSPORT_HEADER, 'header')
        .send({ userId: 'second' })
        .expect(200);
      expectNoTokenHeaders(response);
      expect(cookieNamed(response, ACCESS_TOKEN_COOKIE)?.value).toBeTruthy();
    });

    it('gives a login that asks for header transport its tokens in headers', async () => {
      const tokens = await signInWithHeaders(http, 'asked');
      expect(tokens.accessToken).toBeTruthy();
      expect(tokens.refreshToken).toBeTruthy();
    });
  });

  describe('only what the request carried is cleared', () => {
    it('answers a sign-out without session cookies (a cross-site form post) with no clearing Set-Cookie', async () => {
      const response = await http.request
        .post('/logout')
        .set('Origin', 'https://evil.example')
        .set('Content-Type', 'application/x-www-form-urlencoded')
        .send('x=1');
      expect(response.status).toBe(401);
      expect(response.body.type).toBe('UNAUTHORISED');
      expectNoSetCookie(response);
      const refresh = await http.request.post('/session/refresh');
      expect(refresh.status).toBe(401);
      expectNoSetCookie(refresh);
    });

    it('clears only the cookies carried (off the refresh path, with the refresh cookie they stand for)', async () => {
      const { jar } = await signIn(http, 'partial');
      const onlyId = `${ID_REFRESH_TOKEN_COOKIE}=${jar.get(ID_REFRESH_TOKEN_COOKIE)}`;
      const refresh = await http.request.post('/session/refresh').set('Cookie', onlyId).expect(401);
      expectClearedOnly(refresh, [ID_REFRESH_TOKEN_COOKIE], 'refresh with sIdRefreshToken only');
      const guarded = await http.request
        .get('/me')
        .set('Cookie', `${ACCESS_TOKEN_COOKIE}=${jar.get(ACCESS_TOKEN_COOKIE)}`)
        .expect(401);
      // Off the refresh path, a session cookie also stands for the refresh cookie the browser keeps there.
      expectClearedOnly(guarded, [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE], 'guard with sAccessToken only');
    });

    it('clears the carried cookies on sign-out, on a revoked session and on theft', async () => {
      const leaving = await signIn(http, 'leaving');
      const signedOut = await http.request
        .post('/logout')
        .set('Cookie', leaving.jar.without(REFRESH_TOKEN_COOKIE).header())
        .set(ANTI_CSRF_HEADER, leaving.antiCsrf)
        .expect(200);
      expectClearedOnly(signedOut, SESSION_COOKIES, 'sign-out');
      expect(cookieNamed(signedOut, REFRESH_TOKEN_COOKIE)?.path).toBe('/session/refresh');
      const strict = await http.request
        .get('/strict')
        .set('Cookie', leaving.jar.without(REFRESH_TOKEN_COOKIE).header())
        .expect(401);
      expectClearedOnly(strict, SESSION_COOKIES, 'revoked session');

      const victim = await signIn(http, 'theft-victim');
      const rotated = await http.request
        .post('/session/refresh')
        .set('Cookie', victim.jar.header())
        .expect(200);
      http.clock.advance(11);
      const theft = await http.request
        .post('/session/refresh')
        .set('Cookie', victim.jar.header())
        .expect(401);
      expect(theft.body.type).toBe('UNAUTHORISED_AND_TOKEN_THEFT_DETECTED');
      expectClearedOnly(theft, SESSION_COOKIES, 'theft');
      expect(setCookies(rotated)).toHaveLength(3);
    });

    it('clears the cookies its own response set', async () => {
      const response = await http.request.post('/login-then-logout').expect(200);
      expectClearedOnly(response, SESSION_COOKIES);
    });
  });

  describe('cookie tossing with the original names', () => {
    const HOST = 'app.example.test';

    /** What a sibling subdomain plants: the attacker's own session cookies on the parent domain. */
    function planted(attacker: CookieJar): Response {
      const attributes = 'Domain=example.test; Secure; SameSite=Lax';
      return {
        headers: {
          'set-cookie': [
            `${ACCESS_TOKEN_COOKIE}=${attacker.get(ACCESS_TOKEN_COOKIE)}; Path=/; ${attributes}`,
            `${REFRESH_TOKEN_COOKIE}=${attacker.get(REFRESH_TOKEN_COOKIE)}; Path=/session/refresh; ${attributes}`,
            `${ID_REFRESH_TOKEN_COOKIE}=${attacker.get(ID_REFRESH_TOKEN_COOKIE)}; Path=/; ${attributes}`,
          ],
        },
      } as unknown as Response;
    }

    it('a sign-in deletes the copies a sibling planted on the parent domain, so the victim stays signed in', async () => {
      const attacker = await signIn(http, 'attacker');
      const browser = new BrowserJar(HOST).store(planted(attacker.jar));
      const login = await http.request
        .post('/login')
        .set('Host', HOST)
        .set('Cookie', browser.header('/login'))
        .send({ userId: 'victim' })
        .expect(200);
      for (const name of SESSION_COOKIES) {
        expect(
          setCookies(login).find((cookie) => cookie.name === name && cookie.domain === 'example.test'),
          name,
        ).toMatchObject({ value: '', expires: new Date(0) });
      }
      browser.store(login);
      for (const name of SESSION_COOKIES) {
        expect(browser.values(name, '/session/refresh'), name).toHaveLength(1);
      }
      const me = await http.request.get('/me').set('Host', HOST).set('Cookie', browser.header('/me'));
      expect(me.status).toBe(200);
      expect(me.body.userId).toBe('victim');
      const refreshed = await http.request
        .post('/session/refresh')
        .set('Host', HOST)
        .set('Cookie', browser.header('/session/refresh'));
      expect(refreshed.status).toBe(200);
    });
  });
});

describe.each(ADAPTERS)("cookie.namePrefix '__Host-' on %s", (adapter) => {
  const HOST_NAMES = ['__Host-sAccessToken', '__Host-sRefreshToken', '__Host-sIdRefreshToken'];
  let http: HttpApp;

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: database.options,
      options: { cookie: { namePrefix: '__Host-' } },
      controllers: [TransportRulesController],
    });
  });
  afterAll(async () => {
    await http?.close();
  });

  it('sets host-only, Secure, Path=/ cookies under __Host- names, and they work for guarded routes and refresh', async () => {
    const { response, jar, antiCsrf } = await signIn(http, 'prefixed');
    expect(
      setCookies(response)
        .map((cookie) => cookie.name)
        .sort(),
    ).toEqual([...HOST_NAMES].sort());
    for (const name of HOST_NAMES) {
      expect(cookieNamed(response, name), name).toMatchObject({ secure: true, path: '/', domain: undefined });
    }
    expect(cookieNamed(response, '__Host-sRefreshToken')?.httpOnly).toBe(true);
    expect(cookieNamed(response, '__Host-sIdRefreshToken')?.httpOnly).toBe(false);
    await http.request.post('/notes').set('Cookie', jar.header()).set(ANTI_CSRF_HEADER, antiCsrf).expect(201);
    const refreshed = await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
    expect(
      setCookies(refreshed)
        .map((cookie) => cookie.name)
        .sort(),
    ).toEqual([...HOST_NAMES].sort());
    jar.store(refreshed);
    const signedOut = await http.request
      .post('/logout')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, refreshed.headers[ANTI_CSRF_HEADER] as string)
      .expect(200);
    expectClearedOnly(signedOut, HOST_NAMES);
    for (const cookie of setCookies(signedOut)) expect(cookie).toMatchObject({ secure: true, path: '/' });
  });

  it('ignores cookies under the original names, so planted ones neither sign a victim in nor out', async () => {
    const attacker = await signIn(http, 'attacker');
    const tossed = attacker.jar
      .header()
      .split('; ')
      .map((pair) => pair.replace(/^__Host-/, ''))
      .join('; ');
    const noSession = await http.request.get('/me').set('Cookie', tossed);
    expect(noSession.status).toBe(401);
    expect(noSession.body.type).toBe('UNAUTHORISED');
    expectNoSetCookie(noSession);
    const refresh = await http.request.post('/session/refresh').set('Cookie', tossed).expect(401);
    expectNoSetCookie(refresh);
    const victim = await signIn(http, 'victim');
    const me = await http.request.get('/me').set('Cookie', `${tossed}; ${victim.jar.header()}`).expect(200);
    expect(me.body.userId).toBe('victim');
  });

  it('refuses to start with cookie.domain or without secure, saying what to change', async () => {
    const database = await createTestDatabase('sqlite');
    for (const [cookie, message] of [
      [{ namePrefix: '__Host-', domain: 'example.test' }, /'__Host-' cannot be combined with cookie.domain/],
      [{ namePrefix: '__Host-', secure: false }, /'__Host-' needs cookie.secure: true/],
    ] as const) {
      const started = createHttpApp({ adapter, database: database.options, options: { cookie } });
      await expect(started).rejects.toMatchObject({
        type: 'GENERAL_ERROR',
        message: expect.stringMatching(message),
      });
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Response } from 'supertest';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { CookieJar, cookieNamed, setCookies } from './support/cookies.js';
import { ADAPTERS, createHttpApp, type HttpApp } from './support/http-app.js';
import { handlerRuns } from './fixtures/test.controller.js';
import {
  ACCESS_TOKEN_COOKIE,
  ACCESS_TOKEN_HEADER,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  ID_REFRESH_TOKEN_HEADER,
  REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_HEADER,
  SESSION_TRANSPORT_HEADER,
} from '../lib/http/wire.js';

const [database] = await reachableDatabases(['mariadb']);
const SESSION_COOKIES = [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE];

/** The named session cookies (those the request carried; by default all three) are cleared, no other. */
function expectCleared(response: Response, names = SESSION_COOKIES, path = '/session/refresh'): void {
  const cleared = setCookies(response);
  expect(cleared.map((cookie) => cookie.name).sort()).toEqual([...names].sort());
  for (const cookie of cleared) {
    expect(cookie.value).toBe('');
    expect(cookie.expires?.getTime()).toBe(0);
    expect(cookie.path).toBe(cookie.name === REFRESH_TOKEN_COOKIE ? path : '/');
  }
  expect(response.headers[ID_REFRESH_TOKEN_HEADER]).toBe('remove');
}

describe.each(database ? ADAPTERS : [])('HTTP contract on %s (MariaDB)', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;

  async function login(
    userId: string | number = 'alice',
    payload: unknown = { role: 'reader' },
    data: unknown = { theme: 'dark' },
  ) {
    const response = await http.request.post('/login').send({ userId, payload, data }).expect(200);
    return {
      response,
      jar: new CookieJar().store(response),
      antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
    };
  }

  beforeAll(async () => {
    db = await createTestDatabase('mariadb');
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { accessToken: { validity: 60, clockTolerance: 0 } },
    });
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  describe('creating a session', () => {
    it('sets the three cookies with the documented attributes and the wire headers', async () => {
      const { response } = await login();
      const access = cookieNamed(response, ACCESS_TOKEN_COOKIE)!;
      const refresh = cookieNamed(response, REFRESH_TOKEN_COOKIE)!;
      const idRefresh = cookieNamed(response, ID_REFRESH_TOKEN_COOKIE)!;
      expect(access).toMatchObject({ httpOnly: true, path: '/', secure: true, sameSite: 'lax' });
      expect(refresh).toMatchObject({
        httpOnly: true,
        path: '/session/refresh',
        secure: true,
        sameSite: 'lax',
      });
      expect(idRefresh).toMatchObject({ httpOnly: false, path: '/', secure: true, sameSite: 'lax' });
      for (const cookie of [access, refresh, idRefresh]) expect(cookie.domain).toBeUndefined();
      // The access cookie outlives its JWT: the token's own exp governs, and a fast client clock still sends it.
      expect(access.expires!.getTime()).toBe(refresh.expires!.getTime());
      expect(idRefresh.expires!.getTime()).toBe(refresh.expires!.getTime());
      expect(response.headers[ANTI_CSRF_HEADER]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const [idValue, idExpiry] = (response.headers[ID_REFRESH_TOKEN_HEADER] as string).split(';');
      expect(idValue).toBe(idRefresh.value);
      expect(Math.abs(Number(idExpiry) - refresh.expires!.getTime())).toBeLessThan(1000);
      const exposed = (response.headers['access-control-expose-headers'] as string).split(/, */);
      expect(exposed).toEqual(expect.arrayContaining([ANTI_CSRF_HEADER, ID_REFRESH_TOKEN_HEADER]));
      expect(response.headers['cache-control']).toBe('no-store');
    });
  });

  describe('guarded routes', () => {
    it('answers 200 with the session: user id, payload and data', async () => {
      const { jar } = await login('bob', { role: 'admin' }, { theme: 'light' });
      const response = await http.request.get('/me').set('Cookie', jar.header()).expect(200);
      expect(response.body).toMatchObject({
        userId: 'bob',
        payload: { role: 'admin' },
        data: { theme: 'light' },
      });
      expect(response.body.handle).toMatch(/^[0-9a-f]{32}$/);
      expect(setCookies(response)).toEqual([]);
    });

    it('keeps numeric user ids numeric', async () => {
      const { jar } = await login(42);
      const response = await http.request.get('/me').set('Cookie', jar.header()).expect(200);
      expect(response.body.userId).toBe(42);
    });

    it('answers TRY_REFRESH_TOKEN for a missing access token, touching no cookie', async () => {
      const { jar } = await login();
      const response = await http.request
        .get('/me')
        .set('Cookie', jar.without(ACCESS_TOKEN_COOKIE).header())
        .expect(401);
      expect(response.body).toMatchObject({ statusCode: 401, type: 'TRY_REFRESH_TOKEN' });
      expect(setCookies(response)).toEqual([]);
    });

    it('answers TRY_REFRESH_TOKEN for an expired access token, touching no cookie', async () => {
      const { jar } = await login();
      http.clock.advance(61);
      const response = await http.request.get('/me').set('Cookie', jar.header()).expect(401);
      expect(response.body.type).toBe('TRY_REFRESH_TOKEN');
      expect(setCookies(response)).toEqual([]);
    });

    it('answers UNAUTHORISED and clears the cookies it carried when sIdRefreshToken is missing', async () => {
      const { jar } = await login();
      const response = await http.request
        .get('/me')
        .set('Cookie', jar.without(ID_REFRESH_TOKEN_COOKIE).header())
        .expect(401);
      expect(response.body.type).toBe('UNAUTHORISED');
      expectCleared(response, [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE]);
    });

    it('refuses a POST without or with a wrong anti-csrf header, never running the handler', async () => {
      const { jar, antiCsrf } = await login();
      const other = await login('mallory');
      const before = handlerRuns.notes;
      for (const header of [undefined, 'wrong', other.antiCsrf, antiCsrf.toUpperCase()]) {
        const request = http.request.post('/notes').set('Cookie', jar.header());
        if (header !== undefined) request.set(ANTI_CSRF_HEADER, header);
        const response = await request.expect(401);
        expect(response.body.type).toBe('TRY_REFRESH_TOKEN');
        expect(setCookies(response)).toEqual([]);
      }
      expect(handlerRuns.notes).toBe(before);
      await http.request
        .post('/notes')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, antiCsrf)
        .expect(201);
      expect(handlerRuns.notes).toBe(before + 1);
    });

    it('gives an optional session as undefined only when the request carries none', async () => {
      expect((await http.request.get('/optional').expect(200)).body).toEqual({ userId: null });
      const { jar } = await login('optional-user');
      expect((await http.request.get('/optional').set('Cookie', jar.header()).expect(200)).body).toEqual({
        userId: 'optional-user',
      });
      http.clock.advance(61);
      const expired = await http.request.get('/optional').set('Cookie', jar.header()).expect(401);
      expect(expired.body.type).toBe('TRY_REFRESH_TOKEN');
    });

    it('updates session data through the session', async () => {
      const { jar, antiCsrf } = await login();
      const response = await http.request
        .post('/data')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, antiCsrf)
        .send({ data: { step: 2 } })
        .expect(200);
      expect(response.body).toEqual({ data: { step: 2 } });
    });
  });

  describe('refreshing', () => {
    it('answers 200 to a plain POST with cookies and rotates all three cookies and the anti-csrf header', async () => {
      const { jar, antiCsrf } = await login('refresher');
      const response = await http.request
        .post('/session/refresh')
        .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${jar.get(REFRESH_TOKEN_COOKIE)}`)
        .expect(200);
      for (const name of SESSION_COOKIES) {
        expect(cookieNamed(response, name)?.value).toBeTruthy();
        expect(cookieNamed(response, name)?.value).not.toBe(jar.get(name));
      }
      expect(cookieNamed(response, REFRESH_TOKEN_COOKIE)?.path).toBe('/session/refresh');
      expect(response.headers[ANTI_CSRF_HEADER]).toBeTruthy();
      expect(response.headers[ANTI_CSRF_HEADER]).not.toBe(antiCsrf);
      expect(response.headers['cache-control']).toBe('no-store');
      jar.store(response);
      await http.request
        .post('/notes')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, response.headers[ANTI_CSRF_HEADER] as string)
        .expect(201);
    });

    it('detects theft on reuse of an old refresh cookie: 401, no details in the body, cookies cleared, session revoked', async () => {
      const { jar } = await login('theft-victim');
      const oldRefresh = jar.get(REFRESH_TOKEN_COOKIE)!;
      const rotated = await http.request
        .post('/session/refresh')
        .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${oldRefresh}`)
        .expect(200);
      jar.store(rotated);
      http.clock.advance(11); // past the 10 s grace period
      const response = await http.request
        .post('/session/refresh')
        .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${oldRefresh}`)
        .expect(401);
      expect(response.body.type).toBe('UNAUTHORISED_AND_TOKEN_THEFT_DETECTED');
      expect(JSON.stringify(response.body)).not.toMatch(/theft-victim|[0-9a-f]{32}/);
      expectCleared(response, [REFRESH_TOKEN_COOKIE]);
      const strict = await http.request.get('/strict').set('Cookie', jar.header()).expect(401);
      expect(strict.body.type).toBe('UNAUTHORISED');
    });

    it('answers UNAUTHORISED when there is no refresh cookie, clearing only the cookies carried', async () => {
      const bare = await http.request.post('/session/refresh').expect(401);
      expect(bare.body.type).toBe('UNAUTHORISED');
      expect(setCookies(bare)).toEqual([]);
      expect(bare.headers[ID_REFRESH_TOKEN_HEADER]).toBeUndefined();
      const { jar } = await login('no-refresh-cookie');
      const response = await http.request
        .post('/session/refresh')
        .set('Cookie', jar.without(REFRESH_TOKEN_COOKIE).header())
        .expect(401);
      expect(response.body.type).toBe('UNAUTHORISED');
      expectCleared(response, [ACCESS_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE]);
    });
  });

  describe('revoking', () => {
    it('signs out: cookies cleared; checkDatabase routes refuse the old token at once, stateless ones until it expires', async () => {
      const { jar, antiCsrf } = await login('leaving');
      const response = await http.request
        .post('/logout')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, antiCsrf)
        .expect(200);
      expectCleared(response);
      expect((await http.request.get('/strict').set('Cookie', jar.header()).expect(401)).body.type).toBe(
        'UNAUTHORISED',
      );
      await http.request.get('/me').set('Cookie', jar.header()).expect(401); // data lookup: the row is gone
      await http.request
        .post('/notes')
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, antiCsrf)
        .expect(201); // stateless
    });

    it('lets a SessionGuard subclass override a step (here: always check the database)', async () => {
      const { jar, antiCsrf, response } = await login('subclassed');
      await http.request.get('/strict-by-subclass').set('Cookie', jar.header()).expect(200);
      await http.request
        .post(`/admin/revoke/${response.body.handle}`)
        .set('Cookie', jar.header())
        .set(ANTI_CSRF_HEADER, antiCsrf)
        .expect(200);
      await http.request.get('/optional').set('Cookie', jar.header()).expect(200); // stateless
      const refused = await http.request.get('/strict-by-subclass').set('Cookie', jar.header()).expect(401);
      expect(refused.body.type).toBe('UNAUTHORISED');
    });

    it("leaves an admin's own cookies alone when the admin revokes another session", async () => {
      const target = await login('target');
      const admin = await login('admin');
      const response = await http.request
        .post(`/admin/revoke/${target.response.body.handle}`)
        .set('Cookie', admin.jar.header())
        .set(ANTI_CSRF_HEADER, admin.antiCsrf)
        .expect(200);
      expect(response.body).toEqual({ revoked: true });
      expect(setCookies(response)).toEqual([]);
      expect(response.headers[ID_REFRESH_TOKEN_HEADER]).toBeUndefined();
      await http.request.get('/strict').set('Cookie', admin.jar.header()).expect(200);
      await http.request.get('/strict').set('Cookie', target.jar.header()).expect(401);
    });
  });

  describe('header transport', () => {
    it('accepts Authorization: Bearer without cookies, idRefreshToken or anti-csrf', async () => {
      const { response } = await login('mobile');
      const token = cookieNamed(response, ACCESS_TOKEN_COOKIE)!.value;
      const me = await http.request.get('/me').set('Authorization', `Bearer ${token}`).expect(200);
      expect(me.body.userId).toBe('mobile');
      await http.request.post('/notes').set('Authorization', `Bearer ${token}`).expect(201);
    });

    it('answers a login and refresh asking for header transport with token headers and no cookies', async () => {
      const created = await http.request
        .post('/login')
        .set(SESSION_TRANSPORT_HEADER, 'header')
        .send({ userId: 'app-user' })
        .expect(200);
      expect(setCookies(created)).toEqual([]);
      const accessToken = created.headers[ACCESS_TOKEN_HEADER] as string;
      const refreshToken = created.headers[REFRESH_TOKEN_HEADER] as string;
      expect(accessToken).toBeTruthy();
      expect(refreshToken).toBeTruthy();
      await http.request.get('/me').set('Authorization', `Bearer ${accessToken}`).expect(200);
      const refreshed = await http.request
        .post('/session/refresh')
        .set('Authorization', `Bearer ${refreshToken}`)
        .expect(200);
      expect(setCookies(refreshed)).toEqual([]);
      expect(refreshed.headers[REFRESH_TOKEN_HEADER]).not.toBe(refreshToken);
      await http.request
        .get('/me')
        .set('Authorization', `Bearer ${refreshed.headers[ACCESS_TOKEN_HEADER]}`)
        .expect(200);
    });

    it('prefers the Authorization header over cookies', async () => {
      const first = await login('cookie-user');
      const second = await login('bearer-user');
      const token = cookieNamed(second.response, ACCESS_TOKEN_COOKIE)!.value;
      const me = await http.request
        .get('/me')
        .set('Cookie', first.jar.header())
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(me.body.userId).toBe('bearer-user');
    });
  });

  it('sets the CORS headers a preflight needs', async () => {
    const response = await http.request.options('/preflight').expect(204);
    expect(response.headers['access-control-allow-headers']).toContain(ANTI_CSRF_HEADER);
    expect(response.headers['access-control-allow-credentials']).toBe('true');
  });
});

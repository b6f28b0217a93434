import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { CookieJar, cookieNamed, setCookies } from './support/cookies.js';
import { ADAPTERS, createHttpApp, type HttpApp, type Registration } from './support/http-app.js';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
} from '../lib/http/wire.js';

const [database] = await reachableDatabases(['mariadb']);

describe.each(database ? ADAPTERS : [])('module fixtures on %s (MariaDB)', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('mariadb');
  });
  afterEach(async () => {
    await http?.close();
    http = undefined;
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function signIn(app: HttpApp, prefix = '') {
    const response = await app.request.post(`${prefix}/login`).send({ userId: 'fixture-user' }).expect(200);
    return {
      response,
      jar: new CookieJar().store(response),
      antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
    };
  }

  it.each(['forRoot', 'useFactory', 'useClass', 'useExisting'] as Registration[])(
    'serves login, a guarded route and refresh when registered with %s',
    async (registration) => {
      http = await createHttpApp({ adapter, database: db.options, registration });
      const { jar } = await signIn(http);
      await http.request.get('/me').set('Cookie', jar.header()).expect(200);
      const refreshed = await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
      expect(cookieNamed(refreshed, REFRESH_TOKEN_COOKIE)?.value).toBeTruthy();
    },
  );

  it('protects every route with a global guard, lets @PublicAccess() routes and refresh through, and puts the global prefix in the cookie path', async () => {
    http = await createHttpApp({ adapter, database: db.options, globalGuard: true, globalPrefix: 'api' });
    await http.request.get('/api/public').expect(200);
    const { response, jar } = await signIn(http, '/api');
    expect(cookieNamed(response, REFRESH_TOKEN_COOKIE)?.path).toBe('/api/session/refresh');
    const me = await http.request.get('/api/me').set('Cookie', jar.header()).expect(200);
    expect(me.body.userId).toBe('fixture-user');
    const refused = await http.request.get('/api/me').expect(401);
    expect(refused.body.type).toBe('UNAUTHORISED');
    const refreshed = await http.request.post('/api/session/refresh').set('Cookie', jar.header()).expect(200);
    expect(cookieNamed(refreshed, REFRESH_TOKEN_COOKIE)?.path).toBe('/api/session/refresh');
  });

  it('mounts the refresh route at refreshPath with forRootAsync, and refuses a disagreeing refreshToken.path', async () => {
    http = await createHttpApp({
      adapter,
      database: db.options,
      registration: 'useFactory',
      extras: { refreshPath: '/auth/refresh' },
    });
    const { response, jar } = await signIn(http);
    expect(cookieNamed(response, REFRESH_TOKEN_COOKIE)?.path).toBe('/auth/refresh');
    await http.request.post('/auth/refresh').set('Cookie', jar.header()).expect(200);
    await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(404);
    await http.close();
    http = undefined;
    await expect(
      createHttpApp({
        adapter,
        database: db.options,
        registration: 'useFactory',
        options: { refreshToken: { path: '/elsewhere' } },
      }),
    ).rejects.toThrow(
      /refreshToken.path is '\/elsewhere' but the refresh route was mounted at '\/session\/refresh'/,
    );
  });

  it('registers no refresh route when refreshRoute is false', async () => {
    http = await createHttpApp({
      adapter,
      database: db.options,
      registration: 'useClass',
      extras: { refreshRoute: false },
    });
    const { jar } = await signIn(http);
    await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(404);
  });

  it('answers TRY_REFRESH_TOKEN with sessionExpiredStatusCode', async () => {
    http = await createHttpApp({ adapter, database: db.options, options: { sessionExpiredStatusCode: 440 } });
    const response = await http.request.get('/me').set('Cookie', 'sIdRefreshToken=x').expect(440);
    expect(response.body).toMatchObject({ statusCode: 440, type: 'TRY_REFRESH_TOKEN' });
  });

  it('honours cookie domain, secure and sameSite, and clears with the same attributes', async () => {
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { cookie: { domain: 'example.test', secure: false, sameSite: 'strict' } },
    });
    const { response, jar } = await signIn(http);
    for (const name of [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE]) {
      expect(cookieNamed(response, name)).toMatchObject({
        domain: 'example.test',
        secure: false,
        sameSite: 'strict',
      });
    }
    const cleared = await http.request
      .get('/me')
      .set('Cookie', jar.without(ID_REFRESH_TOKEN_COOKIE).header())
      .expect(401);
    // Only the cookies the request carried are cleared.
    const domainVariants = setCookies(cleared).filter((cookie) => cookie.domain === 'example.test');
    expect(domainVariants.map((cookie) => cookie.name).sort()).toEqual([
      ACCESS_TOKEN_COOKIE,
      REFRESH_TOKEN_COOKIE,
    ]);
    for (const cookie of domainVariants) {
      expect(cookie).toMatchObject({ secure: false, sameSite: 'strict', value: '' });
      expect(cookie.path).toBe(cookie.name === REFRESH_TOKEN_COOKIE ? '/session/refresh' : '/');
    }
    // The host-only variants a changed domain leaves behind are cleared too.
    expect(setCookies(cleared).filter((cookie) => cookie.domain === undefined)).toHaveLength(2);
  });

  it('clears the host-only copies a changed cookie domain leaves behind whenever it sets cookies', async () => {
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { cookie: { domain: 'example.test' } },
    });
    const { response, jar } = await signIn(http);
    // A request without session cookies: only the refresh cookie's host-only copy is cleared (a login
    // cannot see it, as it is sent to the refresh path only).
    expect(
      setCookies(response)
        .filter((cookie) => cookie.domain === undefined)
        .map((cookie) => [cookie.name, cookie.value]),
    ).toEqual([[REFRESH_TOKEN_COOKIE, '']]);
    const refreshed = await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
    const again = await http.request.post('/login').set('Cookie', jar.header()).send({ userId: 'again' });
    expect(again.status).toBe(200);
    for (const setting of [refreshed, again]) {
      const cookies = setCookies(setting);
      const hostOnly = cookies.filter((cookie) => cookie.domain === undefined);
      expect(hostOnly.map((cookie) => cookie.name).sort()).toEqual([
        ACCESS_TOKEN_COOKIE,
        ID_REFRESH_TOKEN_COOKIE,
        REFRESH_TOKEN_COOKIE,
      ]);
      expect(hostOnly.every((cookie) => cookie.value === '' && cookie.expires?.getTime() === 0)).toBe(true);
      const fresh = cookies.filter((cookie) => cookie.domain === 'example.test');
      expect(fresh).toHaveLength(3);
      expect(fresh.every((cookie) => cookie.value !== '')).toBe(true);
    }
  });

  it("skips anti-csrf only where told: antiCsrf 'none' for the app, antiCsrfCheck: false for a route", async () => {
    http = await createHttpApp({ adapter, database: db.options });
    const { jar } = await signIn(http);
    await http.request.post('/notes').set('Cookie', jar.header()).expect(401);
    const open = await http.request.post('/no-csrf-check').set('Cookie', jar.header()).expect(200);
    expect(open.body).toEqual({ userId: 'fixture-user' });
    await http.close();
    http = await createHttpApp({ adapter, database: db.options, options: { antiCsrf: 'none' } });
    const signedIn = await signIn(http);
    expect(signedIn.response.headers[ANTI_CSRF_HEADER]).toBeUndefined();
    expect(signedIn.response.headers['access-control-expose-headers']).not.toContain(ANTI_CSRF_HEADER);
    await http.request.post('/notes').set('Cookie', signedIn.jar.header()).expect(201);
  });

  it('still answers the right status behind an app-wide catch-all exception filter', async () => {
    http = await createHttpApp({ adapter, database: db.options, catchAllFilter: true });
    const response = await http.request.get('/me').set('Cookie', 'sIdRefreshToken=x').expect(401);
    expect(response.body).toMatchObject({ type: 'TRY_REFRESH_TOKEN', filtered: true });
  });

  it('serves the JWKS for asymmetric algorithms and 404 for HS256', async () => {
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { accessToken: { algorithm: 'ES256' } },
    });
    const { response } = await signIn(http);
    const jwks = await http.request.get('/.well-known/jwks.json').expect(200);
    expect(jwks.body.keys).toHaveLength(1);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'EC', alg: 'ES256', use: 'sig' });
    expect(jwks.body.keys[0]).not.toHaveProperty('d');
    const token = cookieNamed(response, ACCESS_TOKEN_COOKIE)!.value;
    const { kid } = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
    expect(jwks.body.keys[0].kid).toBe(kid);
    await http.close();
    await db.drop();
    db = await createTestDatabase('mariadb');
    http = await createHttpApp({ adapter, database: db.options });
    await http.request.get('/.well-known/jwks.json').expect(404);
  });

  it('accepts equal duplicate session cookies and refuses conflicting ones with TRY_REFRESH_TOKEN', async () => {
    http = await createHttpApp({ adapter, database: db.options });
    const { jar } = await signIn(http);
    const access = jar.get(ACCESS_TOKEN_COOKIE);
    await http.request
      .get('/me')
      .set('Cookie', `${jar.header()}; ${ACCESS_TOKEN_COOKIE}=${access}`)
      .expect(200);
    const conflicting = await http.request
      .get('/me')
      .set('Cookie', `${jar.header()}; ${ACCESS_TOKEN_COOKIE}=stale`)
      .expect(401);
    expect(conflicting.body.type).toBe('TRY_REFRESH_TOKEN');
    expect(setCookies(conflicting)).toEqual([]);
  });
});

import {
  Controller,
  HttpCode,
  Module,
  Post,
  Req,
  RequestMethod,
  Res,
  VERSION_NEUTRAL,
  VersioningType,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  PublicAccess,
  SessionModule,
  SessionService,
  type HttpRequestLike,
  type HttpResponseLike,
  type SessionModuleExtras,
  type SessionModuleOptions,
} from '../lib/index.js';
import { CookieJar, cookieNamed } from './support/cookies.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import {
  ADAPTERS,
  createHttpApp,
  type HttpApp,
  type HttpAppOptions,
  type Registration,
} from './support/http-app.js';
import { REFRESH_TOKEN_COOKIE } from '../lib/http/wire.js';

/** The app's own refresh route, for `refreshRoute: false`. */
@Controller('session/refresh')
class OwnRefreshController {
  constructor(private readonly sessions: SessionService) {}

  @PublicAccess()
  @Post()
  @HttpCode(200)
  async refresh(@Req() request: HttpRequestLike, @Res({ passthrough: true }) response: HttpResponseLike) {
    await this.sessions.refreshSession(request, response);
  }
}

@Module({ controllers: [OwnRefreshController] })
class OwnRefreshModule {}

const OWN_ROUTE = { refreshRoute: false } as const;

/** One way an app can route the refresh controller, and where Nest then really serves it. */
interface RoutingCase {
  name: string;
  configure?: (app: INestApplication) => void;
  imports?: HttpAppOptions['imports'];
  controllers?: Type[];
  extras?: SessionModuleExtras;
  registration?: Registration;
  options?: Partial<SessionModuleOptions>;
  /** Where the fixture's login route is served. */
  login: string;
  /** Where POST refresh answers, and so the Path the cookie must carry. */
  refresh: string;
  /** The Path of sRefreshToken when it is configured rather than the served path. */
  cookiePath?: string;
  /** Request headers every call needs (header and media-type versioning). */
  headers?: Record<string, string>;
}

const EXCLUDE_REFRESH = { exclude: [{ path: 'session/refresh', method: RequestMethod.POST }] };
const authRouter = () => RouterModule.register([{ path: 'auth', module: SessionModule }]);

const ROUTINGS: RoutingCase[] = [
  { name: 'no routing options', login: '/login', refresh: '/session/refresh' },
  {
    name: 'a global prefix',
    configure: (app) => app.setGlobalPrefix('api'),
    login: '/api/login',
    refresh: '/api/session/refresh',
  },
  {
    name: 'a global prefix whose exclude list covers the refresh route',
    configure: (app) => app.setGlobalPrefix('api', EXCLUDE_REFRESH),
    login: '/api/login',
    refresh: '/session/refresh',
  },
  {
    name: 'a global prefix with a route parameter and the refresh route excluded',
    configure: (app) => app.setGlobalPrefix(':tenant', EXCLUDE_REFRESH),
    login: '/acme/login',
    refresh: '/session/refresh',
  },
  {
    name: 'a global prefix with a route parameter and a covering refreshToken.cookiePath',
    configure: (app) => app.setGlobalPrefix('api/:tenant'),
    options: { refreshToken: { cookiePath: '/api' } },
    login: '/api/acme/login',
    refresh: '/api/acme/session/refresh',
    cookiePath: '/api',
  },
  {
    name: 'a global prefix excluding the refresh route, with URI versioning',
    configure: (app) => {
      app.setGlobalPrefix('api', EXCLUDE_REFRESH);
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
    },
    login: '/api/v1/login',
    refresh: '/v1/session/refresh',
  },
  {
    name: "URI versioning with defaultVersion '1'",
    configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }),
    login: '/v1/login',
    refresh: '/v1/session/refresh',
  },
  {
    name: 'URI versioning without a version prefix',
    configure: (app) =>
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '2', prefix: false }),
    login: '/2/login',
    refresh: '/2/session/refresh',
  },
  {
    name: 'URI versioning with a VERSION_NEUTRAL default',
    configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: VERSION_NEUTRAL }),
    login: '/login',
    refresh: '/session/refresh',
  },
  {
    name: 'URI versioning with a version array and refreshVersion VERSION_NEUTRAL',
    configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: ['1', '2'] }),
    extras: { refreshVersion: VERSION_NEUTRAL },
    login: '/v2/login',
    refresh: '/session/refresh',
  },
  {
    name: "URI versioning with a version array and refreshVersion '2'",
    configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: ['1', '2'] }),
    extras: { refreshVersion: '2' },
    registration: 'useFactory',
    login: '/v1/login',
    refresh: '/v2/session/refresh',
  },
  {
    name: 'a RouterModule path',
    imports: [authRouter()],
    login: '/login',
    refresh: '/auth/session/refresh',
  },
  {
    name: 'a RouterModule path, a global prefix and URI versioning together, with refreshPath',
    imports: [authRouter()],
    extras: { refreshPath: '/token/refresh' },
    configure: (app) => {
      app.setGlobalPrefix('api');
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
    },
    login: '/api/v1/login',
    refresh: '/api/v1/auth/token/refresh',
  },
  {
    name: 'header versioning (the path carries no version)',
    configure: (app) =>
      app.enableVersioning({ type: VersioningType.HEADER, header: 'x-api-version', defaultVersion: '1' }),
    headers: { 'x-api-version': '1' },
    login: '/login',
    refresh: '/session/refresh',
  },
  {
    name: 'media-type versioning (the path carries no version)',
    configure: (app) =>
      app.enableVersioning({ type: VersioningType.MEDIA_TYPE, key: 'v=', defaultVersion: '1' }),
    headers: { accept: 'application/json;v=1' },
    login: '/login',
    refresh: '/session/refresh',
  },
  {
    name: 'refreshRoute false and the app serving refresh under a global prefix',
    extras: OWN_ROUTE,
    controllers: [OwnRefreshController],
    configure: (app) => app.setGlobalPrefix('api'),
    login: '/api/login',
    refresh: '/api/session/refresh',
  },
  {
    name: 'refreshRoute false, URI versioning and refreshToken.cookiePath naming the served path',
    extras: OWN_ROUTE,
    controllers: [OwnRefreshController],
    configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }),
    options: { refreshToken: { cookiePath: '/v1/session/refresh' } },
    login: '/v1/login',
    refresh: '/v1/session/refresh',
    cookiePath: '/v1/session/refresh',
  },
];

/** Routings no single cookie path fits without an option, and what start-up says to do. */
const REFUSED: {
  name: string;
  configure?: (app: INestApplication) => void;
  options?: Partial<SessionModuleOptions>;
  extras?: SessionModuleExtras;
  controllers?: Type[];
  imports?: HttpAppOptions['imports'];
  message: RegExp;
}[] = [
  {
    name: 'a version array serves refresh at several paths',
    configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: ['1', '2'] }),
    message:
      /refresh route is served at '\/v1\/session\/refresh', '\/v2\/session\/refresh'.*`refreshVersion` option.*VERSION_NEUTRAL.*refreshToken\.cookiePath/,
  },
  {
    name: 'a route parameter in the global prefix',
    configure: (app) => app.setGlobalPrefix(':tenant'),
    message:
      /refresh route is served at '\/:tenant\/session\/refresh', whose route parameter.*Exclude the refresh route from the global prefix.*refreshToken\.cookiePath/,
  },
  {
    name: 'a refreshToken.cookiePath that misses the served route',
    configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }),
    options: { refreshToken: { cookiePath: '/session/refresh' } },
    message:
      /refreshToken\.cookiePath '\/session\/refresh' does not cover the refresh route served at '\/v1\/session\/refresh'/,
  },
  {
    name: 'a global prefix with a space, which browsers send percent-encoded',
    configure: (app) => app.setGlobalPrefix('my api'),
    message:
      /served at '\/my api\/session\/refresh', which is not the path a browser sends: it sends '\/my%20api\/session\/refresh'.*global prefix.*refreshToken\.cookiePath/,
  },
  {
    name: 'a non-ASCII refreshToken.path',
    options: { refreshToken: { path: '/sessão/refresh' } },
    message: /served at '\/sessão\/refresh'.*it sends '\/sess%C3%A3o\/refresh'.*refreshToken\.path/,
  },
  {
    name: 'a dot segment in the global prefix, which browsers resolve',
    configure: (app) => app.setGlobalPrefix('api/./v'),
    message: /served at '\/api\/.\/v\/session\/refresh'.*it sends '\/api\/v\/session\/refresh'/,
  },
  {
    name: 'a refreshToken.cookiePath browsers send percent-encoded',
    configure: (app) => app.setGlobalPrefix('my api'),
    options: { refreshToken: { cookiePath: '/my api' } },
    message: /refreshToken\.cookiePath '\/my api' is not the path a browser sends: it sends '\/my%20api'/,
  },
  {
    name: 'refreshRoute false with a non-ASCII refreshToken.path',
    extras: OWN_ROUTE,
    options: { refreshToken: { path: '/sessão/refresh' } },
    message: /served at '\/sessão\/refresh'.*it sends '\/sess%C3%A3o\/refresh'/,
  },
  {
    name: 'refreshRoute false with a refreshToken.cookiePath browsers send percent-encoded',
    extras: OWN_ROUTE,
    options: { refreshToken: { cookiePath: '/my session' } },
    message:
      /refreshToken\.cookiePath '\/my session' is not the path a browser sends: it sends '\/my%20session'/,
  },
  {
    name: 'refreshRoute false with URI versioning',
    extras: OWN_ROUTE,
    controllers: [OwnRefreshController],
    configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }),
    message:
      /with refreshRoute: false .*with URI versioning its path cannot be known.*Set refreshToken\.cookiePath/,
  },
  {
    name: "refreshRoute false with the global prefix's exclude list",
    extras: OWN_ROUTE,
    controllers: [OwnRefreshController],
    configure: (app) => app.setGlobalPrefix('api', EXCLUDE_REFRESH),
    message: /with refreshRoute: false .*the global prefix's exclude list.*Set refreshToken\.cookiePath/,
  },
  {
    name: 'refreshRoute false with a route parameter in the global prefix',
    extras: OWN_ROUTE,
    controllers: [OwnRefreshController],
    configure: (app) => app.setGlobalPrefix(':tenant'),
    message:
      /with refreshRoute: false .*a route parameter in the global prefix.*Set refreshToken\.cookiePath/,
  },
  {
    name: "refreshRoute false with a RouterModule path on the app's refresh route",
    extras: OWN_ROUTE,
    imports: [OwnRefreshModule, RouterModule.register([{ path: 'auth', module: OwnRefreshModule }])],
    message: /with refreshRoute: false .*RouterModule paths.*Set refreshToken\.cookiePath/,
  },
];

describe.each(ADAPTERS)('sRefreshToken cookie path follows the served refresh route on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
  });
  afterEach(async () => {
    await http?.close();
    http = undefined;
  });
  afterAll(async () => {
    await db?.drop();
  });

  it.each(ROUTINGS)('sets Path to where POST refresh answers 200, with $name', async (routing) => {
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: routing.options,
      extras: routing.extras,
      registration: routing.registration,
      imports: routing.imports,
      controllers: routing.controllers,
      configure: routing.configure,
    });
    const headers = routing.headers ?? {};
    const login = await http.request
      .post(routing.login)
      .set(headers)
      .send({ userId: 'router-user' })
      .expect(200);
    const expectedPath = routing.cookiePath ?? routing.refresh;
    expect(cookieNamed(login, REFRESH_TOKEN_COOKIE)?.path).toBe(expectedPath);
    const jar = new CookieJar().store(login);
    const refreshed = await http.request
      .post(routing.refresh)
      .set(headers)
      .set('Cookie', jar.header())
      .expect(200);
    expect(cookieNamed(refreshed, REFRESH_TOKEN_COOKIE)).toMatchObject({ path: expectedPath });
    expect(cookieNamed(refreshed, REFRESH_TOKEN_COOKIE)?.value).not.toBe(jar.get(REFRESH_TOKEN_COOKIE));
    // The rotated cookie works at the same path.
    jar.store(refreshed);
    await http.request.post(routing.refresh).set(headers).set('Cookie', jar.header()).expect(200);
  });

  it.each(REFUSED)('fails start-up saying which option to set when $name', async (refused) => {
    await expect(
      createHttpApp({
        adapter,
        database: db.options,
        options: refused.options,
        extras: refused.extras,
        controllers: refused.controllers,
        imports: refused.imports,
        configure: refused.configure,
      }),
    ).rejects.toThrow(refused.message);
  });

  it('answers at the served path only, not at the unrouted one', async () => {
    http = await createHttpApp({
      adapter,
      database: db.options,
      configure: (app) => app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }),
    });
    const login = await http.request.post('/v1/login').send({ userId: 'router-user' }).expect(200);
    const jar = new CookieJar().store(login);
    await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(404);
  });
});

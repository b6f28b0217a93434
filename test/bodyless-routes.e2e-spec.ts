import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Body, Controller, HttpCode, Post, VersioningType } from '@nestjs/common';
import type { Test } from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PublicAccess } from '../lib/index.js';
import { CookieJar, cookieNamed } from './support/cookies.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from './support/http-app.js';
import { REFRESH_TOKEN_COOKIE } from '../lib/http/wire.js';

/** An ordinary app route that reads its JSON body, to show the app's own parsing is unchanged. */
@Controller('echo')
class EchoController {
  @PublicAccess()
  @Post()
  @HttpCode(200)
  echo(@Body() body: unknown) {
    return { body: body ?? null };
  }
}

/** Content type and body of a request the library's routes must answer whatever they are. */
const BODIES: { name: string; contentType?: string; body?: string }[] = [
  { name: 'no body, no content type' },
  { name: 'no body, application/json', contentType: 'application/json' },
  { name: 'no body, application/json; charset=utf-8', contentType: 'application/json; charset=utf-8' },
  { name: 'no body, application/x-www-form-urlencoded', contentType: 'application/x-www-form-urlencoded' },
  { name: 'no body, text/plain', contentType: 'text/plain' },
  { name: 'no body, application/octet-stream', contentType: 'application/octet-stream' },
  { name: 'an empty JSON object', contentType: 'application/json', body: '{}' },
  { name: 'malformed JSON', contentType: 'application/json', body: '{"not json' },
  { name: 'a form body', contentType: 'application/x-www-form-urlencoded', body: 'a=1&b' },
  { name: 'a text body', contentType: 'text/plain', body: 'hello' },
  { name: 'an unknown media type', contentType: 'application/xml', body: '<x/>' },
];

function withBody(request: Test, { contentType, body }: (typeof BODIES)[number]): Test {
  if (contentType !== undefined) request.set('Content-Type', contentType);
  return body === undefined ? request : request.send(body);
}

/**
 * Sends one raw HTTP/1.1 request with `target` as written (supertest would normalise it) and a
 * malformed JSON body; resolves the response status.
 */
async function rawStatus(app: HttpApp, target: string, cookie: string): Promise<number> {
  const server: Server = app.app.getHttpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket = net.createConnection((server.address() as AddressInfo).port, '127.0.0.1');
    const body = '{bad';
    // Connection: close, not a half-close, ends the exchange: the server may close a half-closed socket early.
    socket.write(
      `POST ${target} HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    let response = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (response += chunk));
    await once(socket, 'close');
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
  } finally {
    server.close();
  }
}

/**
 * Request targets with their status on Express and on Fastify, whose routers differ on case, trailing
 * slashes and `#`: 200 where the router reaches the refresh route (the body is ignored), 400 where it
 * does not (the app parses the body, as for any other path).
 */
const TARGETS: { target: string; express: number; fastify: number }[] = [
  { target: 'http://x/session/refresh', express: 200, fastify: 200 },
  { target: 'http://x/session/refresh?a=1', express: 200, fastify: 200 },
  { target: '/session/refresh?a=1', express: 200, fastify: 200 },
  { target: '/session/refresh?a=/x#y', express: 200, fastify: 200 },
  { target: '/session/refresh#fragment', express: 200, fastify: 200 },
  { target: '/session/refresh/', express: 200, fastify: 400 },
  { target: '/Session/Refresh', express: 200, fastify: 400 },
  { target: '/session/refresh;a=1', express: 400, fastify: 400 },
  { target: '/session%2Frefresh', express: 400, fastify: 400 },
  { target: '//x/session/refresh', express: 400, fastify: 400 },
  { target: 'http://x/login', express: 400, fastify: 400 },
];

describe.each(ADAPTERS)('refresh and JWKS ignore the request body on %s', (adapter) => {
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

  const start = (prefix?: boolean) =>
    createHttpApp({
      adapter,
      database: db.options,
      options: { accessToken: { algorithm: 'ES256' } },
      controllers: [EchoController],
      configure: prefix
        ? (app) => {
            app.setGlobalPrefix('api');
            app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
          }
        : undefined,
    });

  async function signIn(app: HttpApp, prefix = '') {
    const login = await app.request.post(`${prefix}/login`).send({ userId: 'bodyless-user' }).expect(200);
    return new CookieJar().store(login);
  }

  it.each(BODIES)('refreshes a POST with $name', async (variant) => {
    http = await start();
    const jar = await signIn(http);
    const refreshed = await withBody(
      http.request.post('/session/refresh').set('Cookie', jar.header()),
      variant,
    );
    expect(refreshed.status).toBe(200);
    expect(cookieNamed(refreshed, REFRESH_TOKEN_COOKIE)?.value).not.toBe(jar.get(REFRESH_TOKEN_COOKIE));
  });

  it.each(BODIES)('serves the JWKS to a request with $name', async (variant) => {
    http = await start();
    const jwks = await withBody(http.request.get('/.well-known/jwks.json'), variant);
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toHaveLength(1);
  });

  it('ignores the body at the served paths under a global prefix and URI versioning', async () => {
    http = await start(true);
    const jar = await signIn(http, '/api/v1');
    await http.request
      .post('/api/v1/session/refresh')
      .set('Cookie', jar.header())
      .set('Content-Type', 'application/json')
      .send('{"not json')
      .expect(200);
    await http.request
      .get('/api/v1/.well-known/jwks.json')
      .set('Content-Type', 'application/json')
      .send('{"not json')
      .expect(200);
  });

  it('ignores the body under a global prefix with a route parameter', async () => {
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { refreshToken: { cookiePath: '/' } },
      configure: (app) => app.setGlobalPrefix(':tenant'),
    });
    const jar = await signIn(http, '/acme');
    await http.request
      .post('/acme/session/refresh')
      .set('Cookie', jar.header())
      .set('Content-Type', 'application/json')
      .send('{"not json')
      .expect(200);
  });

  it.each(TARGETS)('answers a malformed JSON POST to $target as its router routes it', async (variant) => {
    http = await start();
    const jar = await signIn(http);
    expect(await rawStatus(http, variant.target, jar.header())).toBe(variant[adapter]);
  });

  it("leaves the app's body parsing of its other routes as the adapter does it", async () => {
    http = await start();
    const parsed = await http.request.post('/echo').send({ a: 1 }).expect(200);
    expect(parsed.body).toEqual({ body: { a: 1 } });
    await http.request.post('/echo').set('Content-Type', 'application/json').send('{"not json').expect(400);
    await http.request.post('/login').set('Content-Type', 'application/json').send('{"not json').expect(400);
    // Fastify refuses an empty JSON body; Express reads it as no body.
    const empty = await http.request.post('/echo').set('Content-Type', 'application/json');
    expect(empty.status).toBe(adapter === 'fastify' ? 400 : 200);
  });
});

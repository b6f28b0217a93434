import type { AddressInfo } from 'node:net';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ANTI_CSRF_HEADER, SessionConnections, SessionEngine } from '../lib/index.js';
import { SessionGateway } from './fixtures/contexts.fixtures.js';
import { CookieJar } from './support/cookies.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { createHttpApp, type HttpApp } from './support/http-app.js';
import { connect, type SocketKind, type TestSocket } from './support/socket-clients.js';

// Gateways on a Fastify host (the adapters attach to Fastify's own HTTP server): the handshake,
// a guarded message and the close on revocation, as on Express (test/websockets.e2e-spec.ts).

describe.each<SocketKind>(['socket.io', 'ws'])('WebSocket gateway with the %s adapter on Fastify', (kind) => {
  let db: TestDatabase;
  let http: HttpApp;
  let engine: SessionEngine;
  let connections: SessionConnections;
  let port: number;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter: 'fastify',
      database: db.options,
      options: { accessToken: { validity: 60, clockTolerance: 0 } },
      providers: [SessionGateway],
      configure: (app) => app.useWebSocketAdapter(kind === 'ws' ? new WsAdapter(app) : new IoAdapter(app)),
    });
    await http.app.listen(0, '127.0.0.1');
    port = (http.app.getHttpServer().address() as AddressInfo).port;
    engine = http.app.get(SessionEngine);
    connections = http.app.get(SessionConnections);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  function open(credentials: Parameters<typeof connect>[2]): TestSocket {
    const socket = connect(kind, port, credentials);
    sockets.push(socket);
    return socket;
  }

  it('accepts a handshake with an access token and answers a guarded message with @Session()', async () => {
    const created = await engine.createNewSession('alice');
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    expect(await socket.request('whoami')).toEqual({ userId: 'alice', handle: created.session.handle });
  });

  it('accepts a handshake carrying the session cookies set by the Fastify login route', async () => {
    const login = await http.request.post('/login').send({ userId: 'bob' }).expect(200);
    const socket = open({ headers: { cookie: new CookieJar().store(login).header() } });
    await socket.opened;
    expect(await socket.request('whoami')).toMatchObject({ userId: 'bob' });
  });

  it('refuses a handshake with a forged access token: TRY_REFRESH_TOKEN', async () => {
    const created = await engine.createNewSession('carol');
    const socket = open({ accessToken: `${created.accessToken.value.slice(0, -4)}AAAA` });
    if (kind === 'socket.io') {
      await expect(socket.opened).rejects.toMatchObject({ type: 'TRY_REFRESH_TOKEN', statusCode: 401 });
    } else {
      expect(await socket.closed).toEqual({ code: 4401, reason: 'TRY_REFRESH_TOKEN' });
    }
  });

  it('closes the connection with 4403 and the reason when its session is revoked', async () => {
    const created = await engine.createNewSession('dave');
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    await socket.request('whoami');
    const before = connections.size;
    await engine.revokeSessionUsingSessionHandle(created.session.handle);
    expect(connections.size).toBe(before - 1);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: revoked' });
  });

  it('closes the connection of a session signed out over Fastify HTTP (cookies cleared, socket closed)', async () => {
    const login = await http.request.post('/login').send({ userId: 'erin' }).expect(200);
    const jar = new CookieJar().store(login);
    const socket = open({ headers: { cookie: jar.header() } });
    await socket.opened;
    await socket.request('whoami');
    await http.request
      .post('/logout')
      .set('cookie', jar.header())
      .set(ANTI_CSRF_HEADER, String(login.headers[ANTI_CSRF_HEADER]))
      .expect(200);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: signed-out' });
  });
});

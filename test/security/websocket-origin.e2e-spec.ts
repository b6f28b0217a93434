import type { AddressInfo } from 'node:net';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionConnections, SessionEngine } from '../../lib/index.js';
import { SessionGateway } from '../fixtures/contexts.fixtures.js';
import { CookieJar } from '../support/cookies.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { createHttpApp, type HttpApp } from '../support/http-app.js';
import { connect, type SocketKind, type TestSocket } from '../support/socket-clients.js';

// Cross-site WebSocket hijacking: a browser sends the session cookies with any page's WebSocket
// upgrade, and no anti-csrf header can ride along. A cookie-authenticated upgrade from another
// origin must be refused, as a cross-site POST without the anti-csrf header is on HTTP.

const cases = (['express', 'fastify'] as const).flatMap((adapter) =>
  (['socket.io', 'ws'] as SocketKind[]).map((kind) => [adapter, kind] as const),
);

describe.each(cases)('WebSocket upgrade Origin on %s with %s', (adapter, kind) => {
  let db: TestDatabase;
  let http: HttpApp;
  let engine: SessionEngine;
  let connections: SessionConnections;
  let port: number;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
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

  async function browserCookies(userId: string): Promise<string> {
    const login = await http.request.post('/login').send({ userId }).expect(200);
    return new CookieJar().store(login).header();
  }

  it.each(['https://evil.example', `http://127.0.0.1:${1}`, 'null'])(
    'refuses the session cookies of an upgrade from another origin (%s): UNAUTHORISED, never bound',
    async (origin) => {
      const cookie = await browserCookies('victim');
      const socket = open({ headers: { cookie, origin } });
      if (kind === 'socket.io') {
        await expect(socket.opened).rejects.toMatchObject({ type: 'UNAUTHORISED' });
      } else {
        expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED' });
      }
      expect(connections.size).toBe(0);
    },
  );

  it('accepts the session cookies of an upgrade from its own origin, and of a client sending no Origin', async () => {
    const cookie = await browserCookies('alice');
    const sameOrigin = open({ headers: { cookie, origin: `http://127.0.0.1:${port}` } });
    await sameOrigin.opened;
    expect(await sameOrigin.request('whoami')).toMatchObject({ userId: 'alice' });
    const noOrigin = open({ headers: { cookie } });
    await noOrigin.opened;
    expect(await noOrigin.request('whoami')).toMatchObject({ userId: 'alice' });
  });

  it('accepts an access token sent explicitly from another origin (no ambient credential)', async () => {
    const created = await engine.createNewSession('bob');
    const socket = open({
      accessToken: created.accessToken.value,
      headers: { origin: 'https://app.example' },
    });
    await socket.opened;
    expect(await socket.request('whoami')).toMatchObject({ userId: 'bob' });
  });
});

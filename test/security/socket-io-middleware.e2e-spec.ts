import type { AddressInfo } from 'node:net';
import { UseGuards } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Session,
  SessionClaims,
  SessionConnections,
  SessionEngine,
  SessionGuard,
  VerifySession,
} from '../../lib/index.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { createHttpApp, type HttpApp } from '../support/http-app.js';
import { connect, type TestSocket } from '../support/socket-clients.js';

// A socket.io socket authenticated by socketIoMiddleware() alone (no accept() in handleConnection)
// stays bound: socket.io reports `disconnected` while its middlewares run, which once unbound it at
// once (no close on revocation; a later accept() bound it a second time, racing session.refresh).

@WebSocketGateway({ path: '/ws' })
class MiddlewareOnlyGateway implements OnGatewayInit {
  constructor(private readonly connections: SessionConnections) {}

  afterInit(server: { use: (middleware: unknown) => void }): void {
    server.use(this.connections.socketIoMiddleware());
  }

  @UseGuards(SessionGuard)
  @VerifySession({ claims: [SessionClaims.equals('role', 'admin')] })
  @SubscribeMessage('admin')
  admin(@Session('userId') userId: string) {
    return { ran: 'admin', userId };
  }
}

describe.each(['express', 'fastify'] as const)('socketIoMiddleware() alone on %s', (adapter) => {
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
      options: { accessToken: { validity: 600, clockTolerance: 0 } },
      providers: [MiddlewareOnlyGateway],
      configure: (app) => app.useWebSocketAdapter(new IoAdapter(app)),
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

  async function open(accessToken: string): Promise<TestSocket> {
    const socket = connect('socket.io', port, { accessToken });
    sockets.push(socket);
    await socket.opened;
    return socket;
  }

  it('binds the socket at its handshake: a revocation closes it without any message sent', async () => {
    const created = await engine.createNewSession('gina', { role: 'admin' });
    const before = connections.size;
    const socket = await open(created.accessToken.value);
    expect(connections.size).toBe(before + 1);
    await engine.revokeSessionUsingSessionHandle(created.session.handle);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: revoked' });
    expect(connections.size).toBe(before);
  });

  it('checks every message after a session.refresh against the refreshed token', async () => {
    const created = await engine.createNewSession('hugo', { role: 'admin' });
    const socket = await open(created.accessToken.value);
    expect(await socket.request('admin')).toEqual({ ran: 'admin', userId: 'hugo' });
    await engine.mergeIntoAccessTokenPayload(created.session.handle, { role: 'user' });
    const refreshed = await engine.refreshSession(created.refreshToken.value);
    expect(await socket.request('session.refresh', { accessToken: refreshed.newAccessToken.value })).toEqual({
      expiresAt: expect.any(Number),
    });
    expect(await socket.request('admin')).toMatchObject({ status: 'error', type: 'INVALID_CLAIM' });
    expect(await socket.request('admin')).toMatchObject({ status: 'error', type: 'INVALID_CLAIM' });
  });
});

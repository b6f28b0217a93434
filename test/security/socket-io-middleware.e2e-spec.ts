import { UseGuards } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway, type OnGatewayInit } from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import { Session, SessionClaims, SessionConnections, SessionGuard, VerifySession } from '../../lib/index.js';
import { type TestSocket } from '../support/socket-clients.js';
import { useGatewayApp } from '../support/gateway-app.js';

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
  const ctx = useGatewayApp({
    adapter,
    kind: 'socket.io',
    providers: [MiddlewareOnlyGateway],
    validity: 600,
  });

  async function open(accessToken: string): Promise<TestSocket> {
    const socket = ctx.open({ accessToken });
    await socket.opened;
    return socket;
  }

  it('binds the socket at its handshake: a revocation closes it without any message sent', async () => {
    const created = await ctx.engine.createNewSession('gina', { role: 'admin' });
    const before = ctx.connections.size;
    const socket = await open(created.accessToken.value);
    expect(ctx.connections.size).toBe(before + 1);
    await ctx.engine.revokeSessionUsingSessionHandle(created.session.handle);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: revoked' });
    expect(ctx.connections.size).toBe(before);
  });

  it('checks every message after a session.refresh against the refreshed token', async () => {
    const created = await ctx.engine.createNewSession('hugo', { role: 'admin' });
    const socket = await open(created.accessToken.value);
    expect(await socket.request('admin')).toEqual({ ran: 'admin', userId: 'hugo' });
    await ctx.engine.mergeIntoAccessTokenPayload(created.session.handle, { role: 'user' });
    const refreshed = await ctx.engine.refreshSession(created.refreshToken.value);
    expect(await socket.request('session.refresh', { accessToken: refreshed.newAccessToken.value })).toEqual({
      expiresAt: expect.any(Number),
    });
    expect(await socket.request('admin')).toMatchObject({ status: 'error', type: 'INVALID_CLAIM' });
    expect(await socket.request('admin')).toMatchObject({ status: 'error', type: 'INVALID_CLAIM' });
  });
});

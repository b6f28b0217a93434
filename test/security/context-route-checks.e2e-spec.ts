import type { IncomingMessage } from 'node:http';
import { UseGuards } from '@nestjs/common';
import {
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayInit,
} from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import { Session, SessionClaims, SessionConnections, SessionGuard, VerifySession } from '../../lib/index.js';
import { type SocketKind, type TestSocket } from '../support/socket-clients.js';
import { useGatewayApp } from '../support/gateway-app.js';

// A gateway handler's @VerifySession({ allowImpersonation, fresh, claims }) must hold over a socket
// as on HTTP: an impersonating admin, a stale sign-in or a user without the claim is refused.

@WebSocketGateway({ path: '/ws' })
class CheckedGateway implements OnGatewayInit, OnGatewayConnection {
  constructor(private readonly connections: SessionConnections) {}

  afterInit(server: { use?: (middleware: unknown) => void }): void {
    server.use?.(this.connections.socketIoMiddleware());
  }

  handleConnection(client: object, request?: IncomingMessage): Promise<unknown> {
    return this.connections.accept(client, request);
  }

  @UseGuards(SessionGuard)
  @SubscribeMessage('whoami')
  whoami(@Session('userId') userId: string) {
    return { userId };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ allowImpersonation: false })
  @SubscribeMessage('no-impersonation')
  noImpersonation(@Session('userId') userId: string) {
    return { ran: 'no-impersonation', userId };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ fresh: 300 })
  @SubscribeMessage('fresh')
  fresh(@Session('userId') userId: string) {
    return { ran: 'fresh', userId };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ claims: [SessionClaims.equals('role', 'admin')] })
  @SubscribeMessage('admin')
  admin(@Session('userId') userId: string) {
    return { ran: 'admin', userId };
  }
}

const cases = (['express', 'fastify'] as const).flatMap((adapter) =>
  (['socket.io', 'ws'] as SocketKind[]).map((kind) => [adapter, kind] as const),
);

describe.each(cases)('gateway route checks on %s with %s', (adapter, kind) => {
  const ctx = useGatewayApp({ adapter, kind, providers: [CheckedGateway], validity: 600 });

  async function open(accessToken: string): Promise<TestSocket> {
    const socket = ctx.open({ accessToken });
    await socket.opened;
    await socket.request('whoami'); // bound (ws opens before its handshake is checked)
    return socket;
  }

  it('refuses an impersonation on an allowImpersonation: false handler', async () => {
    const created = await ctx.engine.createNewSession(
      'customer',
      { role: 'admin' },
      {},
      {
        impersonation: { actorUserId: 'support', ttl: 600 },
      },
    );
    const socket = await open(created.accessToken.value);
    expect(await socket.request('no-impersonation')).toMatchObject({
      status: 'error',
      type: 'IMPERSONATION_NOT_ALLOWED',
    });
  });

  it('refuses a session signed in longer ago than fresh allows', async () => {
    const created = await ctx.engine.createNewSession('dora', { role: 'admin' });
    const socket = await open(created.accessToken.value);
    expect(await socket.request('fresh')).toMatchObject({ ran: 'fresh' });
    ctx.http.clock.advance(301); // the access token (validity 600 s) is still good
    try {
      expect(await socket.request('fresh')).toMatchObject({ status: 'error', type: 'SESSION_NOT_FRESH' });
    } finally {
      ctx.http.clock.advance(-301);
    }
  });

  it('refuses a user without the claim, and follows the payload of a token refreshed over the socket', async () => {
    const user = await ctx.engine.createNewSession('eve', { role: 'user' });
    const socket = await open(user.accessToken.value);
    expect(await socket.request('admin')).toMatchObject({ status: 'error', type: 'INVALID_CLAIM' });

    const admin = await ctx.engine.createNewSession('frank', { role: 'admin' });
    const adminSocket = await open(admin.accessToken.value);
    expect(await adminSocket.request('admin')).toMatchObject({ ran: 'admin', userId: 'frank' });
    // Demoted: the next token of the session carries the new payload, and the socket follows it.
    await ctx.engine.mergeIntoAccessTokenPayload(admin.session.handle, { role: 'user' });
    const refreshed = await ctx.engine.refreshSession(admin.refreshToken.value);
    expect(
      await adminSocket.request('session.refresh', { accessToken: refreshed.newAccessToken.value }),
    ).toEqual({ expiresAt: expect.any(Number) });
    expect(await adminSocket.request('admin')).toMatchObject({ status: 'error', type: 'INVALID_CLAIM' });
  });
});

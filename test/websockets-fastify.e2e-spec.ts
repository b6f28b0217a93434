import { describe, expect, it } from 'vitest';
import { ANTI_CSRF_HEADER } from '../lib/index.js';
import { SessionGateway } from './fixtures/contexts.fixtures.js';
import { CookieJar } from './support/cookies.js';
import { type SocketKind } from './support/socket-clients.js';
import { useGatewayApp } from './support/gateway-app.js';

// Gateways on a Fastify host (the adapters attach to Fastify's own HTTP server): the handshake,
// a guarded message and the close on revocation, as on Express (test/websockets.e2e-spec.ts).

describe.each<SocketKind>(['socket.io', 'ws'])('WebSocket gateway with the %s adapter on Fastify', (kind) => {
  const ctx = useGatewayApp({ adapter: 'fastify', kind, providers: [SessionGateway] });
  const open = ctx.open;

  it('accepts a handshake with an access token and answers a guarded message with @Session()', async () => {
    const created = await ctx.engine.createNewSession('alice');
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    expect(await socket.request('whoami')).toEqual({ userId: 'alice', handle: created.session.handle });
  });

  it('accepts a handshake carrying the session cookies set by the Fastify login route', async () => {
    const login = await ctx.http.request.post('/login').send({ userId: 'bob' }).expect(200);
    const socket = open({ headers: { cookie: new CookieJar().store(login).header() } });
    await socket.opened;
    expect(await socket.request('whoami')).toMatchObject({ userId: 'bob' });
  });

  it('refuses a handshake with a forged access token: TRY_REFRESH_TOKEN', async () => {
    const created = await ctx.engine.createNewSession('carol');
    const socket = open({ accessToken: `${created.accessToken.value.slice(0, -4)}AAAA` });
    if (kind === 'socket.io') {
      await expect(socket.opened).rejects.toMatchObject({ type: 'TRY_REFRESH_TOKEN', statusCode: 401 });
    } else {
      expect(await socket.closed).toEqual({ code: 4401, reason: 'TRY_REFRESH_TOKEN' });
    }
  });

  it('closes the connection with 4403 and the reason when its session is revoked', async () => {
    const created = await ctx.engine.createNewSession('dave');
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    await socket.request('whoami');
    const before = ctx.connections.size;
    await ctx.engine.revokeSessionUsingSessionHandle(created.session.handle);
    expect(ctx.connections.size).toBe(before - 1);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: revoked' });
  });

  it('closes the connection of a session signed out over Fastify HTTP (cookies cleared, socket closed)', async () => {
    const login = await ctx.http.request.post('/login').send({ userId: 'erin' }).expect(200);
    const jar = new CookieJar().store(login);
    const socket = open({ headers: { cookie: jar.header() } });
    await socket.opened;
    await socket.request('whoami');
    await ctx.http.request
      .post('/logout')
      .set('cookie', jar.header())
      .set(ANTI_CSRF_HEADER, String(login.headers[ANTI_CSRF_HEADER]))
      .expect(200);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: signed-out' });
  });
});

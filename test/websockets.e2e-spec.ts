import { describe, expect, it } from 'vitest';
import { ANTI_CSRF_HEADER } from '../lib/index.js';
import { SessionGateway } from './fixtures/contexts.fixtures.js';
import { CookieJar } from './support/cookies.js';
import { sleep, type SocketKind } from './support/socket-clients.js';
import { useGatewayApp } from './support/gateway-app.js';

describe.each<SocketKind>(['socket.io', 'ws'])('WebSocket gateway with the %s adapter', (kind) => {
  const ctx = useGatewayApp({ adapter: 'express', kind, providers: [SessionGateway] });
  const open = ctx.open;

  async function signIn(userId: string, accessTokenValidity?: number) {
    return ctx.engine.createNewSession(userId, {}, {}, { accessTokenValidity });
  }

  it('accepts a handshake with an access token and answers a guarded message with @Session()', async () => {
    const created = await signIn('alice');
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    expect(await socket.request('whoami')).toEqual({ userId: 'alice', handle: created.session.handle });
  });

  it('accepts a handshake carrying the session cookies of a browser', async () => {
    const login = await ctx.http.request.post('/login').send({ userId: 'bob' }).expect(200);
    expect(login.headers[ANTI_CSRF_HEADER]).toBeDefined();
    const socket = open({ headers: { cookie: new CookieJar().store(login).header() } });
    await socket.opened;
    expect(await socket.request('whoami')).toMatchObject({ userId: 'bob' });
  });

  it('refuses a handshake with an expired or forged access token: TRY_REFRESH_TOKEN', async () => {
    const created = await signIn('carol');
    const forged = `${created.accessToken.value.slice(0, -4)}AAAA`;
    const socket = open({ accessToken: forged });
    if (kind === 'socket.io') {
      await expect(socket.opened).rejects.toMatchObject({ type: 'TRY_REFRESH_TOKEN', statusCode: 401 });
    } else {
      expect(await socket.closed).toEqual({ code: 4401, reason: 'TRY_REFRESH_TOKEN' });
    }
    expect(ctx.connections.size).toBe(0);
  });

  it('refuses a session cookie without sIdRefreshToken: UNAUTHORISED', async () => {
    const login = await ctx.http.request.post('/login').send({ userId: 'dan' }).expect(200);
    const cookie = new CookieJar().store(login).without('sIdRefreshToken').header();
    const socket = open({ headers: { cookie } });
    if (kind === 'socket.io') {
      await expect(socket.opened).rejects.toMatchObject({ type: 'UNAUTHORISED' });
    } else {
      expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED' });
    }
  });

  it('closes the connection with 4403 and the reason when its session is revoked', async () => {
    const created = await signIn('erin');
    const other = await signIn('erin');
    const socket = open({ accessToken: created.accessToken.value });
    const bystander = open({ accessToken: other.accessToken.value });
    await Promise.all([socket.opened, bystander.opened]);
    await Promise.all([socket.request('whoami'), bystander.request('whoami')]);
    const before = ctx.connections.size;
    await ctx.engine.revokeSessionUsingSessionHandle(created.session.handle);
    // Closed on this instance by the time the revocation returns (well within the 1 s bound).
    expect(ctx.connections.size).toBe(before - 1);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: revoked' });
    expect(await bystander.request('whoami')).toMatchObject({ userId: 'erin' });
  });

  it('closes every other connection of the user on "sign out everywhere else", then all on revoke-all', async () => {
    const kept = await signIn('frank');
    const other = await signIn('frank');
    const keptSocket = open({ accessToken: kept.accessToken.value });
    const otherSocket = open({ accessToken: other.accessToken.value });
    await Promise.all([keptSocket.opened, otherSocket.opened]);
    await Promise.all([keptSocket.request('whoami'), otherSocket.request('whoami')]);
    await ctx.engine.revokeOtherSessions('frank', kept.session.handle);
    expect(await otherSocket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: others-revoked' });
    expect(await keptSocket.request('whoami')).toMatchObject({ userId: 'frank' });
    await ctx.engine.revokeAllSessionsForUser('frank');
    expect(await keptSocket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: signed-out-everywhere' });
  });

  it('closes the connection with 4403 when refresh-token theft revokes its session', async () => {
    const created = await signIn('theo');
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    await socket.request('whoami');
    await ctx.engine.refreshSession(created.refreshToken.value);
    ctx.http.clock.advance(11); // past the grace period: the old refresh token is now a stolen one
    try {
      await expect(ctx.engine.refreshSession(created.refreshToken.value)).rejects.toMatchObject({
        type: 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED',
      });
    } finally {
      ctx.http.clock.advance(-11);
    }
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: theft' });
  });

  it('closes the connection when the bus reports a revocation made elsewhere (closeSessions)', async () => {
    const created = await signIn('gina');
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    await socket.request('whoami'); // bound once a guarded message is answered (ws opens first)
    expect(ctx.connections.closeSessions({ userId: 'gina', reason: 'admin' })).toBe(1);
    expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: admin' });
  });

  it('closes with 4401 TRY_REFRESH_TOKEN when its access token expires', async () => {
    const created = await signIn('hank', 1);
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    expect(await socket.closed).toEqual({ code: 4401, reason: 'TRY_REFRESH_TOKEN' });
    expect(ctx.connections.size).toBe(0);
  });

  it('stays open past the expiry when a refreshed access token is sent over it', async () => {
    const start = Date.now();
    const created = await signIn('ivy', 2);
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    const deadline = start + (created.accessToken.expires - ctx.http.clock.now());
    // Shortly before the first token expires, the client refreshes and sends the new token.
    await sleep(deadline - Date.now() - 400);
    ctx.http.clock.advance((Date.now() - start) / 1000);
    const refreshed = await ctx.engine.refreshSession(created.refreshToken.value);
    const answer = await socket.request('session.refresh', { accessToken: refreshed.newAccessToken.value });
    expect(answer).toEqual({ expiresAt: refreshed.newAccessToken.expires });
    expect(answer.expiresAt).toBeGreaterThan(created.accessToken.expires);
    await sleep(deadline - Date.now() + 200);
    expect(socket.isOpen()).toBe(true);
    expect(await socket.request('whoami')).toMatchObject({ userId: 'ivy' });
    expect(await socket.closed).toEqual({ code: 4401, reason: 'TRY_REFRESH_TOKEN' });
  });

  it("refuses a refreshed token of another session and keeps the connection's own", async () => {
    const created = await signIn('jack');
    const stranger = await signIn('kate');
    const socket = open({ accessToken: created.accessToken.value });
    await socket.opened;
    const answer = await socket.request('session.refresh', { accessToken: stranger.accessToken.value });
    expect(answer).toMatchObject({ status: 'error', type: 'UNAUTHORISED' });
    expect(await socket.request('whoami')).toMatchObject({ userId: 'jack' });
  });

  if (kind === 'ws') {
    it('authenticates a connection without credentials by its first session.refresh message', async () => {
      const created = await signIn('liam');
      const socket = open({});
      await socket.opened;
      expect(await socket.request('whoami')).toMatchObject({ status: 'error', type: 'UNAUTHORISED' });
      const answer = await socket.request('session.refresh', { accessToken: created.accessToken.value });
      expect(answer).toEqual({ expiresAt: created.accessToken.expires });
      expect(await socket.request('whoami')).toMatchObject({ userId: 'liam' });
    });
  } else {
    it('refuses a handshake without credentials with UNAUTHORISED', async () => {
      const socket = open({});
      await expect(socket.opened).rejects.toMatchObject({ type: 'UNAUTHORISED', statusCode: 401 });
    });
  }
});

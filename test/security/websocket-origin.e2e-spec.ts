import { describe, expect, it } from 'vitest';
import { SessionGateway } from '../fixtures/contexts.fixtures.js';
import { CookieJar } from '../support/cookies.js';
import { type SocketKind } from '../support/socket-clients.js';
import { useGatewayApp } from '../support/gateway-app.js';

// Cross-site WebSocket hijacking: a browser sends the session cookies with any page's WebSocket
// upgrade, and no anti-csrf header can ride along. A cookie-authenticated upgrade from another
// origin must be refused, as a cross-site POST without the anti-csrf header is on HTTP.

const cases = (['express', 'fastify'] as const).flatMap((adapter) =>
  (['socket.io', 'ws'] as SocketKind[]).map((kind) => [adapter, kind] as const),
);

describe.each(cases)('WebSocket upgrade Origin on %s with %s', (adapter, kind) => {
  const ctx = useGatewayApp({ adapter, kind, providers: [SessionGateway] });
  const open = ctx.open;

  async function browserCookies(userId: string): Promise<string> {
    const login = await ctx.http.request.post('/login').send({ userId }).expect(200);
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
      expect(ctx.connections.size).toBe(0);
    },
  );

  it('accepts the session cookies of an upgrade from its own origin, and of a client sending no Origin', async () => {
    const cookie = await browserCookies('alice');
    const sameOrigin = open({ headers: { cookie, origin: `http://127.0.0.1:${ctx.port}` } });
    await sameOrigin.opened;
    expect(await sameOrigin.request('whoami')).toMatchObject({ userId: 'alice' });
    const noOrigin = open({ headers: { cookie } });
    await noOrigin.opened;
    expect(await noOrigin.request('whoami')).toMatchObject({ userId: 'alice' });
  });

  it('accepts an access token sent explicitly from another origin (no ambient credential)', async () => {
    const created = await ctx.engine.createNewSession('bob');
    const socket = open({
      accessToken: created.accessToken.value,
      headers: { origin: 'https://app.example' },
    });
    await socket.opened;
    expect(await socket.request('whoami')).toMatchObject({ userId: 'bob' });
  });
});

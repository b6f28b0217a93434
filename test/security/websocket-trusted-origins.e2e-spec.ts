import { beforeEach, describe, expect, it } from 'vitest';
import { SessionGateway } from '../fixtures/contexts.fixtures.js';
import { CookieJar } from '../support/cookies.js';
import { sleep, type SocketKind, type TestSocket } from '../support/socket-clients.js';
import { useGatewayApp } from '../support/gateway-app.js';

// `trustedOrigins`: an SPA at https://app.example.com whose API and sockets live on another origin
// may authenticate its sockets by the session cookies; every other origin is still refused, as
// without the option (cross-site WebSocket hijacking, RFC 6455 §10.2).

const cases = (['express', 'fastify'] as const).flatMap((adapter) =>
  (['socket.io', 'ws'] as SocketKind[]).map((kind) => [adapter, kind] as const),
);

const PREVIEW = /^https:\/\/pr-\d+\.preview\.example\.com$/;

describe.each(cases)('trustedOrigins for cookie-authenticated upgrades on %s with %s', (adapter, kind) => {
  /** Every origin the app's function was asked about. */
  const asked: string[] = [];
  const ctx = useGatewayApp({
    adapter,
    kind,
    providers: [SessionGateway],
    options: {
      trustedOrigins: [
        'https://app.example.com',
        'HTTP://LocalHost:5173/',
        (origin) => (asked.push(origin), PREVIEW.test(origin)),
      ],
    },
  });

  // The previous test's sockets are closed by the client: start once the server has let them go,
  // so that a refusal can be checked as "nothing bound".
  beforeEach(async () => {
    while (ctx.connections.size > 0) await sleep(10);
  });

  async function browserCookies(userId: string): Promise<string> {
    const login = await ctx.http.request.post('/login').send({ userId }).expect(200);
    return new CookieJar().store(login).header();
  }

  async function expectAccepted(socket: TestSocket, userId: string): Promise<void> {
    await socket.opened;
    expect(await socket.request('whoami')).toMatchObject({ userId });
  }

  async function expectRefused(socket: TestSocket): Promise<void> {
    if (kind === 'socket.io') {
      await expect(socket.opened).rejects.toMatchObject({ type: 'UNAUTHORISED' });
    } else {
      expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED' });
    }
    expect(ctx.connections.size).toBe(0);
  }

  it.each(['https://app.example.com', 'http://localhost:5173'])(
    'accepts the session cookies of an upgrade from the trusted origin %s',
    async (origin) => {
      const cookie = await browserCookies('alice');
      await expectAccepted(ctx.open({ headers: { cookie, origin } }), 'alice');
    },
  );

  it('compares origins after normalisation: scheme and host case, default port', async () => {
    const cookie = await browserCookies('carol');
    await expectAccepted(ctx.open({ headers: { cookie, origin: 'HTTPS://App.Example.COM:443' } }), 'carol');
  });

  it('still accepts its own origin and a client sending no Origin', async () => {
    const cookie = await browserCookies('dave');
    await expectAccepted(ctx.open({ headers: { cookie, origin: `http://127.0.0.1:${ctx.port}` } }), 'dave');
    await expectAccepted(ctx.open({ headers: { cookie } }), 'dave');
  });

  it('accepts an origin the trustedOrigins function trusts, and refuses one it does not', async () => {
    const cookie = await browserCookies('erin');
    await expectRefused(
      ctx.open({ headers: { cookie, origin: 'https://pr-42.preview.example.com.evil.example' } }),
    );
    await expectAccepted(
      ctx.open({ headers: { cookie, origin: 'https://pr-42.preview.example.com' } }),
      'erin',
    );
  });

  it.each([
    'https://evil.example',
    // Another scheme or port is another origin.
    'http://app.example.com',
    'https://app.example.com:8443',
    'https://localhost:5173',
    'http://localhost:5174',
    // A lookalike that merely starts with a trusted origin.
    'https://app.example.com.evil.example',
  ])(
    'refuses the session cookies of an upgrade from the untrusted origin %s: UNAUTHORISED',
    async (origin) => {
      const cookie = await browserCookies('victim');
      await expectRefused(ctx.open({ headers: { cookie, origin } }));
    },
  );

  it('refuses Origin: null (sandboxed frames, file: pages) without asking the function', async () => {
    const cookie = await browserCookies('victim');
    asked.length = 0;
    await expectRefused(ctx.open({ headers: { cookie, origin: 'null' } }));
    expect(asked).toEqual([]);
  });

  it('accepts a Bearer access token from any origin, as without the option (no cookie, no hijacking)', async () => {
    const created = await ctx.engine.createNewSession('frank');
    const socket = ctx.open({
      headers: { authorization: `Bearer ${created.accessToken.value}`, origin: 'https://evil.example' },
    });
    await expectAccepted(socket, 'frank');
  });
});

import { beforeEach, describe, expect, it } from 'vitest';
import { SessionGateway } from '../fixtures/contexts.fixtures.js';
import { CookieJar } from '../support/cookies.js';
import type { GatewayApp } from '../support/gateway-app.js';
import { useGatewayApp } from '../support/gateway-app.js';
import { sleep, type SocketKind, type TestSocket } from '../support/socket-clients.js';

// Cross-site socket hijacking by the ways a browser sends the session cookies without an Origin
// header the server could judge: Engine.IO's JSONP polling is a `<script src>` any page can add
// (its answers are read back by more scripts), and a plain http: page on the API's host is another
// origin than the https: API whose cookies are Secure.

const ADAPTERS = ['express', 'fastify'] as const;
const UPGRADE_CASES = ADAPTERS.flatMap((adapter) =>
  (['socket.io', 'ws'] as SocketKind[]).map((kind) => [adapter, kind] as const),
);

/** The Fetch Metadata a browser sends with another site's `<script src>`. */
const SCRIPT_FROM_ANOTHER_SITE = {
  'sec-fetch-site': 'same-site',
  'sec-fetch-mode': 'no-cors',
  'sec-fetch-dest': 'script',
};

async function browserCookies(ctx: GatewayApp, userId: string): Promise<string> {
  const login = await ctx.http.request.post('/login').send({ userId }).expect(200);
  return new CookieJar().store(login).header();
}

/** Engine.IO v4 long polling at `/ws`, as a page's `<script src>` (JSONP) or a fetch drives it. */
interface Polling {
  /** Sends Engine.IO message packets (socket.io packets: `40` CONNECT, `42…` EVENT). */
  send(...packets: string[]): Promise<void>;
  /** The next Engine.IO packets for this client (a long poll: waits until there are some). */
  read(): Promise<string[]>;
}

async function polling(
  ctx: GatewayApp,
  { jsonp, headers }: { jsonp: boolean; headers: Record<string, string> },
): Promise<Polling> {
  const base = `http://127.0.0.1:${ctx.port}/ws/?EIO=4&transport=polling${jsonp ? '&j=0' : ''}`;
  const payload = async (response: Response): Promise<string[]> => {
    expect(response.status).toBe(200);
    const text = await response.text();
    // JSONP: `___eio[0]("<payload>");`, a script that hands the payload to the page.
    const body = jsonp ? (JSON.parse(/^___eio\[0\]\((.*)\);$/s.exec(text)![1]!) as string) : text;
    return body.split('\x1e');
  };
  const [handshake] = await payload(await fetch(base, { headers }));
  expect(handshake).toMatch(/^0\{/);
  const url = `${base}&sid=${(JSON.parse(handshake!.slice(1)) as { sid: string }).sid}`;
  return {
    async send(...packets) {
      const data = packets.map((packet) => `4${packet}`).join('\x1e');
      // Later requests need no cookie: the sid is the connection. A page posts them with a form.
      const response = await fetch(url, {
        method: 'POST',
        headers: jsonp
          ? { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' }
          : { 'content-type': 'text/plain;charset=UTF-8' },
        body: jsonp ? new URLSearchParams({ d: data }).toString() : data,
      });
      expect(response.status).toBe(200);
      await response.text();
    },
    read: async () => payload(await fetch(url)),
  };
}

/** CONNECTs the default namespace: the server's answer, `40{"sid"…}` or `44{…}` (connect_error). */
async function connectAnswer(client: Polling, auth?: object): Promise<string> {
  await client.send(auth === undefined ? '0' : `0${JSON.stringify(auth)}`);
  const [answer] = await client.read();
  return answer!;
}

/** Asks the guarded `whoami` over a connected polling client: the acknowledged answer. */
async function whoami(client: Polling): Promise<unknown> {
  await client.send('21["whoami",{}]');
  for (;;) {
    const ack = (await client.read()).find((packet) => packet.startsWith('431'));
    if (ack !== undefined) return (JSON.parse(ack.slice(3)) as unknown[])[0];
  }
}

function expectConnectError(answer: string, type: string): void {
  expect(answer.slice(0, 2)).toBe('44');
  expect(JSON.parse(answer.slice(2))).toMatchObject({ message: type, data: { type } });
}

describe.each(ADAPTERS)('session cookies over socket.io long polling without Origin on %s', (adapter) => {
  const ctx = useGatewayApp({
    adapter,
    kind: 'socket.io',
    providers: [SessionGateway],
    options: { trustedOrigins: ['https://app.example.com'] },
  });

  it.each([
    ['with the Fetch Metadata of a script', SCRIPT_FROM_ANOTHER_SITE],
    ['without Fetch Metadata (older browsers)', {}],
  ])(
    'refuses them on a JSONP handshake (any page’s <script src>) %s: connect_error UNAUTHORISED, no event runs',
    async (_, fetchMetadata) => {
      const cookie = await browserCookies(ctx, 'victim');
      const client = await polling(ctx, { jsonp: true, headers: { cookie, ...fetchMetadata } });
      expectConnectError(await connectAnswer(client), 'UNAUTHORISED');
      // An event of a namespace never connected goes unanswered: Engine.IO closes the connection.
      await client.send('21["whoami",{}]');
      const answers = await client.read();
      expect(answers.at(-1)).toBe('1');
      expect(answers.filter((packet) => packet.startsWith('43'))).toEqual([]);
    },
  );

  it('refuses them when the Fetch Metadata says cross-site: connect_error UNAUTHORISED', async () => {
    const cookie = await browserCookies(ctx, 'victim');
    const client = await polling(ctx, {
      jsonp: false,
      headers: {
        cookie,
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'cors',
        'sec-fetch-dest': 'empty',
      },
    });
    expectConnectError(await connectAnswer(client), 'UNAUTHORISED');
  });

  it('accepts them from a client sending no Fetch Metadata (not a browser)', async () => {
    const cookie = await browserCookies(ctx, 'alice');
    const client = await polling(ctx, { jsonp: false, headers: { cookie } });
    expect(await connectAnswer(client)).toMatch(/^40\{"sid"/);
    expect(await whoami(client)).toMatchObject({ userId: 'alice' });
  });

  it('accepts them from the page’s own origin (sec-fetch-site: same-origin, sec-fetch-dest: empty)', async () => {
    const cookie = await browserCookies(ctx, 'bob');
    const client = await polling(ctx, {
      jsonp: false,
      headers: {
        cookie,
        'sec-fetch-site': 'same-origin',
        'sec-fetch-mode': 'cors',
        'sec-fetch-dest': 'empty',
      },
    });
    expect(await connectAnswer(client)).toMatch(/^40\{"sid"/);
    expect(await whoami(client)).toMatchObject({ userId: 'bob' });
  });

  it('still accepts an explicit access token over JSONP: auth.accessToken of the CONNECT (no cookie to ride on)', async () => {
    const created = await ctx.engine.createNewSession('carol');
    const client = await polling(ctx, { jsonp: true, headers: SCRIPT_FROM_ANOTHER_SITE });
    expect(await connectAnswer(client, { accessToken: created.accessToken.value })).toMatch(/^40\{"sid"/);
    expect(await whoami(client)).toMatchObject({ userId: 'carol' });
  });

  it('still accepts an Authorization: Bearer header over JSONP (a <script> cannot send one)', async () => {
    const created = await ctx.engine.createNewSession('dave');
    const client = await polling(ctx, {
      jsonp: true,
      headers: { authorization: `Bearer ${created.accessToken.value}` },
    });
    expect(await connectAnswer(client)).toMatch(/^40\{"sid"/);
    expect(await whoami(client)).toMatchObject({ userId: 'dave' });
  });
});

function expectations(ctx: GatewayApp, kind: SocketKind) {
  return {
    async accepted(socket: TestSocket, userId: string): Promise<void> {
      await socket.opened;
      expect(await socket.request('whoami')).toMatchObject({ userId });
    },
    async refused(socket: TestSocket): Promise<void> {
      if (kind === 'socket.io') {
        await expect(socket.opened).rejects.toMatchObject({ type: 'UNAUTHORISED' });
      } else {
        // Were it accepted, the guarded handler would answer as the victim before any close.
        const answer = socket.opened.then(() => socket.request('whoami'));
        expect(await Promise.race([socket.closed, answer])).not.toHaveProperty('userId');
        expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED' });
      }
      expect(ctx.connections.size).toBe(0);
    },
  };
}

describe.each(UPGRADE_CASES)(
  'session cookies of an upgrade, Secure cookies, on %s with %s',
  (adapter, kind) => {
    const ctx = useGatewayApp({
      adapter,
      kind,
      providers: [SessionGateway],
      options: { cookie: { secure: true, sameSite: 'none' } },
    });
    const expect$ = expectations(ctx, kind);

    // The previous test's sockets are closed by the client: start once the server has let them go,
    // so that a refusal can be checked as "nothing bound".
    beforeEach(async () => {
      while (ctx.connections.size > 0) await sleep(10);
    });

    it('refuses them without Origin when the Fetch Metadata says cross-site: UNAUTHORISED', async () => {
      const cookie = await browserCookies(ctx, 'victim');
      const headers = { cookie, 'sec-fetch-site': 'cross-site', 'sec-fetch-dest': 'websocket' };
      await expect$.refused(ctx.open({ headers }));
    });

    it('accepts them without Origin from its own origin (sec-fetch-site: same-origin, sec-fetch-dest: websocket)', async () => {
      const cookie = await browserCookies(ctx, 'alice');
      const headers = { cookie, 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'websocket' };
      await expect$.accepted(ctx.open({ headers }), 'alice');
    });

    it('refuses them from http://api.example.com, not the own origin of an https API at api.example.com', async () => {
      const cookie = await browserCookies(ctx, 'victim');
      const headers = { cookie, host: 'api.example.com', origin: 'http://api.example.com' };
      await expect$.refused(ctx.open({ headers }));
    });

    it('accepts them from https://api.example.com, its own origin', async () => {
      const cookie = await browserCookies(ctx, 'bob');
      const headers = { cookie, host: 'api.example.com', origin: 'https://api.example.com' };
      await expect$.accepted(ctx.open({ headers }), 'bob');
    });

    it.each(['127.0.0.1', 'localhost'])(
      'accepts them from an http: page on the loopback host %s (development)',
      async (hostname) => {
        const cookie = await browserCookies(ctx, 'carol');
        const host = `${hostname}:${ctx.port}`;
        await expect$.accepted(ctx.open({ headers: { cookie, host, origin: `http://${host}` } }), 'carol');
      },
    );
  },
);

describe.each(UPGRADE_CASES)(
  'session cookies of an upgrade, cookies not Secure, on %s with %s',
  (adapter, kind) => {
    const ctx = useGatewayApp({
      adapter,
      kind,
      providers: [SessionGateway],
      options: { cookie: { secure: false } },
    });

    it('accepts them from http://api.example.com, the own origin of an http API at api.example.com', async () => {
      const cookie = await browserCookies(ctx, 'dave');
      const socket = ctx.open({
        headers: { cookie, host: 'api.example.com', origin: 'http://api.example.com' },
      });
      await expectations(ctx, kind).accepted(socket, 'dave');
    });
  },
);

import type { AddressInfo } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionEngine } from '../lib/index.js';
import { CodeFirstResolver, notes, subscribers } from './fixtures/contexts.fixtures.js';
import { CookieJar } from './support/cookies.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { graphqlWsModule } from './support/graphql-ws-module.js';
import { createHttpApp, type AdapterKind, type HttpApp } from './support/http-app.js';
import { sleep } from './support/socket-clients.js';

interface Subscriber {
  client: Client;
  /** The notes received. */
  received: string[];
  /** The first error of the subscription (a close event or GraphQL errors). */
  failed: Promise<unknown>;
  /** The close of the connection: code and reason. */
  closed: Promise<{ code: number; reason: string }>;
}

describe.each<[AdapterKind, string]>([
  ['express', 'Apollo'],
  ['fastify', 'Mercurius'],
])('GraphQL subscriptions over graphql-ws on %s (%s)', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;
  let engine: SessionEngine;
  let url: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: {
        accessToken: { validity: 60, clockTolerance: 0 },
        trustedOrigins: ['https://app.example.com'],
      },
      imports: [graphqlWsModule(adapter)],
      providers: [CodeFirstResolver],
    });
    await http.app.listen(0, '127.0.0.1');
    url = `ws://127.0.0.1:${(http.app.getHttpServer().address() as AddressInfo).port}/graphql`;
    engine = http.app.get(SessionEngine);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.dispose();
    // The server ends a disposed client's subscription a moment later: start each test with none,
    // so that live(n) counts this test's subscriptions only.
    while (notes.count > 0) await sleep(10);
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  function subscribe(options: { accessToken?: string; cookie?: string; origin?: string }): Subscriber {
    const headers = {
      ...(options.cookie === undefined ? {} : { cookie: options.cookie }),
      ...(options.origin === undefined ? {} : { origin: options.origin }),
    };
    let closed!: (event: { code: number; reason: string }) => void;
    const client = createClient({
      url,
      retryAttempts: 0,
      // Without a token, connection_init carries no payload at all.
      connectionParams: options.accessToken === undefined ? undefined : { accessToken: options.accessToken },
      webSocketImpl: class extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          super(address, protocols, { headers });
        }
      },
      on: {
        closed: (event) => {
          const { code, reason } = event as { code: number; reason: unknown };
          closed({ code, reason: String(reason) });
        },
      },
    });
    clients.push(client);
    const received: string[] = [];
    const failed = new Promise((resolve) => {
      client.subscribe<{ notes: string }>(
        { query: 'subscription { notes }' },
        {
          next: ({ data, errors }) => (errors ? resolve(errors) : received.push(data!.notes)),
          error: resolve,
          complete: () => {},
        },
      );
    });
    return { client, received, failed, closed: new Promise((resolve) => (closed = resolve)) };
  }

  /** Waits until `count` subscriptions are live on the server. */
  async function live(count: number): Promise<void> {
    while (notes.count < count) await sleep(10);
  }

  it('authenticates at connection_init with the payload token; @Session() works in the subscription', async () => {
    const created = await engine.createNewSession('alice');
    const subscriber = subscribe({ accessToken: created.accessToken.value });
    await live(1);
    expect(subscribers).toContain('alice');
    notes.publish('first');
    while (subscriber.received.length === 0) await sleep(10);
    expect(subscriber.received).toEqual(['first']);
  });

  it("authenticates by the upgrade request's session cookies", async () => {
    const login = await http.request.post('/login').send({ userId: 'bob' }).expect(200);
    const subscriber = subscribe({ cookie: new CookieJar().store(login).header() });
    await live(1);
    expect(subscribers).toContain('bob');
    notes.publish('hello bob');
    while (subscriber.received.length === 0) await sleep(10);
    expect(subscriber.received).toEqual(['hello bob']);
  });

  it('authenticates by the session cookies of an upgrade from a trusted origin (trustedOrigins)', async () => {
    const login = await http.request.post('/login').send({ userId: 'grace' }).expect(200);
    const cookie = new CookieJar().store(login).header();
    subscribe({ cookie, origin: 'https://APP.example.com:443' });
    await live(1);
    expect(subscribers).toContain('grace');
  });

  it('refuses the session cookies of an upgrade from an untrusted origin: closed with 4403 UNAUTHORISED', async () => {
    const login = await http.request.post('/login').send({ userId: 'victim' }).expect(200);
    const cookie = new CookieJar().store(login).header();
    const subscriber = subscribe({ cookie, origin: 'https://app.example.com:8443' });
    expect(await subscriber.closed).toMatchObject({ code: 4403, reason: 'UNAUTHORISED' });
    expect(notes.count).toBe(0);
  });

  it('refuses a connection without a session: closed with 4403 UNAUTHORISED', async () => {
    const subscriber = subscribe({});
    expect(await subscriber.closed).toMatchObject({ code: 4403, reason: 'UNAUTHORISED' });
    expect(notes.count).toBe(0);
  });

  it('refuses an invalid token: closed with 4401 TRY_REFRESH_TOKEN', async () => {
    const subscriber = subscribe({ accessToken: 'not-a-token' });
    expect(await subscriber.closed).toMatchObject({ code: 4401, reason: 'TRY_REFRESH_TOKEN' });
  });

  it('keeps a subscription open past its expiry when a ping carries a refreshed access token', async () => {
    const start = Date.now();
    const created = await engine.createNewSession('dora', {}, {}, { accessTokenValidity: 2 });
    const deadline = start + (created.accessToken.expires - http.clock.now());
    // graphql-ws on the wire (its client cannot put a payload on a ping).
    const socket = new WebSocket(url, 'graphql-transport-ws');
    const messages: { type: string; payload?: unknown }[] = [];
    socket.on('message', (raw) => messages.push(JSON.parse(String(raw))));
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
    await new Promise((resolve) => socket.once('open', resolve));
    const send = (message: object) => socket.send(JSON.stringify(message));
    send({ type: 'connection_init', payload: { accessToken: created.accessToken.value } });
    while (!messages.some((message) => message.type === 'connection_ack')) await sleep(10);
    // Bound to its session by now (Apollo) or at its first guarded subscription (Mercurius).
    send({ id: '1', type: 'subscribe', payload: { query: 'subscription { notes }' } });
    await live(1);
    await sleep(deadline - Date.now() - 400);
    http.clock.advance((Date.now() - start) / 1000);
    const refreshed = await engine.refreshSession(created.refreshToken.value);
    send({ type: 'ping', payload: { accessToken: refreshed.newAccessToken.value } });
    while (!messages.some((message) => message.type === 'pong')) await sleep(10);
    await sleep(deadline - Date.now() + 200);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    expect(await closed).toEqual({ code: 4401, reason: 'TRY_REFRESH_TOKEN' });
  });

  it('ends the subscription when its session is revoked: closed with 4403 and the reason', async () => {
    const created = await engine.createNewSession('carol');
    const subscriber = subscribe({ accessToken: created.accessToken.value });
    await live(1);
    await engine.revokeSessionUsingSessionHandle(created.session.handle);
    expect(await subscriber.closed).toMatchObject({ code: 4403, reason: 'UNAUTHORISED: revoked' });
    notes.publish('too late');
    await sleep(100); // what a still-open subscription would have delivered by now
    expect(subscriber.received).toEqual([]);
  });
});

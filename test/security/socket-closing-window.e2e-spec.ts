import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Injectable, UseGuards, type ExecutionContext } from '@nestjs/common';
import { Query, Resolver, Subscription } from '@nestjs/graphql';
import { SubscribeMessage, WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, SessionConnections, SessionEngine, SessionGuard } from '../../lib/index.js';
import { notes } from '../fixtures/contexts.fixtures.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { graphqlWsModule } from '../support/graphql-ws-module.js';
import { createHttpApp, type AdapterKind, type HttpApp } from '../support/http-app.js';
import type { SocketKind } from '../support/socket-clients.js';
import { useGatewayApp } from '../support/gateway-app.js';

// `ws` keeps a connection whose peer never answers the close frame in CLOSING for 30 s and still
// emits its messages: a revoked or expired session's holder could go on sending guarded messages.

/** What the guarded handlers did: the users they ran as, and SessionGuard's refusals, in order. */
const performed: string[] = [];
const refused: string[] = [];
let settled: (() => void) | undefined;

/** Resolves once the guard has decided `count` messages since the last call. */
function decided(count: number): Promise<void> {
  performed.length = 0;
  refused.length = 0;
  return new Promise((resolve) => {
    settled = () => {
      if (performed.length + refused.length >= count) resolve();
    };
  });
}

function record(list: string[], value: string): void {
  list.push(value);
  settled?.();
}

/** The session error type a context error carries (`WsException` payload, GraphQL `extensions.code`). */
function failureType(error: unknown): string {
  const { getError, extensions } = error as {
    getError?: () => { type?: string };
    extensions?: { code?: string };
  };
  return String(getError?.call(error).type ?? extensions?.code ?? error);
}

/** SessionGuard, reporting its refusals (a peer in CLOSING cannot receive them). */
@Injectable()
class RecordingSessionGuard extends SessionGuard {
  protected override async canActivateContext(context: ExecutionContext): Promise<boolean> {
    try {
      return await super.canActivateContext(context);
    } catch (error) {
      record(refused, failureType(error));
      throw error;
    }
  }
}

@WebSocketGateway({ path: '/ws' })
class TransferGateway implements OnGatewayConnection {
  constructor(private readonly connections: SessionConnections) {}

  handleConnection(client: object, request?: IncomingMessage): Promise<unknown> {
    return this.connections.accept(client, request);
  }

  @UseGuards(RecordingSessionGuard)
  @SubscribeMessage('transfer')
  transfer(@Session('userId') userId: string) {
    record(performed, userId);
    return { ok: true };
  }
}

@Resolver()
class TransferResolver {
  @Query(() => String)
  ping(): string {
    return 'pong';
  }

  @UseGuards(RecordingSessionGuard)
  @Subscription(() => String, { resolve: (payload: string) => payload })
  transfers(@Session('userId') userId: string): AsyncIterableIterator<string> {
    record(performed, userId);
    return notes.subscribe();
  }
}

/** One masked client text frame (RFC 6455 §5.2). */
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = crypto.randomBytes(4);
  const length =
    payload.length < 126
      ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([length, mask, Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!))]);
}

/** A WebSocket peer on a bare TCP socket: it sends frames and never answers a close frame. */
interface StubbornPeer {
  /** Resolves once the server has answered the upgrade with 101. */
  upgraded: Promise<void>;
  /** Resolves once the server has sent a close frame (opcode 0x8): the connection is CLOSING. */
  closing: Promise<void>;
  /** Resolves once the server has sent a text frame containing `marker`. */
  received(marker: string): Promise<void>;
  send(message: unknown): void;
  destroy(): void;
}

function stubbornPeer(port: number, path: string, headers: Record<string, string>): StubbornPeer {
  const socket = net.connect(port, '127.0.0.1');
  let bytes = Buffer.alloc(0);
  const watchers = new Set<() => void>();
  const until = (seen: (bytes: Buffer) => boolean) =>
    new Promise<void>((resolve) => {
      const watcher = () => seen(bytes) && (watchers.delete(watcher), resolve());
      watchers.add(watcher);
      watcher();
    });
  socket.on('data', (chunk) => {
    bytes = Buffer.concat([bytes, chunk]);
    for (const watcher of watchers) watcher();
  });
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
      `${extra}\r\n`,
  );
  const body = () => bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
  return {
    upgraded: until((all) => all.includes('\r\n\r\n') && all.toString('latin1').startsWith('HTTP/1.1 101')),
    // Server frames are unmasked and small here: a close frame starts with 0x88.
    closing: until((all) => all.includes('\r\n\r\n') && body().includes(Buffer.from([0x88]))),
    received: (marker) => until((all) => all.includes(marker)),
    send: (message) => socket.write(frame(JSON.stringify(message))),
    destroy: () => socket.destroy(),
  };
}

describe.each(['express', 'fastify'] as const)(
  'a ws peer that never answers the close frame on %s',
  (adapter) => {
    const ctx = useGatewayApp({ adapter, kind: 'ws', providers: [TransferGateway, RecordingSessionGuard] });
    const peers: StubbornPeer[] = [];

    afterAll(() => {
      for (const peer of peers) peer.destroy();
    });

    async function connected(userId: string) {
      const created = await ctx.engine.createNewSession(userId);
      const peer = stubbornPeer(ctx.port, '/ws', { authorization: `Bearer ${created.accessToken.value}` });
      peers.push(peer);
      await peer.upgraded;
      const first = decided(1);
      peer.send({ event: 'transfer', data: {} });
      await first;
      expect(performed).toEqual([userId]);
      return { created, peer };
    }

    it('performs no guarded message once its session was revoked (connection left in CLOSING)', async () => {
      const { created, peer } = await connected('victim');
      await ctx.engine.revokeSessionUsingSessionHandle(created.session.handle);
      await peer.closing;
      const after = decided(3);
      for (let i = 0; i < 3; i++) peer.send({ event: 'transfer', data: {} });
      await after;
      expect(performed).toEqual([]);
      expect(refused).toEqual(['UNAUTHORISED', 'UNAUTHORISED', 'UNAUTHORISED']);
    });
  },
);

const expiryCases = (['express', 'fastify'] as const).flatMap((adapter) =>
  (['ws', 'socket.io'] as SocketKind[]).map((kind) => [adapter, kind] as const),
);

describe.each(expiryCases)('a connection past its access token expiry on %s with %s', (adapter, kind) => {
  const ctx = useGatewayApp({ adapter, kind, providers: [TransferGateway, RecordingSessionGuard] });

  it('performs no guarded message before its expiry close reaches it: TRY_REFRESH_TOKEN', async () => {
    const created = await ctx.engine.createNewSession('expiring');
    const socket = ctx.open({ accessToken: created.accessToken.value });
    await socket.opened;
    expect(await socket.request('transfer')).toEqual({ ok: true });
    // The session clock jumps past the token's expiry before the connection's close timer fires.
    ctx.http.clock.advance(61);
    const after = decided(1);
    expect(await socket.request('transfer')).toMatchObject({ status: 'error', type: 'TRY_REFRESH_TOKEN' });
    await after;
    expect(performed).toEqual([]);
  });
});

describe.each<[AdapterKind, string]>([
  ['express', 'Apollo'],
  ['fastify', 'Mercurius'],
])('a graphql-ws peer that never answers the close frame on %s (%s)', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;
  let engine: SessionEngine;
  let port: number;
  const peers: StubbornPeer[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { accessToken: { validity: 60, clockTolerance: 0 } },
      imports: [graphqlWsModule(adapter)],
      providers: [TransferResolver, RecordingSessionGuard],
    });
    await http.app.listen(0, '127.0.0.1');
    port = (http.app.getHttpServer().address() as AddressInfo).port;
    engine = http.app.get(SessionEngine);
  });
  afterAll(async () => {
    for (const peer of peers) peer.destroy();
    await http?.close();
    await db?.drop();
  });

  it('starts no guarded subscription once its session was revoked (connection left in CLOSING)', async () => {
    const created = await engine.createNewSession('victim');
    const peer = stubbornPeer(port, '/graphql', { 'sec-websocket-protocol': 'graphql-transport-ws' });
    peers.push(peer);
    await peer.upgraded;
    peer.send({ type: 'connection_init', payload: { accessToken: created.accessToken.value } });
    await peer.received('connection_ack');
    const first = decided(1);
    peer.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { transfers }' } });
    await first;
    expect(performed).toEqual(['victim']);
    await engine.revokeSessionUsingSessionHandle(created.session.handle);
    await peer.closing;
    const after = decided(1);
    peer.send({ id: '2', type: 'subscribe', payload: { query: 'subscription { transfers }' } });
    await after;
    expect(performed).toEqual([]);
    expect(refused).toEqual(['UNAUTHORISED']);
  });
});

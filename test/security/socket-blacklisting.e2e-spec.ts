import type { AddressInfo } from 'node:net';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionEngine } from '../../lib/index.js';
import { SessionGateway } from '../fixtures/contexts.fixtures.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from '../support/databases.js';
import { createHttpApp, type HttpApp } from '../support/http-app.js';
import { connect, type SocketKind, type TestSocket } from '../support/socket-clients.js';

// `accessToken.blacklisting: true` checks the session row on every guarded request; a guarded
// socket message too. Two instances on one database and no revocation bus: a revocation on A is
// not seen by B's connection registry, so only the row check refuses the socket's next message.

const servers = await reachableDatabases(['postgres']);
const cases =
  servers.length === 0
    ? []
    : (['express', 'fastify'] as const).flatMap((adapter) =>
        (['socket.io', 'ws'] as SocketKind[]).map((kind) => [adapter, kind] as const),
      );

describe.each(cases)('blacklisting over a socket on %s with %s', (adapter, kind) => {
  let db: TestDatabase;
  let a: HttpApp;
  let b: HttpApp;
  let port: number;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    const options = { cleanupInterval: 0, accessToken: { validity: 60, blacklisting: true } };
    a = await createHttpApp({ adapter, database: db.options, options });
    b = await createHttpApp({
      adapter,
      database: db.options,
      options,
      providers: [SessionGateway],
      configure: (app) => app.useWebSocketAdapter(kind === 'ws' ? new WsAdapter(app) : new IoAdapter(app)),
    });
    await b.app.listen(0, '127.0.0.1');
    port = (b.app.getHttpServer().address() as AddressInfo).port;
  }, 60_000);
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await db?.drop();
  });

  it('refuses the next guarded message of a session revoked on another instance', async () => {
    const engineA = a.app.get(SessionEngine);
    const created = await engineA.createNewSession('mallory');
    const socket = connect(kind, port, { accessToken: created.accessToken.value });
    sockets.push(socket);
    await socket.opened;
    expect(await socket.request('whoami')).toMatchObject({ userId: 'mallory' });
    expect(await engineA.revokeSessionUsingSessionHandle(created.session.handle)).toBe(true);
    expect(await socket.request('whoami')).toMatchObject({ status: 'error', type: 'UNAUTHORISED' });
  });
});

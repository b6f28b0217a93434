import type { AddressInfo } from 'node:net';
import type { Provider } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { SessionConnections, SessionEngine, type SessionModuleOptions } from '../../lib/index.js';
import { createTestDatabase, type TestDatabase } from './databases.js';
import { createHttpApp, type AdapterKind, type HttpApp } from './http-app.js';
import { connect, type Credentials, type SocketKind, type TestSocket } from './socket-clients.js';

export interface GatewayAppOptions {
  adapter: AdapterKind;
  kind: SocketKind;
  /** The gateway under test (and any other provider). */
  providers: Provider[];
  /** Access-token validity in seconds (default 60). */
  validity?: number;
  /** More module options (e.g. `trustedOrigins`). */
  options?: Partial<SessionModuleOptions>;
}

/** A listening app with a gateway; its fields are set once `beforeAll` has run. */
export interface GatewayApp {
  readonly http: HttpApp;
  readonly engine: SessionEngine;
  readonly connections: SessionConnections;
  readonly port: number;
  /** Opens a socket on the app, closed after the test. */
  open(credentials?: Credentials): TestSocket;
}

/**
 * Registers the hooks of a gateway suite: a sqlite test database, the app listening on port 0 with
 * the socket.io or ws adapter, each test's sockets closed after it, the app closed and database dropped.
 */
export function useGatewayApp(options: GatewayAppOptions): GatewayApp {
  let db: TestDatabase | undefined;
  const sockets: TestSocket[] = [];
  const context = {
    open(credentials?: Credentials): TestSocket {
      const socket = connect(options.kind, context.port, credentials);
      sockets.push(socket);
      return socket;
    },
  } as { -readonly [K in keyof GatewayApp]: GatewayApp[K] };

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    context.http = await createHttpApp({
      adapter: options.adapter,
      database: db.options,
      options: {
        ...options.options,
        accessToken: { validity: options.validity ?? 60, clockTolerance: 0 },
      },
      providers: options.providers,
      configure: (app) =>
        app.useWebSocketAdapter(options.kind === 'ws' ? new WsAdapter(app) : new IoAdapter(app)),
    });
    await context.http.app.listen(0, '127.0.0.1');
    context.port = (context.http.app.getHttpServer().address() as AddressInfo).port;
    context.engine = context.http.app.get(SessionEngine);
    context.connections = context.http.app.get(SessionConnections);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });
  afterAll(async () => {
    await context.http?.close();
    await db?.drop();
  });
  return context;
}

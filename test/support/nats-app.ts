import type { Type } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { afterAll, beforeAll } from 'vitest';
import { SessionEngine } from '../../lib/index.js';
import { createTestDatabase, type TestDatabase } from './databases.js';
import { createHttpApp, type HttpApp } from './http-app.js';

/** The local NATS server of the test environment. */
export const NATS = { servers: ['nats://127.0.0.1:4222'] };

/** An app serving NATS microservice handlers and a `ClientProxy`; set once `beforeAll` has run. */
export interface NatsApp {
  readonly http: HttpApp;
  readonly engine: SessionEngine;
  readonly client: ClientProxy;
}

/**
 * Registers the hooks of a NATS suite: a sqlite test database, an Express app with the given
 * controllers connected as a `Transport.NATS` microservice, a connected `ClientProxy`; all closed
 * and the database dropped after the suite. `validity` is the access-token validity in seconds.
 */
export function useNatsApp(options: { controllers: Type[]; validity: number }): NatsApp {
  let db: TestDatabase | undefined;
  const context = {} as { -readonly [K in keyof NatsApp]: NatsApp[K] };

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    context.http = await createHttpApp({
      adapter: 'express',
      database: db.options,
      options: { accessToken: { validity: options.validity, clockTolerance: 0 } },
      controllers: options.controllers,
      configure: (app) => app.connectMicroservice({ transport: Transport.NATS, options: NATS }),
    });
    await context.http.app.startAllMicroservices();
    context.engine = context.http.app.get(SessionEngine);
    context.client = ClientProxyFactory.create({ transport: Transport.NATS, options: NATS });
    await context.client.connect();
  });
  afterAll(async () => {
    await context.client?.close();
    await context.http?.close();
    await db?.drop();
  });
  return context;
}

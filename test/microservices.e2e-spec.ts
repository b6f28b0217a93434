import { randomBytes } from 'node:crypto';
import { Controller, UseGuards } from '@nestjs/common';
import {
  ClientProxyFactory,
  MessagePattern,
  NatsRecordBuilder,
  Transport,
  type ClientProxy,
} from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, SessionEngine, SessionGuard, VerifySession } from '../lib/index.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { createHttpApp, type HttpApp } from './support/http-app.js';

const NATS = { servers: ['nats://127.0.0.1:4222'] };

/** Subjects of this file only: test files run in parallel against one NATS server. */
const PREFIX = `nts-${randomBytes(4).toString('hex')}`;

@Controller()
class NotesController {
  @UseGuards(SessionGuard)
  @MessagePattern(`${PREFIX}.whoami`)
  whoami(@Session() session: Session, @Session('userId') userId: string) {
    return { userId, handle: session.getHandle() };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ checkDatabase: true })
  @MessagePattern(`${PREFIX}.checked`)
  checked(@Session('userId') userId: string) {
    return { userId };
  }
}

describe('microservice handlers over NATS (Nest Transport.NATS, ClientProxy)', () => {
  let db: TestDatabase;
  let http: HttpApp;
  let engine: SessionEngine;
  let client: ClientProxy;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter: 'express',
      database: db.options,
      options: { accessToken: { validity: 60, clockTolerance: 0 } },
      controllers: [NotesController],
      configure: (app) => app.connectMicroservice({ transport: Transport.NATS, options: NATS }),
    });
    await http.app.startAllMicroservices();
    engine = http.app.get(SessionEngine);
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: NATS });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await http?.close();
    await db?.drop();
  });

  /** A request through Nest's `ClientProxy`; an `RpcException` arrives as the error it carries. */
  function send(pattern: string, data: object, accessToken?: string): Promise<unknown> {
    let message: unknown = data;
    if (accessToken !== undefined) {
      const headers = natsHeaders();
      headers.set('authorization', `Bearer ${accessToken}`);
      message = new NatsRecordBuilder(data).setHeaders(headers).build();
    }
    return firstValueFrom(client.send(pattern, message));
  }

  it('answers a guarded message carrying a Bearer access token in its NATS headers', async () => {
    const created = await engine.createNewSession('alice');
    const answer = await send(`${PREFIX}.whoami`, {}, created.accessToken.value);
    expect(answer).toEqual({ userId: 'alice', handle: created.session.handle });
  });

  it('answers a guarded message carrying the access token in its payload field accessToken', async () => {
    const created = await engine.createNewSession('bob');
    const answer = await send(`${PREFIX}.whoami`, { accessToken: created.accessToken.value });
    expect(answer).toMatchObject({ userId: 'bob' });
  });

  it('refuses a message without a token with an RpcException carrying TRY_REFRESH_TOKEN', async () => {
    await expect(send(`${PREFIX}.whoami`, {})).rejects.toMatchObject({
      status: 'error',
      type: 'TRY_REFRESH_TOKEN',
      statusCode: 401,
    });
  });

  it('refuses an expired access token with TRY_REFRESH_TOKEN', async () => {
    const created = await engine.createNewSession('carol');
    http.clock.advance(61);
    try {
      await expect(send(`${PREFIX}.whoami`, {}, created.accessToken.value)).rejects.toMatchObject({
        type: 'TRY_REFRESH_TOKEN',
      });
    } finally {
      http.clock.advance(-61);
    }
  });

  it('verifies statelessly, and refuses a revoked session where the handler checks the database', async () => {
    const created = await engine.createNewSession('dave');
    await engine.revokeSessionUsingSessionHandle(created.session.handle);
    const token = created.accessToken.value;
    expect(await send(`${PREFIX}.whoami`, {}, token)).toMatchObject({ userId: 'dave' });
    await expect(send(`${PREFIX}.checked`, {}, token)).rejects.toMatchObject({
      type: 'UNAUTHORISED',
    });
  });
});

import { randomBytes } from 'node:crypto';
import { Controller, UseGuards } from '@nestjs/common';
import { MessagePattern, ServerNats } from '@nestjs/microservices';
import { connect, headers as natsHeaders, JSONCodec, type MsgHdrs, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, SessionEngine, SessionGuard, VerifySession } from '../lib/index.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { createHttpApp, type HttpApp } from './support/http-app.js';

const NATS = { servers: ['nats://127.0.0.1:4222'] };

/**
 * Nest's NATS transport on the `nats` package: Nest 12 loads `@nats-io/transport-node`, which is
 * not installed here (the wire protocol and the API it uses are the same).
 */
class NatsServer extends ServerNats {
  override async createNatsClient() {
    return (await connect(NATS)) as never;
  }
}

/** Nest's NATS request format, sent by a real NATS client (ClientProxy needs the missing package). */
async function send(nc: NatsConnection, pattern: string, data: unknown, headers?: MsgHdrs) {
  const codec = JSONCodec<{ response?: unknown; err?: unknown }>();
  const reply = await nc.request(
    pattern,
    JSONCodec().encode({ pattern, data, id: randomBytes(8).toString('hex') }),
    {
      timeout: 5000,
      headers,
    },
  );
  const { response, err } = codec.decode(reply.data);
  if (err !== undefined) throw err;
  return response;
}
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

describe('microservice handlers over NATS (Nest NATS transport)', () => {
  let db: TestDatabase;
  let http: HttpApp;
  let engine: SessionEngine;
  let nc: NatsConnection;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter: 'express',
      database: db.options,
      options: { accessToken: { validity: 60, clockTolerance: 0 } },
      controllers: [NotesController],
      configure: (app) => app.connectMicroservice({ strategy: new NatsServer(NATS) }),
    });
    await http.app.startAllMicroservices();
    engine = http.app.get(SessionEngine);
    nc = await connect(NATS);
  });
  afterAll(async () => {
    await nc?.close();
    await http?.close();
    await db?.drop();
  });

  function bearer(accessToken: string): MsgHdrs {
    const headers = natsHeaders();
    headers.set('authorization', `Bearer ${accessToken}`);
    return headers;
  }

  it('answers a guarded message carrying a Bearer access token in its NATS headers', async () => {
    const created = await engine.createNewSession('alice');
    const answer = await send(nc, `${PREFIX}.whoami`, {}, bearer(created.accessToken.value));
    expect(answer).toEqual({ userId: 'alice', handle: created.session.handle });
  });

  it('answers a guarded message carrying the access token in its payload field accessToken', async () => {
    const created = await engine.createNewSession('bob');
    const answer = await send(nc, `${PREFIX}.whoami`, { accessToken: created.accessToken.value });
    expect(answer).toMatchObject({ userId: 'bob' });
  });

  it('refuses a message without a token with an RpcException carrying TRY_REFRESH_TOKEN', async () => {
    await expect(send(nc, `${PREFIX}.whoami`, {})).rejects.toMatchObject({
      status: 'error',
      type: 'TRY_REFRESH_TOKEN',
      statusCode: 401,
    });
  });

  it('refuses an expired access token with TRY_REFRESH_TOKEN', async () => {
    const created = await engine.createNewSession('carol');
    http.clock.advance(61);
    try {
      await expect(send(nc, `${PREFIX}.whoami`, {}, bearer(created.accessToken.value))).rejects.toMatchObject(
        { type: 'TRY_REFRESH_TOKEN' },
      );
    } finally {
      http.clock.advance(-61);
    }
  });

  it('verifies statelessly, and refuses a revoked session where the handler checks the database', async () => {
    const created = await engine.createNewSession('dave');
    await engine.revokeSessionUsingSessionHandle(created.session.handle);
    const headers = bearer(created.accessToken.value);
    expect(await send(nc, `${PREFIX}.whoami`, {}, headers)).toMatchObject({ userId: 'dave' });
    await expect(send(nc, `${PREFIX}.checked`, {}, headers)).rejects.toMatchObject({
      type: 'UNAUTHORISED',
    });
  });
});

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
import { Session, SessionClaims, SessionEngine, SessionGuard, VerifySession } from '../../lib/index.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { createHttpApp, type HttpApp } from '../support/http-app.js';

// A microservice handler's @VerifySession({ allowImpersonation, fresh, claims }) holds as on HTTP.

const NATS = { servers: ['nats://127.0.0.1:4222'] };
const PREFIX = `nts-rpc-${randomBytes(4).toString('hex')}`;

@Controller()
class CheckedHandlers {
  @UseGuards(SessionGuard)
  @VerifySession({ allowImpersonation: false })
  @MessagePattern(`${PREFIX}.no-impersonation`)
  noImpersonation(@Session('userId') userId: string) {
    return { ran: true, userId };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ fresh: 300 })
  @MessagePattern(`${PREFIX}.fresh`)
  fresh(@Session('userId') userId: string) {
    return { ran: true, userId };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ claims: [SessionClaims.equals('role', 'admin')] })
  @MessagePattern(`${PREFIX}.admin`)
  admin(@Session('userId') userId: string) {
    return { ran: true, userId };
  }
}

describe('microservice route checks over NATS', () => {
  let db: TestDatabase;
  let http: HttpApp;
  let engine: SessionEngine;
  let client: ClientProxy;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter: 'express',
      database: db.options,
      options: { accessToken: { validity: 600, clockTolerance: 0 } },
      controllers: [CheckedHandlers],
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

  function send(pattern: string, accessToken: string): Promise<unknown> {
    const headers = natsHeaders();
    headers.set('authorization', `Bearer ${accessToken}`);
    return firstValueFrom(
      client.send(`${PREFIX}.${pattern}`, new NatsRecordBuilder({}).setHeaders(headers).build()),
    );
  }

  it('refuses an impersonation, a stale sign-in and a missing claim; passes the rightful caller', async () => {
    const impersonation = await engine.createNewSession(
      'customer',
      { role: 'admin' },
      {},
      {
        impersonation: { actorUserId: 'support', ttl: 3000 },
      },
    );
    await expect(send('no-impersonation', impersonation.accessToken.value)).rejects.toMatchObject({
      type: 'IMPERSONATION_NOT_ALLOWED',
    });

    const user = await engine.createNewSession('user', { role: 'user' });
    await expect(send('admin', user.accessToken.value)).rejects.toMatchObject({ type: 'INVALID_CLAIM' });
    expect(await send('fresh', user.accessToken.value)).toMatchObject({ ran: true });
    http.clock.advance(301);
    try {
      await expect(send('fresh', user.accessToken.value)).rejects.toMatchObject({
        type: 'SESSION_NOT_FRESH',
      });
    } finally {
      http.clock.advance(-301);
    }

    const admin = await engine.createNewSession('boss', { role: 'admin' });
    expect(await send('admin', admin.accessToken.value)).toMatchObject({ ran: true, userId: 'boss' });
    expect(await send('no-impersonation', admin.accessToken.value)).toMatchObject({ ran: true });
  });
});

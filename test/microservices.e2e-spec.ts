import { randomBytes } from 'node:crypto';
import { Controller, UseGuards } from '@nestjs/common';
import { MessagePattern, NatsRecordBuilder } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Session, SessionGuard, VerifySession } from '../lib/index.js';
import { useNatsApp } from './support/nats-app.js';

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
  const ctx = useNatsApp({ controllers: [NotesController], validity: 60 });

  /** A request through Nest's `ClientProxy`; an `RpcException` arrives as the error it carries. */
  function send(pattern: string, data: object, accessToken?: string): Promise<unknown> {
    let message: unknown = data;
    if (accessToken !== undefined) {
      const headers = natsHeaders();
      headers.set('authorization', `Bearer ${accessToken}`);
      message = new NatsRecordBuilder(data).setHeaders(headers).build();
    }
    return firstValueFrom(ctx.client.send(pattern, message));
  }

  it('answers a guarded message carrying a Bearer access token in its NATS headers', async () => {
    const created = await ctx.engine.createNewSession('alice');
    const answer = await send(`${PREFIX}.whoami`, {}, created.accessToken.value);
    expect(answer).toEqual({ userId: 'alice', handle: created.session.handle });
  });

  it('answers a guarded message carrying the access token in its payload field accessToken', async () => {
    const created = await ctx.engine.createNewSession('bob');
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
    const created = await ctx.engine.createNewSession('carol');
    ctx.http.clock.advance(61);
    try {
      await expect(send(`${PREFIX}.whoami`, {}, created.accessToken.value)).rejects.toMatchObject({
        type: 'TRY_REFRESH_TOKEN',
      });
    } finally {
      ctx.http.clock.advance(-61);
    }
  });

  it('verifies statelessly, and refuses a revoked session where the handler checks the database', async () => {
    const created = await ctx.engine.createNewSession('dave');
    await ctx.engine.revokeSessionUsingSessionHandle(created.session.handle);
    const token = created.accessToken.value;
    expect(await send(`${PREFIX}.whoami`, {}, token)).toMatchObject({ userId: 'dave' });
    await expect(send(`${PREFIX}.checked`, {}, token)).rejects.toMatchObject({
      type: 'UNAUTHORISED',
    });
  });
});

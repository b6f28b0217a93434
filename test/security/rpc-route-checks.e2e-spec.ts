import { randomBytes } from 'node:crypto';
import { Controller, UseGuards } from '@nestjs/common';
import { MessagePattern, NatsRecordBuilder } from '@nestjs/microservices';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Session, SessionClaims, SessionGuard, VerifySession } from '../../lib/index.js';
import { useNatsApp } from '../support/nats-app.js';

// A microservice handler's @VerifySession({ allowImpersonation, fresh, claims }) holds as on HTTP.

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
  const ctx = useNatsApp({ controllers: [CheckedHandlers], validity: 600 });

  function send(pattern: string, accessToken: string): Promise<unknown> {
    const headers = natsHeaders();
    headers.set('authorization', `Bearer ${accessToken}`);
    return firstValueFrom(
      ctx.client.send(`${PREFIX}.${pattern}`, new NatsRecordBuilder({}).setHeaders(headers).build()),
    );
  }

  it('refuses an impersonation, a stale sign-in and a missing claim; passes the rightful caller', async () => {
    const impersonation = await ctx.engine.createNewSession(
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

    const user = await ctx.engine.createNewSession('user', { role: 'user' });
    await expect(send('admin', user.accessToken.value)).rejects.toMatchObject({ type: 'INVALID_CLAIM' });
    expect(await send('fresh', user.accessToken.value)).toMatchObject({ ran: true });
    ctx.http.clock.advance(301);
    try {
      await expect(send('fresh', user.accessToken.value)).rejects.toMatchObject({
        type: 'SESSION_NOT_FRESH',
      });
    } finally {
      ctx.http.clock.advance(-301);
    }

    const admin = await ctx.engine.createNewSession('boss', { role: 'admin' });
    expect(await send('admin', admin.accessToken.value)).toMatchObject({ ran: true, userId: 'boss' });
    expect(await send('no-impersonation', admin.accessToken.value)).toMatchObject({ ran: true });
  });
});

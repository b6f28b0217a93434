// Child process of the revocation part: one Fastify app with the revocation bus of argv[2] ('none'
// for no bus), on the PostgreSQL database of argv[3]. The load instance serves the measured routes;
// peers report each revocation they learn of from the bus (for the propagation figures).
import 'reflect-metadata';
import { Controller, Get, HttpCode, Module, Param, Post, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  PublicAccess,
  Session,
  SessionEngine,
  SessionEvents,
  SessionGuard,
  SessionModule,
  VerifySession,
  createSessionMigrations,
  sessionEntities,
  type RevocationTransportName,
} from '../lib/index.js';
import { collectGarbage, failToParent, sendToParent, type Message } from './child-process.js';
import type { RouteSpec } from './http-server.js';
import { BENCH_USER, UNRELATED_COOKIES, readChildContext } from './settings.js';

const context = readChildContext();
const transport = process.argv[2] as RevocationTransportName | 'none';
const databaseName = process.argv[3];
const channel = process.argv[4];

@Controller()
class RevocationBenchController {
  constructor(private readonly engine: SessionEngine) {}

  @PublicAccess()
  @Get('open')
  open() {
    return { user: BENCH_USER };
  }

  @UseGuards(SessionGuard)
  @Get('session')
  session(@Session('userId') user: string) {
    return { user };
  }

  @UseGuards(SessionGuard)
  @VerifySession({ checkDatabase: true })
  @Get('session-db')
  sessionDb(@Session('userId') user: string) {
    return { user };
  }

  @PublicAccess()
  @Post('ops/login')
  @HttpCode(200)
  async login() {
    return { handle: (await this.engine.createNewSession(BENCH_USER)).session.handle };
  }

  @PublicAccess()
  @Post('ops/revoke/:handle')
  @HttpCode(200)
  async revoke(@Param('handle') handle: string) {
    return { revoked: await this.engine.revokeSessionUsingSessionHandle(handle) };
  }

  @PublicAccess()
  @Get('ops/revocation')
  status() {
    return this.engine.revocationStatus();
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      host: process.env.BENCH_PG_HOST ?? '127.0.0.1',
      port: Number(process.env.BENCH_PG_PORT ?? 5432),
      username: process.env.BENCH_PG_USER ?? 'postgres',
      password: process.env.BENCH_PG_PASSWORD,
      database: databaseName,
      entities: sessionEntities,
      migrations: createSessionMigrations(),
      migrationsRun: true,
      extra: { max: 10 },
    }),
    SessionModule.forRoot({
      secret: context.secrets.secret,
      cleanupInterval: 0,
      accessToken: { signingKey: { keys: [context.secrets.jwk] } },
      ...(transport === 'none'
        ? {}
        : {
            revocation: {
              transport,
              channel,
              url: { redis: 'redis://127.0.0.1:6379', nats: 'nats://127.0.0.1:4222' }[transport as string],
            },
          }),
    }),
  ],
  controllers: [RevocationBenchController],
})
class RevocationBenchModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(RevocationBenchModule, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const port = (server.address() as AddressInfo).port;
  app.get(SessionEvents).on('session.revoked', (event) => {
    if (event.remote) void sendToParent({ type: 'revoked', handle: event.sessionHandle, at: Date.now() });
  });
  const created = await app.get(SessionEngine).createNewSession(BENCH_USER);
  const cookie = `${UNRELATED_COOKIES}; sAccessToken=${created.accessToken.value}; sIdRefreshToken=${created.idRefreshToken.value}`;
  const routes: RouteSpec[] = [
    { id: 'open', label: 'open (no guard)', method: 'GET', path: '/open', headers: { cookie } },
    {
      id: 'session-get',
      label: 'SessionGuard (stateless)',
      method: 'GET',
      path: '/session',
      headers: { cookie },
    },
    { id: 'session-db', label: 'checkDatabase', method: 'GET', path: '/session-db', headers: { cookie } },
  ];
  let served = 0;
  let cpuStart = process.cpuUsage();
  server.on('request', () => served++);
  process.on('message', (message: Message) => {
    void (async () => {
      if (message.type === 'begin') {
        collectGarbage();
        served = 0;
        cpuStart = process.cpuUsage();
        await sendToParent({ type: 'begun' });
      } else if (message.type === 'end') {
        const cpu = process.cpuUsage(cpuStart);
        await sendToParent({ type: 'ended', cpuMicros: cpu.user + cpu.system, served });
      } else if (message.type === 'close') {
        await app.close();
        process.exit(0);
      }
    })().catch(failToParent);
  });
  await sendToParent({ type: 'ready', port, routes });
}

main().catch(failToParent);

// Child process: one Nest app on one adapter, measuring its own CPU time around each load run.
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import expressSession from 'express-session';
import MySQLStoreFactory from 'express-mysql-session';
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { Session as InspectorSession } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { SessionEngine } from '../lib/index.js';
import { collectGarbage, failToParent, sendToParent, type Message } from './child-process.js';
import { BenchHttpModule } from './http-app.js';
import { BENCH_USER, UNRELATED_COOKIES, readChildContext, type AdapterKind } from './settings.js';

/** One benchmarked route and the request that reaches it with valid credentials. */
export interface RouteSpec {
  id: string;
  label: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
}

export interface ReadyMessage extends Message {
  type: 'ready';
  port: number;
  routes: RouteSpec[];
}

export interface EndedMessage extends Message {
  type: 'ended';
  /** User + system CPU of the server process during the run, in microseconds. */
  cpuMicros: number;
  /** Requests that reached the server during the run. */
  served: number;
}

const context = readChildContext();
const adapter = process.argv[2] as AdapterKind;

async function mountExpressSession(app: INestApplication): Promise<{ close(): Promise<void> }> {
  const { database } = context.settings;
  const MySQLStore = MySQLStoreFactory(expressSession);
  const store = new MySQLStore({
    host: database.host,
    port: database.port,
    user: database.user,
    password: database.password,
    database: database.name,
    connectionLimit: 10,
    maxIdle: 10,
    createDatabaseTable: true,
    clearExpired: false,
  });
  await store.onReady();
  // The defaults most apps keep (resave off, so each request reads the row and touches its expiry).
  app.use(
    '/express-session',
    expressSession({
      secret: context.secrets.secret,
      store,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', maxAge: 86_400_000 },
    }),
  );
  return store;
}

async function expressSessionCookie(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/express-session/login`, { method: 'POST' });
  const cookie = response.headers.getSetCookie().find((value) => value.startsWith('connect.sid='));
  if (response.status !== 200 || !cookie)
    throw new Error(`express-session login failed (${response.status}).`);
  return cookie.split(';')[0];
}

async function main(): Promise<void> {
  const module = BenchHttpModule.forAdapter(adapter, context);
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(module, { logger: false });
  const expressStore = adapter === 'express' ? await mountExpressSession(app) : undefined;
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const port = (server.address() as AddressInfo).port;

  // A real session, its cookies as a browser sends them (with some unrelated cookies around).
  const created = await app.get(SessionEngine).createNewSession(BENCH_USER, { role: 'user' });
  const cookie = `${UNRELATED_COOKIES}; sAccessToken=${created.accessToken.value}; sIdRefreshToken=${created.idRefreshToken.value}`;
  const bearer = `Bearer ${created.accessToken.value}`;
  const routes: RouteSpec[] = [
    { id: 'open', label: 'open (no guard)', method: 'GET', path: '/open', headers: { cookie } },
    {
      id: 'open-post',
      label: 'open POST (no guard)',
      method: 'POST',
      path: '/open',
      headers: { cookie, 'anti-csrf': String(created.antiCsrfToken) },
    },
    {
      id: 'floor',
      label: 'floor (no-op guard + param decorator)',
      method: 'GET',
      path: '/floor',
      headers: { cookie },
    },
    {
      id: 'session-get',
      label: 'SessionGuard GET (cookies)',
      method: 'GET',
      path: '/session',
      headers: { cookie },
    },
    {
      id: 'session-post',
      label: 'SessionGuard POST + anti-csrf',
      method: 'POST',
      path: '/session',
      headers: { cookie, 'anti-csrf': String(created.antiCsrfToken) },
    },
    {
      id: 'session-db',
      label: 'SessionGuard checkDatabase',
      method: 'GET',
      path: '/session-db',
      headers: { cookie },
    },
    {
      id: 'session-bearer',
      label: 'SessionGuard GET (Bearer header)',
      method: 'GET',
      path: '/session',
      headers: { authorization: bearer },
    },
    {
      id: 'jose',
      label: 'naive jose.jwtVerify guard',
      method: 'GET',
      path: '/jose',
      headers: { authorization: bearer },
    },
    {
      id: 'passport',
      label: '@nestjs/passport + passport-jwt',
      method: 'GET',
      path: '/passport',
      headers: { authorization: bearer },
    },
  ];
  if (adapter === 'express') {
    routes.push({
      id: 'express-session',
      label: 'express-session + MySQL store',
      method: 'GET',
      path: '/express-session',
      headers: { cookie: `${UNRELATED_COOKIES}; ${await expressSessionCookie(port)}` },
    });
  }

  let served = 0;
  let profiler: InspectorSession | undefined;
  let cpuStart = process.cpuUsage();
  server.on('request', () => {
    served++;
  });

  process.on('message', (message: Message) => {
    void (async () => {
      if (message.type === 'collect') {
        collectGarbage();
        await sendToParent({ type: 'collected' });
      } else if (message.type === 'begin') {
        // Garbage of the previous route is collected now, not during this one (unless the parent
        // collected it before an unmeasured settle run: see http-bench.ts).
        if (message.collect !== false) collectGarbage();
        served = 0;
        cpuStart = process.cpuUsage();
        await sendToParent({ type: 'begun' });
      } else if (message.type === 'end') {
        const cpu = process.cpuUsage(cpuStart);
        const ended: EndedMessage = { type: 'ended', cpuMicros: cpu.user + cpu.system, served };
        await sendToParent(ended);
      } else if (message.type === 'profile-start') {
        // CPU profile of one load run only (bench/profile.ts), not of start-up and warm-up.
        profiler = new InspectorSession();
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.setSamplingInterval', { interval: Number(message.interval ?? 100) });
        await profiler.post('Profiler.start');
        await sendToParent({ type: 'profile-started' });
      } else if (message.type === 'profile-stop' && profiler) {
        const { profile } = await profiler.post('Profiler.stop');
        profiler.disconnect();
        await writeFile(String(message.path), JSON.stringify(profile));
        await sendToParent({ type: 'profile-stopped' });
      } else if (message.type === 'close') {
        await app.close();
        await expressStore?.close();
        process.exit(0);
      }
    })().catch(failToParent);
  });
  const ready: ReadyMessage = { type: 'ready', port, routes };
  await sendToParent(ready);
}

main().catch(failToParent);

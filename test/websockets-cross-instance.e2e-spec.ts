import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionConnections, SessionEngine } from '../lib/index.js';
import { SessionGateway } from './fixtures/contexts.fixtures.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { FakeClock } from './support/fake-clock.js';
import { createHttpApp, type HttpApp } from './support/http-app.js';
import { connect, sleep, type SocketKind, type TestSocket } from './support/socket-clients.js';

// Two app instances (two Nest apps in this process) on one MariaDB database, joined by the
// revocation bus over Redis (issue #16): a revocation made on A closes B's live connections.

const [kind] = await reachableDatabases(['mariadb', 'postgres']);

describe.each<SocketKind>(['socket.io', 'ws'])(
  'live %s connections across instances (redis bus)',
  (socketKind) => {
    let db: TestDatabase;
    let a: HttpApp;
    let b: HttpApp;
    let onA: SessionEngine;
    let onB: SessionEngine;
    let connectionsOfB: SessionConnections;
    let portOfB: number;
    const sockets: TestSocket[] = [];

    beforeAll(async () => {
      db = await createTestDatabase(kind!);
      // One clock: tokens issued on A are verified on B at the same time.
      const clock = new FakeClock();
      const revocation = {
        transport: 'redis' as const,
        url: 'redis://127.0.0.1:6379',
        channel: `nts_${randomBytes(6).toString('hex')}`,
      };
      const instance = () =>
        createHttpApp({
          adapter: 'express',
          database: db.options,
          clock,
          options: { accessToken: { validity: 60, clockTolerance: 0 }, revocation },
          providers: [SessionGateway],
          configure: (app) =>
            app.useWebSocketAdapter(socketKind === 'ws' ? new WsAdapter(app) : new IoAdapter(app)),
        });
      a = await instance(); // runs the migrations first
      b = await instance();
      await b.app.listen(0, '127.0.0.1');
      portOfB = (b.app.getHttpServer().address() as AddressInfo).port;
      onA = a.app.get(SessionEngine);
      onB = b.app.get(SessionEngine);
      connectionsOfB = b.app.get(SessionConnections);
      // The bus delivers once both instances have subscribed (their heartbeat came back).
      while (!onA.revocationStatus().healthy || !onB.revocationStatus().healthy) await sleep(20);
    }, 60_000);
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
    });
    afterAll(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await db?.drop();
    });

    async function openOnB(accessToken: string): Promise<TestSocket> {
      const socket = connect(socketKind, portOfB, { accessToken });
      sockets.push(socket);
      await socket.opened;
      await socket.request('whoami'); // bound (a `ws` connection is bound at its handshake already)
      return socket;
    }

    it('closes the connection on B with 4403 and the reason when A revokes its session', async () => {
      const created = await onA.createNewSession('alice');
      const bystander = await onA.createNewSession('alice');
      const socket = await openOnB(created.accessToken.value);
      const kept = await openOnB(bystander.accessToken.value);
      await onA.revokeSessionUsingSessionHandle(created.session.handle, { reason: 'password-changed' });
      expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: password-changed' });
      expect(await kept.request('whoami')).toEqual({ userId: 'alice', handle: bystander.session.handle });
    });

    it('closes on B every connection but the kept one on "sign out everywhere else" made on A, then all', async () => {
      const kept = await onA.createNewSession('bob');
      const other = await onA.createNewSession('bob');
      const keptSocket = await openOnB(kept.accessToken.value);
      const otherSocket = await openOnB(other.accessToken.value);
      await onA.revokeOtherSessions('bob', kept.session.handle);
      expect(await otherSocket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: others-revoked' });
      expect(await keptSocket.request('whoami')).toMatchObject({ userId: 'bob' });
      await onA.revokeAllSessionsForUser('bob');
      expect(await keptSocket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: signed-out-everywhere' });
      expect(connectionsOfB.size).toBe(0);
    });

    it('closes the connection on B when A detects refresh-token theft on its session', async () => {
      const created = await onA.createNewSession('carol');
      const socket = await openOnB(created.accessToken.value);
      await onA.refreshSession(created.refreshToken.value);
      a.clock.advance(11); // past the grace period: the old refresh token is now a stolen one
      try {
        await expect(onA.refreshSession(created.refreshToken.value)).rejects.toMatchObject({
          type: 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED',
        });
      } finally {
        a.clock.advance(-11);
      }
      expect(await socket.closed).toEqual({ code: 4403, reason: 'UNAUTHORISED: theft' });
    });

    it('keeps B answering a live session that A did not revoke (no false close)', async () => {
      const created = await onA.createNewSession('dave');
      const socket = await openOnB(created.accessToken.value);
      await onA.revokeAllSessionsForUser('someone-else');
      const probe = await onA.createNewSession('erin');
      const closing = await openOnB(probe.accessToken.value);
      await onA.revokeSessionUsingSessionHandle(probe.session.handle);
      await closing.closed; // the bus delivered A's later revocation to B
      expect(socket.isOpen()).toBe(true);
      expect(await socket.request('whoami')).toMatchObject({ userId: 'dave' });
    });
  },
);

import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionEngine } from '../lib/index.js';
import { SessionHealthIndicator } from '../lib/observability/terminus.js';
import {
  MARIADB,
  connectionOptions,
  createTestDatabase,
  reachableDatabases,
  type TestDatabase,
} from './support/databases.js';
import { createHttpApp, type HttpApp } from './support/http-app.js';
import { counterSum, OtelTestSdk } from './support/otel.js';
import { TcpProxy } from './support/tcp-proxy.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly session: SessionHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.session.isHealthy('session')]);
  }
}

const [database] = await reachableDatabases(['mariadb']);

describe.runIf(database)('SessionHealthIndicator on @nestjs/terminus (MariaDB behind a TCP proxy)', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let http: HttpApp;
  let otel: OtelTestSdk;

  beforeAll(async () => {
    otel = new OtelTestSdk();
    db = await createTestDatabase('mariadb');
    proxy = await new TcpProxy(MARIADB.host, MARIADB.port).start();
    const name = (db.options as { database: string }).database;
    http = await createHttpApp({
      adapter: 'express',
      database: connectionOptions('mariadb', name, proxy.port),
      options: { databaseTimeout: 1 },
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [SessionHealthIndicator],
    });
  });

  afterAll(async () => {
    proxy?.restore();
    await http?.close();
    await proxy?.stop();
    await db?.drop();
    await otel?.shutdown();
  });

  it('reports up with the store, the key ring and no bus when none is configured', async () => {
    const response = await http.request.get('/health').expect(200);
    expect(response.body.status).toBe('ok');
    expect(response.body.info.session).toEqual({
      status: 'up',
      store: { up: true, responseTime: expect.any(Number) },
      keyRing: 'fresh',
    });
  });

  it('reports down (503) while the database is cut, and up again once it is back', async () => {
    proxy.cut();
    try {
      const response = await http.request.get('/health').expect(503);
      expect(response.body.status).toBe('error');
      expect(response.body.error.session).toMatchObject({
        status: 'down',
        store: { up: false, error: expect.stringMatching(/session store is unavailable or too slow/) },
      });
      expect(http.logs.take('ERROR')).toEqual([
        expect.stringMatching(/\[SessionEngine\] Session store failure \(nothing was changed\)/),
      ]);
    } finally {
      proxy.restore();
    }
    await http.request.get('/health').expect(200);
  });

  it('reports down when the database hangs: the query is bounded by databaseTimeout and counted', async () => {
    proxy.pause();
    try {
      const response = await http.request.get('/health').expect(503);
      expect(response.body.error.session.store).toEqual({
        up: false,
        error: expect.stringMatching(/session store is unavailable or too slow/),
      });
      expect(http.logs.take('ERROR')).toEqual([
        expect.stringMatching(
          /Session store failure \(nothing was changed\): no answer within databaseTimeout \(1 s\)/,
        ),
      ]);
      expect(counterSum(await otel.metrics(), 'session.db.timeout.count')).toBe(1);
    } finally {
      proxy.restore();
    }
    await http.request.get('/health').expect(200);
  });

  it("reports a revocation bus's state when the engine has one: degraded (200) while it does not deliver", async () => {
    const engine = http.app.get(SessionEngine) as unknown as { revocationStatus?: () => unknown };
    engine.revocationStatus = () => ({ state: 'connected', lagMs: 3 });
    try {
      const healthy = await http.request.get('/health').expect(200);
      expect(healthy.body.info.session).toMatchObject({
        status: 'up',
        revocationBus: { state: 'connected' },
      });
      engine.revocationStatus = async () => ({ state: 'disconnected' });
      const degraded = await http.request.get('/health').expect(200);
      expect(degraded.body.details.session).toMatchObject({
        status: 'degraded',
        revocationBus: { state: 'disconnected' },
      });
    } finally {
      delete engine.revocationStatus;
    }
  });
});

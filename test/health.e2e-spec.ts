import { randomBytes } from 'node:crypto';
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

  describe('with a Redis revocation bus behind a second TCP proxy', () => {
    const BUS = 'session.revocation.transport';
    let bus: HttpApp;
    let busProxy: TcpProxy;

    beforeAll(async () => {
      // The bus app's meter is read at start: a fresh provider holds only its signals.
      otel.resetMetrics();
      busProxy = await new TcpProxy('127.0.0.1', 6379).start();
      bus = await createHttpApp({
        adapter: 'fastify',
        database: db.options,
        options: {
          cleanupInterval: 0,
          revocation: {
            transport: 'redis',
            url: `redis://127.0.0.1:${busProxy.port}`,
            channel: `nts_${randomBytes(6).toString('hex')}`,
          },
        },
        imports: [TerminusModule.forRoot({ logger: false })],
        controllers: [HealthController],
        providers: [SessionHealthIndicator],
      });
    });

    afterAll(async () => {
      busProxy?.restore();
      await bus?.close();
      await busProxy?.stop();
    });

    async function sessionHealth(): Promise<Record<string, unknown>> {
      const response = await bus.request.get('/health').expect(200);
      return response.body.details.session;
    }

    async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
      const deadline = Date.now() + 10_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`not within 10 s: ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    it('reports the bus as the engine does: up while healthy, degraded (200) while cut, up once restored', async () => {
      await eventually(async () => (await sessionHealth()).status === 'up', 'up');
      const engine = bus.app.get(SessionEngine);
      const up = await sessionHealth();
      expect(up).toEqual({
        status: 'up',
        store: { up: true, responseTime: expect.any(Number) },
        keyRing: 'fresh',
        revocationBus: { transport: 'redis', healthy: true, lagMs: expect.any(Number), lastPosition: 0 },
      });
      expect(Object.keys(up.revocationBus as object).sort()).toEqual(
        Object.keys(engine.revocationStatus()).sort(),
      );
      busProxy.cut();
      try {
        await eventually(async () => (await sessionHealth()).status === 'degraded', 'degraded');
        expect(await sessionHealth()).toMatchObject({
          status: 'degraded',
          store: { up: true },
          revocationBus: { transport: 'redis', healthy: false },
        });
        // Logged once per degradation, by the monitor's next heartbeat tick.
        const warned: string[] = [];
        await eventually(async () => warned.push(...bus.logs.take('WARN')) > 0, 'warned');
        expect(warned).toEqual([expect.stringMatching(/Revocation bus \(redis\) down or late/)]);
      } finally {
        busProxy.restore();
      }
      await eventually(async () => (await sessionHealth()).status === 'up', 'up again');
    });

    it('counts degradations and restorations, and reports lag and health as gauges', async () => {
      const redis = { [BUS]: 'redis' };
      const count = async (name: string) =>
        counterSum(await otel.metrics(), `session.revocation.bus.${name}`, redis);
      const degraded = await count('degraded.count');
      const restored = await count('restored.count');
      // Healthy at start, then after the cut of the test above.
      expect(restored).toBeGreaterThanOrEqual(2);
      const metrics = await otel.metrics();
      const lag = metrics.get('session.revocation.bus.lag');
      expect(lag?.unit).toBe('s');
      expect(lag?.points).toEqual([{ attributes: redis, value: expect.any(Number) }]);
      expect(Number(lag?.points[0].value)).toBeGreaterThanOrEqual(0);
      expect(metrics.get('session.revocation.bus.healthy')?.points).toEqual([
        { attributes: redis, value: 1 },
      ]);
      busProxy.cut();
      try {
        await eventually(async () => (await count('degraded.count')) === degraded + 1, 'counted degraded');
        expect(await count('restored.count')).toBe(restored);
        const cut = await otel.metrics();
        expect(cut.get('session.revocation.bus.healthy')?.points).toEqual([{ attributes: redis, value: 0 }]);
        bus.logs.take('WARN');
      } finally {
        busProxy.restore();
      }
      await eventually(async () => (await count('restored.count')) === restored + 1, 'counted restored');
      await eventually(async () => (await sessionHealth()).status === 'up', 'up again');
    });
  });
});

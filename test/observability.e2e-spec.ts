import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ANTI_CSRF_HEADER,
  LoginStrategy,
  REFRESH_TOKEN_COOKIE,
  SessionEngine,
  SessionModule,
  SessionObservability,
  TypeOrmAuditSink,
  type LoginStrategyResult,
  type SessionAuditEvent,
  type SessionAuditSink,
} from '../lib/index.js';
import { LoginController } from './fixtures/login.fixtures.js';
import { CookieJar } from './support/cookies.js';
import {
  createTestDatabase,
  reachableDatabases,
  type DatabaseKind,
  type TestDatabase,
} from './support/databases.js';
import { TEST_SECRET, sessionDatabaseModule } from './support/engine-app.js';
import { createHttpApp, type AdapterKind, type HttpApp } from './support/http-app.js';
import { counterSum, OtelTestSdk } from './support/otel.js';

// A user id and user agent no hash or id could contain by chance.
const USER = 'ada.lovelace+ops@example.org';
const USER_AGENT = 'ObservabilityTest/1.0 (scenario)';

@LoginStrategy('password')
@Injectable()
class OpsPasswordStrategy implements LoginStrategy<{ username?: string; password?: string }> {
  validate({ username, password }: { username?: string; password?: string }): LoginStrategyResult {
    return username === USER && password === 'right' ? { userId: USER } : null;
  }
}

/** A sink that hands batches to whatever sink is set later (the data source exists only once the app runs). */
class DeferredSink implements SessionAuditSink {
  target: SessionAuditSink | undefined;
  write(events: readonly SessionAuditEvent[]) {
    return this.target?.write(events);
  }
}

const servers = await reachableDatabases();
const runs: [DatabaseKind, AdapterKind][] = (
  [
    ['sqlite', 'express'],
    ['sqlite', 'fastify'],
    ['mariadb', 'fastify'],
    ['postgres', 'express'],
  ] as [DatabaseKind, AdapterKind][]
).filter(([kind]) => servers.includes(kind));

const otel = new OtelTestSdk();
afterAll(() => otel.shutdown());

/** Everything the client saw that must never reach telemetry. */
class Secrets {
  readonly values = new Set<string>([TEST_SECRET, USER]);
  add(...values: (string | undefined)[]): void {
    for (const value of values) if (value) this.values.add(value);
  }
  addCookies(jar: CookieJar): void {
    this.add(
      jar.header(),
      ...jar
        .header()
        .split('; ')
        .map((pair) => pair.split('=').slice(1).join('=')),
    );
  }
}

describe.each(runs)(
  'telemetry and audit of a login → refresh → theft → revoke scenario on %s, %s',
  (kind, adapter) => {
    let db: TestDatabase;
    let http: HttpApp;
    let sink: DeferredSink;
    let auditSink: TypeOrmAuditSink;
    const secrets = new Secrets();
    let spans: ReadableSpan[];
    let handles: string[];

    beforeAll(async () => {
      db = await createTestDatabase(kind);
      otel.resetMetrics();
      sink = new DeferredSink();
      http = await createHttpApp({
        adapter,
        database: db.options,
        options: { telemetry: { hashUserIds: true }, audit: { sink } },
        controllers: [LoginController],
        providers: [OpsPasswordStrategy],
      });
      auditSink = new TypeOrmAuditSink(http.dataSource, { cleanupInterval: 0, cleanupBatchSize: 2 });
      sink.target = auditSink;
      handles = await runScenario();
      await http.app.get(SessionObservability).flushAudit();
      spans = otel.finishedSpans();
    });

    afterAll(async () => {
      await http?.close();
      await db?.drop();
    });

    const login = (credentials: unknown, strategy = 'password') =>
      http.request.post('/auth/login').set('user-agent', USER_AGENT).send({ strategy, credentials });
    const refresh = (token: string) =>
      http.request
        .post('/session/refresh')
        .set('user-agent', USER_AGENT)
        .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${token}`);

    /** Returns the handles of the two sessions it creates. */
    async function runScenario(): Promise<string[]> {
      await login({ username: USER, password: 'wrong' }).expect(401);
      await login({ username: USER }, 'no-such-strategy').expect(400);
      const signedIn = await login({ username: USER, password: 'right' }).expect(200);
      const jar = new CookieJar().store(signedIn);
      const antiCsrf = signedIn.headers[ANTI_CSRF_HEADER] as string;
      secrets.addCookies(jar);
      secrets.add(antiCsrf);
      const me = await http.request.get('/me').set('Cookie', jar.header()).expect(200);
      await http.request.get('/me').set('Cookie', jar.header()).expect(200);
      await http.request.post('/notes').set('Cookie', jar.header()).expect(401);
      await http.request.get('/me').expect(401); // no session at all: refused before the engine
      await http.request.get('/strict').set('Cookie', jar.header()).expect(200);
      const first = jar.get(REFRESH_TOKEN_COOKIE)!;
      const rotated = await refresh(first).expect(200);
      secrets.addCookies(new CookieJar().store(rotated));
      secrets.add(rotated.headers[ANTI_CSRF_HEADER] as string);
      const replayed = await refresh(first).expect(200);
      secrets.addCookies(new CookieJar().store(replayed));
      http.clock.advance(11); // past the grace period: the first token is now stolen
      expect((await refresh(first).expect(401)).body.type).toBe('UNAUTHORISED_AND_TOKEN_THEFT_DETECTED');
      expect((await refresh(`${first.slice(0, -4)}AAAA`).expect(401)).body.type).toBe('UNAUTHORISED');
      const second = await login({ username: USER, password: 'right' }).expect(200);
      const secondJar = new CookieJar().store(second);
      secrets.addCookies(secondJar);
      const secondMe = await http.request.get('/me').set('Cookie', secondJar.header()).expect(200);
      await http.request
        .post('/logout')
        .set('user-agent', USER_AGENT)
        .set('Cookie', secondJar.header())
        .set(ANTI_CSRF_HEADER, second.headers[ANTI_CSRF_HEADER] as string)
        .expect(200);
      secrets.add(me.body.handle, secondMe.body.handle);
      return [me.body.handle, secondMe.body.handle];
    }

    const named = (name: string) => spans.filter((span) => span.name === name);

    it('traces create, verification with I/O or failure, data, refresh outcomes, revoke and key-ring reloads', () => {
      expect(named('session.create')).toHaveLength(2);
      expect(named('session.key-ring.reload').length).toBeGreaterThan(0);
      expect(named('session.data.get').length).toBeGreaterThan(0);
      expect(named('session.check-database')).toHaveLength(1);
      expect(named('session.revoke')).toHaveLength(1);
      expect(named('session.revoke')[0].attributes).toMatchObject({
        'session.outcome': 'success',
        'session.revoked.count': 1,
        'session.transport': 'cookie',
        'session.adapter': adapter,
      });
      const refreshes = named('session.refresh').map((span) => span.attributes['session.outcome']);
      expect(refreshes).toEqual(['rotated', 'grace-replay', 'theft', 'unauthorised']);
      const theft = named('session.refresh')[2];
      expect(theft.attributes).toMatchObject({
        'error.type': 'UNAUTHORISED_AND_TOKEN_THEFT_DETECTED',
        'session.transport': 'cookie',
        'session.adapter': adapter,
      });
      expect(theft.status.code).toBe(2); // ERROR
      expect(theft.attributes['session.handle.hash']).toMatch(/^[0-9a-f]{32}$/);
      // The anti-csrf failure on a cached token: a failed verification, reported on its own.
      const verifications = named('session.verify');
      const failed = (type: string) => verifications.filter((span) => span.attributes['error.type'] === type);
      expect(failed('TRY_REFRESH_TOKEN')).toHaveLength(1); // reported once, by the engine
      // A request without session cookies fails in the request layer: its span names transport and adapter.
      expect(failed('UNAUTHORISED').map((span) => span.attributes)).toEqual([
        expect.objectContaining({ 'session.outcome': 'unauthorised', 'session.adapter': adapter }),
      ]);
      // Two sessions, two first verifications; the repeated GET /me was answered from the cache.
      expect(verifications.filter((span) => span.attributes['session.outcome'] === 'success')).toHaveLength(
        2,
      );
    });

    it('names sessions and users by keyed hashes only, consistently across spans', () => {
      const created = named('session.create');
      const [first, second] = created.map((span) => span.attributes['session.handle.hash']);
      expect(first).toMatch(/^[0-9a-f]{32}$/);
      expect(second).not.toBe(first);
      expect(named('session.refresh')[0].attributes['session.handle.hash']).toBe(first);
      expect(named('session.revoke')[0].attributes['session.handle.hash']).toBe(second);
      const users = new Set(created.map((span) => span.attributes['enduser.pseudo.id']));
      expect(users.size).toBe(1);
      expect([...users][0]).toMatch(/^[0-9a-f]{32}$/);
    });

    it('counts sessions, refreshes by outcome, cache hits, revocations, logins and database calls', async () => {
      const collected = await otel.metrics();
      expect(collected.get('session.created.count')?.unit).toBe('{session}');
      expect(counterSum(collected, 'session.created.count')).toBe(2);
      const refreshes = (outcome: string) =>
        counterSum(collected, 'session.refresh.count', { 'session.refresh.outcome': outcome });
      expect(['rotated', 'grace-replay', 'theft', 'unauthorised'].map(refreshes)).toEqual([1, 1, 1, 1]);
      const cache = (result: string) =>
        counterSum(collected, 'session.verification.count', { 'session.verification.cache': result });
      expect(cache('miss')).toBe(2);
      expect(cache('hit')).toBeGreaterThanOrEqual(3);
      const revoked = (reason: string) =>
        counterSum(collected, 'session.revocation.count', { 'session.revocation.reason': reason });
      expect([revoked('theft'), revoked('signed-out')]).toEqual([1, 1]);
      const logins = (strategy: string, result: string) =>
        counterSum(collected, 'session.login.attempt.count', {
          'session.login.strategy': strategy,
          'session.login.result': result,
        });
      expect([
        logins('password', 'success'),
        logins('password', 'failure'),
        logins('(unknown)', 'failure'),
      ]).toEqual([2, 1, 1]);
      const duration = collected.get('session.db.operation.duration')!;
      expect(duration.unit).toBe('s');
      const calls = (subject: string) =>
        duration.points
          .filter((point) => point.attributes['session.db.subject'] === subject)
          .reduce((total, point) => total + (point.value as { count: number }).count, 0);
      expect(calls('sessions')).toBeGreaterThan(8);
      expect(calls('key-ring')).toBeGreaterThan(0);
      expect(counterSum(collected, 'session.db.timeout.count')).toBe(0);
    });

    it('puts no token, secret, cookie, handle or raw user id into any span or metric', async () => {
      const seen: string[] = [];
      for (const span of spans) {
        seen.push(span.name, span.status.message ?? '', ...span.events.map((event) => event.name));
        for (const [key, value] of Object.entries(span.attributes)) seen.push(`${key}=${String(value)}`);
      }
      for (const metric of (await otel.metrics()).values()) {
        for (const point of metric.points) {
          for (const [key, value] of Object.entries(point.attributes)) seen.push(`${key}=${String(value)}`);
        }
      }
      expect(seen.length).toBeGreaterThan(100);
      expect(secrets.values.size).toBeGreaterThan(10);
      const leaks = seen.filter((text) => [...secrets.values].some((secret) => text.includes(secret)));
      expect(leaks).toEqual([]);
      expect(seen.filter((text) => /eyJ|sAccessToken|sRefreshToken|sIdRefreshToken/.test(text))).toEqual([]);
    });

    it('writes every lifecycle event to the audit table with time, IP, user agent and reason', async () => {
      const rows = await http.dataSource.query(
        'SELECT type, user_id, session_handle, ip, user_agent, reason, details, occurred_at FROM session_audit ORDER BY id',
      );
      const summary = rows.map((row: Record<string, unknown>) => [row.type, row.reason ?? null]);
      expect(summary).toEqual([
        ['login.attempt', 'invalid-credentials'],
        ['login.attempt', 'unknown-strategy'],
        ['session.created', null],
        ['login.attempt', null],
        ['session.refreshed', null],
        ['session.refreshed', null],
        ['session.theft-detected', null],
        ['session.revoked', 'theft'],
        ['session.created', null],
        ['login.attempt', null],
        ['session.revoked', 'signed-out'],
      ]);
      for (const row of rows) {
        expect(row.user_agent).toBe(USER_AGENT);
        expect(row.ip).toMatch(/127\.0\.0\.1|::1/);
        expect(Number(row.occurred_at)).toBeGreaterThan(0);
      }
      // Every event about a user names it (a sign-out's from the request's own session).
      const named = rows.map((row: { user_id: string | null }) => row.user_id === USER);
      expect(named).toEqual([false, false, ...Array(9).fill(true)]);
      expect(rows[6].session_handle).toBe(handles[0]);
      expect(rows[10].session_handle).toBe(handles[1]);
      // A refresh names the device it came from (session metadata), not its raw metadata object.
      const device = expect.objectContaining({ browser: expect.any(String) });
      expect(JSON.parse(rows[4].details)).toEqual({ replay: false, loginMethod: 'password', device });
      expect(JSON.parse(rows[5].details)).toEqual({ replay: true, loginMethod: 'password', device });
      expect(JSON.parse(rows[1].details)).toEqual({ strategy: 'no-such-strategy', success: false });
    });

    it('removes audit rows past their retention in batches', async () => {
      const [{ n }] = await http.dataSource.query('SELECT COUNT(*) AS n FROM session_audit');
      const retained = new TypeOrmAuditSink(http.dataSource, {
        retention: 60,
        cleanupInterval: 0,
        cleanupBatchSize: 2,
      });
      expect(await retained.removeExpired(http.clock.now() + 30_000)).toBe(0);
      expect(await retained.removeExpired(http.clock.now() + 120_000)).toBe(Number(n));
      const [{ n: left }] = await http.dataSource.query('SELECT COUNT(*) AS n FROM session_audit');
      expect(Number(left)).toBe(0);
      await retained.close();
    });
  },
);

describe('a failing audit sink never affects requests', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
  });

  afterAll(async () => {
    await db?.drop();
  });

  async function signInAndRefresh(
    sink: SessionAuditSink,
    audit: { timeout?: number; queueSize?: number } = {},
  ) {
    otel.resetMetrics();
    const http = await createHttpApp({
      adapter: 'express',
      database: db.options,
      options: { audit: { sink, batchSize: 1, ...audit } },
    });
    try {
      const signedIn = await http.request.post('/login').send({ userId: 'sink-user' }).expect(200);
      const jar = new CookieJar().store(signedIn);
      await http.request.get('/me').set('Cookie', jar.header()).expect(200);
      await http.request
        .post('/session/refresh')
        .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${jar.get(REFRESH_TOKEN_COOKIE)}`)
        .expect(200);
      const observability = http.app.get(SessionObservability);
      await observability.flushAudit();
      const collected = await otel.metrics();
      return {
        dropped: observability.auditDropped,
        metric: counterSum(collected, 'session.audit.dropped.count'),
        warnings: http.logs.take('WARN'),
      };
    } finally {
      await http.close();
    }
  }

  it('answers every request while the sink throws, and counts the dropped events', async () => {
    const outcome = await signInAndRefresh({
      write() {
        throw new Error('audit store down');
      },
    });
    expect(outcome).toMatchObject({ dropped: 2, metric: 2 });
    expect(outcome.warnings).toEqual([
      expect.stringMatching(
        /\[SessionAudit\] Audit events dropped \(1\): the audit sink failed: audit store down/,
      ),
    ]);
  });

  it('answers every request while the sink hangs, and drops what it cannot take', async () => {
    const outcome = await signInAndRefresh(
      { write: () => new Promise<void>(() => undefined) },
      { timeout: 0.05 },
    );
    expect(outcome).toMatchObject({ dropped: 2, metric: 2 });
    expect(outcome.warnings[0]).toMatch(/the audit sink failed: no answer within 0.05 s/);
  });

  it('drops events beyond the queue bound instead of growing', async () => {
    let writes = 0;
    const outcome = await signInAndRefresh(
      {
        write: () => {
          writes++;
          return new Promise<void>(() => undefined);
        },
      },
      { timeout: 0.05, queueSize: 1 },
    );
    // Both events were dropped; whether the second met a full queue or a hung write, nothing waited on it.
    expect(outcome).toMatchObject({ dropped: 2, metric: 2 });
    expect(writes).toBeLessThanOrEqual(2);
  });

  it('refuses an audit option without a sink at start-up, saying what to pass', async () => {
    await expect(
      createHttpApp({
        adapter: 'express',
        database: db.options,
        options: { audit: { sink: {} as SessionAuditSink } },
      }),
    ).rejects.toThrow(/`audit.sink` must be an object with a `write\(events\)` method/);
  });
});

describe('TypeOrmAuditSink registered as the README shows (forRootAsync, inject DataSource)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('writes the engine’s events, and writes what is queued before the module shuts down', async () => {
    const closed: string[] = [];
    const moduleRef = await Test.createTestingModule({
      imports: [
        sessionDatabaseModule(db.options),
        SessionModule.forRootAsync({
          inject: [DataSource],
          useFactory: (dataSource: DataSource) => {
            const sink = new TypeOrmAuditSink(dataSource);
            return {
              secret: TEST_SECRET,
              audit: {
                sink: {
                  write: (events: readonly SessionAuditEvent[]) => sink.write(events),
                  close: async () => {
                    const [{ n }] = await dataSource.query('SELECT COUNT(*) AS n FROM session_audit');
                    closed.push(`rows at close: ${n}`);
                    await sink.close();
                  },
                },
              },
            };
          },
        }),
      ],
    }).compile();
    const app = await moduleRef.init();
    const engine = app.get(SessionEngine);
    const created = await engine.createNewSession('async-user', {}, {});
    await engine.revokeSessionUsingSessionHandle(created.session.handle);
    // No flush: closing the app writes the queue before closing the sink.
    await app.close();
    expect(closed).toEqual(['rows at close: 2']);
  });
});

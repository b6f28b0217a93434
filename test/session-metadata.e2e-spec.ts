import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  SessionEngine,
  SessionError,
  SessionEvents,
  type SessionCreatedEvent,
  type SessionListEntry,
  type SessionModuleOptions,
  type SessionRefreshedEvent,
} from '../lib/index.js';
import { PasswordStrategy } from './fixtures/login.fixtures.js';
import { DevicesController } from './fixtures/devices.fixtures.js';
import { CookieJar } from './support/cookies.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { ADAPTERS, createHttpApp, type AdapterKind, type HttpApp } from './support/http-app.js';

const databases = await reachableDatabases();

const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

interface AppSetup {
  adapter: AdapterKind;
  database: TestDatabase;
  trustProxy?: boolean;
  options?: Partial<SessionModuleOptions>;
}

/** The fixture app with the devices routes, trusting `X-Forwarded-For` as the adapter is told. */
function bootApp({ adapter, database, trustProxy = false, options }: AppSetup): Promise<HttpApp> {
  return createHttpApp({
    adapter,
    database: database.options,
    options,
    controllers: [DevicesController],
    providers: [PasswordStrategy],
    fastify: { trustProxy },
    configure: (app) => {
      if (adapter === 'express') app.getHttpAdapter().getInstance().set('trust proxy', trustProxy);
    },
  });
}

/** Signs in from a browser: `direct` through `createNewSession`, or the `password` strategy with a label. */
async function signIn(
  http: HttpApp,
  from: { userAgent: string; forwardedFor?: string },
  how: { direct: string | number } | { label?: unknown } = { direct: 7 },
): Promise<CookieJar> {
  const request =
    'direct' in how
      ? http.request.post('/login').send({ userId: how.direct })
      : http.request
          .post('/devices/login')
          .send({ credentials: { username: 'ada', password: 'right' }, label: how.label });
  request.set('User-Agent', from.userAgent);
  if (from.forwardedFor) request.set('X-Forwarded-For', from.forwardedFor);
  return new CookieJar().store(await request.expect(200));
}

async function listed(http: HttpApp, jar: CookieJar, route = '/devices'): Promise<SessionListEntry[]> {
  return (await http.request.get(route).set('Cookie', jar.header()).expect(200)).body;
}

function recordEvents(http: HttpApp) {
  const events = { created: [] as SessionCreatedEvent[], refreshed: [] as SessionRefreshedEvent[] };
  const emitter = http.app.get(SessionEvents);
  emitter.on('session.created', (event) => events.created.push(event));
  emitter.on('session.refreshed', (event) => events.refreshed.push(event));
  return events;
}

describe.each(databases)('session metadata on %s', (kind) => {
  describe.each(ADAPTERS)('%s behind a trusted proxy', (adapter) => {
    let database: TestDatabase;
    let http: HttpApp;

    beforeAll(async () => {
      database = await createTestDatabase(kind);
      http = await bootApp({ adapter, database, trustProxy: true });
    });

    afterAll(async () => {
      await http?.close();
      await database?.drop();
    });

    it('captures IP, device, login method and label, lists them, and updates them at refresh', async () => {
      const events = recordEvents(http);
      const start = http.clock.now();
      const laptop = await signIn(
        http,
        { userAgent: CHROME_MAC, forwardedFor: '203.0.113.9' },
        { label: 'Work laptop' },
      );
      http.clock.advance(1);
      const phone = await signIn(http, { userAgent: SAFARI_IPHONE, forwardedFor: '2001:db8:85a3:8d3::1' });
      const [first, second] = await listed(http, phone);
      expect(first).toMatchObject({
        ip: '203.0.113.0',
        userAgent: CHROME_MAC,
        device: { browser: 'Chrome 131', os: expect.stringMatching(/^macOS/), type: 'desktop' },
        loginMethod: 'password',
        label: 'Work laptop',
        lastActiveAt: start,
        createdAt: start,
      });
      expect(first).not.toHaveProperty('current');
      expect(second).toMatchObject({
        ip: '2001:db8:85a3::',
        device: { browser: 'Safari 17', os: 'iOS 17.5', type: 'mobile' },
        loginMethod: 'direct',
        label: null,
        current: true,
      });
      expect(events.created.map((event) => event.metadata)).toEqual([
        expect.objectContaining({ ip: '203.0.113.0', loginMethod: 'password', label: 'Work laptop' }),
        expect.objectContaining({ ip: '2001:db8:85a3::', loginMethod: 'direct' }),
      ]);

      http.clock.advance(119);
      await http.request
        .post('/session/refresh')
        .set('Cookie', laptop.header())
        .set('User-Agent', FIREFOX_LINUX)
        .set('X-Forwarded-For', '198.51.100.7')
        .expect(200)
        .then((response) => laptop.store(response));
      const [refreshed] = await listed(http, laptop);
      expect(refreshed).toMatchObject({
        handle: first!.handle,
        current: true,
        ip: '198.51.100.0',
        device: { browser: 'Firefox 133', os: 'Linux', type: 'desktop' },
        lastActiveAt: start + 120_000,
        lastRefreshedAt: start + 120_000,
        loginMethod: 'password',
        label: 'Work laptop',
      });
      expect(events.refreshed.at(-1)?.metadata).toMatchObject({
        ip: '198.51.100.0',
        lastActiveAt: start + 120_000,
      });
      // An admin's listing marks no session as current.
      const all: SessionListEntry[] = (await http.request.get('/devices/of/7').expect(200)).body;
      expect(all.map((entry) => entry.handle)).toEqual([first!.handle, second!.handle]);
      expect(all.some((entry) => 'current' in entry)).toBe(false);
    });
  });
});

describe.runIf(databases.includes('sqlite'))('session metadata details (SQLite)', () => {
  let database: TestDatabase;
  let http: HttpApp | undefined;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
  });

  afterEach(async () => {
    await http?.close();
    http = undefined;
  });

  describe.each(ADAPTERS)('on %s', (adapter) => {
    it('ignores X-Forwarded-For unless the app trusts its proxy', async () => {
      http = await bootApp({ adapter, database });
      const jar = await signIn(http, { userAgent: CHROME_MAC, forwardedFor: '203.0.113.9' });
      const [entry] = await listed(http, jar);
      expect(entry!.ip).toBe('127.0.0.0');
    });

    it('records nothing with sessionMetadata: false', async () => {
      http = await bootApp({ adapter, database, trustProxy: true, options: { sessionMetadata: false } });
      const events = recordEvents(http);
      const jar = await signIn(http, { userAgent: CHROME_MAC, forwardedFor: '203.0.113.9' }, { label: 'x' });
      await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
      const [entry] = await listed(http, jar, '/devices/checked');
      expect(entry).toMatchObject({
        ip: null,
        userAgent: null,
        device: null,
        lastActiveAt: null,
        loginMethod: null,
        label: null,
        current: true,
      });
      expect(events.created[0]).not.toHaveProperty('metadata');
      expect(events.refreshed[0]).not.toHaveProperty('metadata');
    });
  });

  it.each([
    ['full', '203.0.113.9', '2001:db8:85a3:0:0:0:0:1'],
    ['truncated', '203.0.113.0', '2001:db8:85a3::'],
    ['none', null, null],
  ] as const)("keeps the IP as sessionMetadata.ip '%s' says", async (ip, v4, v6) => {
    http = await bootApp({
      adapter: 'express',
      database,
      trustProxy: true,
      options: { sessionMetadata: { ip } },
    });
    await signIn(http, { userAgent: CHROME_MAC, forwardedFor: '203.0.113.9' });
    http.clock.advance(1);
    const jar = await signIn(http, { userAgent: CHROME_MAC, forwardedFor: '2001:db8:85a3::1' });
    expect((await listed(http, jar)).slice(-2).map((entry) => entry.ip)).toEqual([v4, v6]);
  });

  it("keeps sessionMetadata.ip 'hashed' as a keyed hash: equal for one address, no address in it", async () => {
    http = await bootApp({
      adapter: 'fastify',
      database,
      trustProxy: true,
      options: { sessionMetadata: { ip: 'hashed' } },
    });
    for (const forwardedFor of ['203.0.113.9', '::ffff:203.0.113.9', '203.0.113.10']) {
      await signIn(http, { userAgent: CHROME_MAC, forwardedFor }, { direct: 'hash-user' });
      http.clock.advance(1);
    }
    const [a, b, c] = (await http.request.get('/devices/of/hash-user').expect(200))
      .body as SessionListEntry[];
    expect(a!.ip).toMatch(/^[\w-]{43}$/);
    expect(b!.ip).toBe(a!.ip);
    expect(c!.ip).not.toBe(a!.ip);
    const [row] = await http.dataSource.query('SELECT ip FROM session_info WHERE ip IS NOT NULL LIMIT 1');
    expect(String(row.ip)).not.toContain('203.0.113');
  });

  it('updates lastActiveAt from checkDatabase routes at most once a minute, never from stateless ones', async () => {
    http = await bootApp({ adapter: 'fastify', database });
    const start = http.clock.now();
    const jar = await signIn(http, { userAgent: CHROME_MAC }, { direct: 'active-user' });
    const lastActive = async (route: string) => (await listed(http!, jar, route))[0]!.lastActiveAt;
    http.clock.advance(30);
    expect(await lastActive('/devices/checked')).toBe(start);
    http.clock.advance(31);
    expect(await lastActive('/devices/checked')).toBe(start + 61_000);
    http.clock.advance(59);
    expect(await lastActive('/devices/checked')).toBe(start + 61_000);
    http.clock.advance(120);
    expect(await lastActive('/devices')).toBe(start + 61_000);
    expect(await lastActive('/devices/checked')).toBe(start + 240_000);
  });

  it('takes the metadata framework-free through SessionEngine, with the same privacy rules', async () => {
    http = await bootApp({ adapter: 'express', database, options: { sessionMetadata: { ip: 'hashed' } } });
    const engine = http.app.get(SessionEngine);
    const metadata = {
      ip: '203.0.113.9',
      userAgent: SAFARI_IPHONE,
      loginMethod: 'impersonation',
      label: 'Support',
    };
    const created = await engine.createNewSession('engine-user', {}, {}, { metadata });
    await expect(
      engine.createNewSession('engine-user', {}, {}, { metadata: { label: 'x'.repeat(129) } }),
    ).rejects.toBeInstanceOf(SessionError);
    http.clock.advance(5);
    await engine.refreshSession(created.refreshToken.value, { metadata: { userAgent: FIREFOX_LINUX } });
    const listed = await engine.listSessionsForUser('engine-user', { currentHandle: created.session.handle });
    expect(listed).toEqual([
      expect.objectContaining({
        handle: created.session.handle,
        current: true,
        ip: expect.stringMatching(/^[\w-]{43}$/),
        userAgent: FIREFOX_LINUX,
        device: { browser: 'Firefox 133', os: 'Linux', type: 'desktop' },
        loginMethod: 'impersonation',
        label: 'Support',
        lastActiveAt: http.clock.now(),
      }),
    ]);
  });

  it('refuses a label that is not a string of at most 128 characters, writing nothing', async () => {
    http = await bootApp({ adapter: 'express', database });
    const [{ n: before }] = await http.dataSource.query('SELECT COUNT(*) AS n FROM session_info');
    for (const label of ['x'.repeat(129), 42]) {
      const response = await http.request
        .post('/devices/login')
        .send({ credentials: { username: 'ada', password: 'right' }, label })
        .expect(400);
      expect(response.body).toMatchObject({ type: 'INVALID_LOGIN_OPTIONS' });
      expect(response.headers['set-cookie']).toBeUndefined();
    }
    const [{ n: after }] = await http.dataSource.query('SELECT COUNT(*) AS n FROM session_info');
    expect(Number(after)).toBe(Number(before));
  });
});

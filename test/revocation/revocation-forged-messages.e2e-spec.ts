import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionEngine, SessionEvents, type SessionRevokedEvent } from '../../lib/index.js';
import { CookieJar } from '../support/cookies.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { createHttpApp, type HttpApp } from '../support/http-app.js';

// A client that reaches the bus (Redis here) can publish anything on its channel. A revocation is
// monotonic, so a forged message may at worst revoke more; it must never un-revoke what this
// instance knows (a payload change's stale tokens accepted again from memory), nor stop the
// subscriber. The marker entry in the same message tells the test the forged one was applied.

const REDIS = 'redis://127.0.0.1:6379';
const DEADLINE_MS = 10_000;

async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${DEADLINE_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(['express', 'fastify'] as const)('forged revocation-bus messages on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;
  let publisher: Redis;
  const channel = `nts_forge_${randomBytes(6).toString('hex')}`;
  const remote: SessionRevokedEvent[] = [];
  let markers = 0;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { cleanupInterval: 0, revocation: { transport: 'redis', url: REDIS, channel } },
    });
    http.app.get(SessionEvents).on('session.revoked', (event) => {
      if (event.remote) remote.push(event);
    });
    publisher = new Redis(REDIS);
    const engine = http.app.get(SessionEngine);
    await eventually(() => engine.revocationStatus().healthy, 'bus healthy');
  }, 60_000);

  afterAll(async () => {
    publisher?.disconnect();
    await http?.close();
    await db?.drop();
  });

  /** Publishes `entries` as another instance would, then waits until this instance applied them. */
  async function forge(entries: unknown[]): Promise<void> {
    const marker = `marker-${adapter}-${++markers}`;
    const entry = {
      kind: 'session',
      subject: marker,
      userKey: null,
      value: null,
      cause: 'revoke',
      reason: null,
    };
    await publisher.publish(channel, JSON.stringify({ from: 'forger', entries: [...entries, entry] }));
    await eventually(() => remote.some((event) => event.sessionHandle === marker), 'marker applied');
  }

  async function strict(jar: CookieJar): Promise<string> {
    const answer = await http.request.get('/strict').set('Cookie', jar.header());
    return answer.status === 200 ? '200' : `${answer.status} ${String(answer.body?.type)}`;
  }

  it('a forged non-numeric payload version does not make a token of the old payload pass again', async () => {
    const login = await http.request.post('/login').send({ userId: 'demoted', payload: { role: 'admin' } });
    const jar = new CookieJar().store(login);
    const handle = String(login.body.handle);
    expect(await strict(jar)).toBe('200');
    expect(await http.app.get(SessionEngine).mergeIntoAccessTokenPayload(handle, { role: 'user' })).toBe(
      true,
    );
    expect(await strict(jar)).toBe('401 TRY_REFRESH_TOKEN');
    for (const value of [{}, 'x', [1, 2], -1]) {
      await forge([
        { kind: 'payload-version', subject: handle, userKey: null, value, cause: 'payload', reason: null },
      ]);
      expect(await strict(jar)).toBe('401 TRY_REFRESH_TOKEN');
    }
  });

  it('a forged non-numeric generation does not make a token of an older generation pass again', async () => {
    const login = await http.request.post('/login').send({ userId: 'rotated' });
    const jar = new CookieJar().store(login);
    const handle = String(login.body.handle);
    await forge([
      { kind: 'generation', subject: handle, userKey: null, value: 5, cause: 'revoke', reason: null },
    ]);
    expect(await strict(jar)).toBe('401 TRY_REFRESH_TOKEN');
    await forge([
      { kind: 'generation', subject: handle, userKey: null, value: {}, cause: 'revoke', reason: null },
    ]);
    expect(await strict(jar)).toBe('401 TRY_REFRESH_TOKEN');
  });

  it('a forged log position is not taken: a replay after a reconnect still reads the log', async () => {
    const engine = http.app.get(SessionEngine);
    const before = engine.revocationStatus().lastPosition;
    const login = await http.request.post('/login').send({ userId: 'positioned' });
    const handle = String(login.body.handle);
    await forge([
      {
        id: 1e15,
        kind: 'session',
        subject: handle,
        userKey: null,
        value: null,
        cause: 'revoke',
        reason: null,
      },
    ]);
    expect(engine.revocationStatus().lastPosition).toBe(before);
  });

  it('malformed entries are ignored and the subscriber keeps applying later messages', async () => {
    await forge([null, 7, 'x', { kind: 'session' }, { kind: 'session', subject: {} }]);
    const login = await http.request.post('/login').send({ userId: 'after-garbage' });
    const jar = new CookieJar().store(login);
    const handle = String(login.body.handle);
    expect(await strict(jar)).toBe('200');
    await forge([
      { kind: 'session', subject: handle, userKey: null, value: null, cause: 'revoke', reason: null },
    ]);
    expect(await strict(jar)).toBe('401 UNAUTHORISED');
  });
});

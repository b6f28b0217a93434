import type { NestExpressApplication } from '@nestjs/platform-express';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApp } from '../sample/main.js';
import { DEMO_USER } from '../sample/users/users.service.js';
import { CookieJar, setCookies } from './support/cookies.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from './support/databases.js';
import { TEST_SECRET } from './support/engine-app.js';
import { ANTI_CSRF_HEADER } from '../lib/http/wire.js';

const databases = await reachableDatabases(['sqlite', 'mariadb']);

describe.each(databases)('the sample app on %s', (kind) => {
  let db: TestDatabase;
  let app: NestExpressApplication;
  let request: ReturnType<typeof supertest>;

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    app = await createSampleApp({ database: db.options, session: { secret: TEST_SECRET }, rateLimit: 20 });
    await app.init();
    request = supertest(app.getHttpServer());
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  /** A browser of its own: cookie jar plus the anti-csrf token it was given. */
  async function signIn(username = DEMO_USER.username, password = DEMO_USER.password) {
    const response = await request.post('/auth/login').send({ username, password }).expect(200);
    return { jar: new CookieJar().store(response), antiCsrf: response.headers[ANTI_CSRF_HEADER] as string };
  }

  it('signs the seeded demo user in and tells who they are', async () => {
    const { jar } = await signIn();
    const me = await request.get('/me').set('Cookie', jar.header()).expect(200);
    expect(me.body).toMatchObject({ username: 'demo', userId: expect.any(Number) });
  });

  it('refuses a wrong password and an unknown user alike, setting no cookie', async () => {
    for (const body of [
      { username: 'demo', password: 'not-the-password' },
      { username: 'nobody-here', password: 'whatever-password' },
    ]) {
      const response = await request.post('/auth/login').send(body).expect(401);
      expect(response.body.type).toBe('LOGIN_FAILED');
      expect(setCookies(response)).toEqual([]);
    }
  });

  it('signs a new user up, and refuses a taken username', async () => {
    const response = await request
      .post('/auth/signup')
      .send({ username: `new-${kind}`, password: 'long-enough' })
      .expect(201);
    const me = await request.get('/me').set('Cookie', new CookieJar().store(response).header()).expect(200);
    expect(me.body.username).toBe(`new-${kind}`);
    await request
      .post('/auth/signup')
      .send({ username: `new-${kind}`, password: 'long-enough' })
      .expect(409);
    await request.post('/auth/signup').send({ username: 'x', password: 'short' }).expect(400);
  });

  it('adds notes only with the anti-csrf header', async () => {
    const { jar, antiCsrf } = await signIn();
    const refused = await request
      .post('/notes')
      .set('Cookie', jar.header())
      .send({ text: 'no header' })
      .expect(401);
    expect(refused.body.type).toBe('TRY_REFRESH_TOKEN');
    await request
      .post('/notes')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .send({ text: 'hello' })
      .expect(201);
    const notes = await request.get('/notes').set('Cookie', jar.header()).expect(200);
    expect(notes.body.map((note: { text: string }) => note.text)).toContain('hello');
    expect(notes.body.map((note: { text: string }) => note.text)).not.toContain('no header');
  });

  it('lists the sessions with the current one marked, and signs a revoked device out at once', async () => {
    const laptop = await signIn();
    const phone = await signIn();
    const listed = await request.get('/sessions').set('Cookie', laptop.jar.header()).expect(200);
    const current = listed.body.filter((entry: { current: boolean }) => entry.current);
    expect(current).toHaveLength(1);
    expect(listed.body[0]).toMatchObject({
      handle: expect.stringMatching(/^[0-9a-f]{32}$/),
      createdAt: expect.any(Number),
      lastRefreshedAt: expect.any(Number),
      expiresAt: expect.any(Number),
    });
    const phoneHandle = (await request.get('/me').set('Cookie', phone.jar.header()).expect(200)).body
      .sessionHandle;
    await request
      .delete(`/sessions/${phoneHandle}`)
      .set('Cookie', laptop.jar.header())
      .set(ANTI_CSRF_HEADER, laptop.antiCsrf)
      .expect(204);
    const signedOut = await request.get('/me').set('Cookie', phone.jar.header()).expect(401);
    expect(signedOut.body.type).toBe('UNAUTHORISED');
    await request.get('/me').set('Cookie', laptop.jar.header()).expect(200);
  });

  it("refuses to revoke another user's session", async () => {
    const demo = await signIn();
    await request
      .post('/auth/signup')
      .send({ username: `other-${kind}`, password: 'long-enough' })
      .expect(201);
    const other = await signIn(`other-${kind}`, 'long-enough');
    const otherHandle = (await request.get('/me').set('Cookie', other.jar.header()).expect(200)).body
      .sessionHandle;
    await request
      .delete(`/sessions/${otherHandle}`)
      .set('Cookie', demo.jar.header())
      .set(ANTI_CSRF_HEADER, demo.antiCsrf)
      .expect(404);
    await request.get('/me').set('Cookie', other.jar.header()).expect(200);
  });

  it('signs out everywhere else, and signs out', async () => {
    const kept = await signIn();
    const dropped = await signIn();
    const result = await request
      .post('/sessions/revoke-others')
      .set('Cookie', kept.jar.header())
      .set(ANTI_CSRF_HEADER, kept.antiCsrf)
      .expect(200);
    expect(result.body.revoked).toBeGreaterThanOrEqual(1);
    await request.get('/me').set('Cookie', dropped.jar.header()).expect(401);
    const logout = await request
      .post('/auth/logout')
      .set('Cookie', kept.jar.header())
      .set(ANTI_CSRF_HEADER, kept.antiCsrf)
      .expect(200);
    expect(setCookies(logout).every((cookie) => cookie.value === '')).toBe(true);
    await request.get('/me').set('Cookie', kept.jar.header()).expect(401);
  });

  it('refreshes through the module route', async () => {
    const { jar } = await signIn();
    const refreshed = await request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
    jar.store(refreshed);
    await request.get('/me').set('Cookie', jar.header()).expect(200);
  });

  it('rate-limits logins', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) {
      statuses.push(
        (await request.post('/auth/login').send({ username: 'demo', password: 'wrong-password' })).status,
      );
    }
    expect(statuses).toContain(429);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClaimsController, StepUpStrategy } from '../claims/claims.fixtures.js';
import { CookieJar } from '../support/cookies.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { REFRESH_TOKEN_COOKIE } from '../../lib/http/wire.js';

// auth_time says when the USER last authenticated (OpenID Connect). An impersonating admin never
// authenticated as the user: starting an impersonation must not make a `fresh` route (step-up,
// "sudo mode") pass, even one that forgot `allowImpersonation: false`, nor may a refresh.

describe.each(ADAPTERS)('an impersonation is never fresh, on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      controllers: [ClaimsController],
      providers: [StepUpStrategy],
      options: { cleanupInterval: 0 },
    });
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  it('refuses a fresh: 300 route just after the impersonation started, and after a refresh', async () => {
    const started = await http.request
      .post('/claims/impersonate')
      .send({ actor: 'admin-1', target: 'customer-1' })
      .expect(200);
    const jar = new CookieJar().store(started);
    await http.request.get('/claims/whoami').set('Cookie', jar.header()).expect(200);
    const refused = await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(403);
    expect(refused.body).toMatchObject({ type: 'SESSION_NOT_FRESH', maxAge: 300 });

    const refreshed = await http.request
      .post('/session/refresh')
      .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${jar.get(REFRESH_TOKEN_COOKIE)}`)
      .expect(200);
    jar.store(refreshed);
    await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(403);
  });

  it("keeps a user's own fresh sign-in fresh", async () => {
    const login = await http.request.post('/login').send({ userId: 'customer-2' }).expect(200);
    const jar = new CookieJar().store(login);
    await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(200);
  });
});

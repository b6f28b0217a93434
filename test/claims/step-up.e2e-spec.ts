import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { CookieJar, setCookies } from '../support/cookies.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import {
  ACCESS_TOKEN_COOKIE,
  ACCESS_TOKEN_HEADER,
  ANTI_CSRF_HEADER,
  REFRESH_TOKEN_COOKIE,
  SESSION_TRANSPORT_HEADER,
} from '../../lib/http/wire.js';
import { SessionEvents, type LoginAttemptEvent, type SessionElevatedEvent } from '../../lib/index.js';
import { ClaimsController, StepUpStrategy } from './claims.fixtures.js';

describe.each(ADAPTERS)('step-up (fresh and elevate) over HTTP on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;
  const elevated: SessionElevatedEvent[] = [];
  const attempts: LoginAttemptEvent[] = [];

  async function login(userId: string) {
    const response = await http.request
      .post('/login')
      .send({ userId, payload: { p: 1 } })
      .expect(200);
    return {
      handle: response.body.handle as string,
      jar: new CookieJar().store(response),
      antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
    };
  }

  function elevate(jar: CookieJar, antiCsrf: string, credentials: unknown) {
    return http.request
      .post('/claims/elevate')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .send({ credentials });
  }

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      controllers: [ClaimsController],
      providers: [StepUpStrategy],
    });
    const events = http.app.get(SessionEvents);
    events.on('session.elevated', (event) => elevated.push(event));
    events.on('login.attempt', (event) => attempts.push(event));
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  it('answers 403 SESSION_NOT_FRESH with the required age once the sign-in is older, cookies untouched', async () => {
    const { jar } = await login('ada');
    await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(200);
    http.clock.advance(301);
    const refused = await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(403);
    expect(refused.body).toMatchObject({ statusCode: 403, type: 'SESSION_NOT_FRESH', maxAge: 300 });
    expect(setCookies(refused)).toEqual([]);
    // Other routes of the session go on.
    await http.request.get('/me').set('Cookie', jar.header()).expect(200);
  });

  it('changes nothing for wrong credentials or another user’s, and elevates with the user’s own', async () => {
    const { jar, antiCsrf, handle } = await login('ada');
    http.clock.advance(301);
    await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(403);
    elevated.length = 0;
    attempts.length = 0;

    const wrong = await elevate(jar, antiCsrf, { user: 'ada', password: 'nope' }).expect(401);
    expect(wrong.body.type).toBe('LOGIN_FAILED');
    expect(setCookies(wrong)).toEqual([]);
    const other = await elevate(jar, antiCsrf, { user: 'bob', password: 'bob-pass' }).expect(401);
    expect(other.body.type).toBe('LOGIN_FAILED');
    expect(setCookies(other)).toEqual([]);
    expect(elevated).toEqual([]);
    expect(attempts.map((attempt) => [attempt.success, attempt.error])).toEqual([
      [false, 'invalid-credentials'],
      [false, 'another-user'],
    ]);
    // Nothing was written: a refresh still mints a token of the old sign-in.
    const refreshed = await http.request
      .post('/session/refresh')
      .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${jar.get(REFRESH_TOKEN_COOKIE)}`)
      .expect(200);
    jar.store(refreshed);
    await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(403);

    const ok = await elevate(jar, refreshed.headers[ANTI_CSRF_HEADER] as string, {
      user: 'ada',
      password: 'ada-pass',
    }).expect(200);
    expect(ok.body).toEqual({ status: 'elevated' });
    expect(setCookies(ok).map((cookie) => cookie.name)).toEqual([ACCESS_TOKEN_COOKIE]);
    expect(elevated).toEqual([{ sessionHandle: handle, userId: 'ada' }]);
    expect(attempts.at(-1)).toMatchObject({ success: true, userId: 'ada', strategy: 'step-up' });
    jar.store(ok);
    const sensitive = await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(200);
    expect(sensitive.body).toEqual({ handle });
    // The refresh chain is kept, and its next token carries the new auth_time from the row.
    const again = await http.request
      .post('/session/refresh')
      .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${jar.get(REFRESH_TOKEN_COOKIE)}`)
      .expect(200);
    jar.store(again);
    await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(200);
    http.clock.advance(301);
    await http.request.get('/claims/sensitive').set('Cookie', jar.header()).expect(403);
  });

  it('elevates a header session with the access-token header', async () => {
    const signedIn = await http.request
      .post('/login')
      .set(SESSION_TRANSPORT_HEADER, 'header')
      .send({ userId: 'bob' })
      .expect(200);
    const token = signedIn.headers[ACCESS_TOKEN_HEADER] as string;
    http.clock.advance(400);
    await http.request.get('/claims/sensitive').set('Authorization', `Bearer ${token}`).expect(403);
    const ok = await http.request
      .post('/claims/elevate')
      .set('Authorization', `Bearer ${token}`)
      .send({ credentials: { user: 'bob', password: 'bob-pass' } })
      .expect(200);
    expect(setCookies(ok)).toEqual([]);
    const next = ok.headers[ACCESS_TOKEN_HEADER] as string;
    await http.request.get('/claims/sensitive').set('Authorization', `Bearer ${next}`).expect(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { CookieJar, setCookies } from '../support/cookies.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import {
  ACCESS_TOKEN_COOKIE,
  ACCESS_TOKEN_HEADER,
  ANTI_CSRF_HEADER,
  REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_HEADER,
  SESSION_TRANSPORT_HEADER,
} from '../../lib/http/wire.js';
import { SessionEvents, type SessionPayloadChangedEvent } from '../../lib/index.js';
import { ClaimsController } from './claims.fixtures.js';

describe.each(ADAPTERS)('changing the JWT payload over HTTP on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;
  const changes: SessionPayloadChangedEvent[] = [];

  async function login(userId: string | number, payload: unknown = { role: 'reader', team: 'a' }) {
    const response = await http.request.post('/login').send({ userId, payload }).expect(200);
    return {
      handle: response.body.handle as string,
      jar: new CookieJar().store(response),
      antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
    };
  }

  async function refresh(jar: CookieJar) {
    const response = await http.request
      .post('/session/refresh')
      .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${jar.get(REFRESH_TOKEN_COOKIE)}`)
      .expect(200);
    jar.store(response);
    return response;
  }

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({ adapter, database: db.options, controllers: [ClaimsController] });
    http.app.get(SessionEvents).on('session.payload-changed', (event) => changes.push(event));
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  it('merges in a handler: a new access cookie only, the merged payload at once and on the next request', async () => {
    const { jar, antiCsrf, handle } = await login('merger');
    const oldAccess = jar.get(ACCESS_TOKEN_COOKIE)!;
    const merged = await http.request
      .post('/claims/merge')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .send({ patch: { role: 'admin', team: null, tags: ['x'] } })
      .expect(200);
    expect(merged.body).toEqual({ payload: { role: 'admin', tags: ['x'] } });
    // Only the access token changes: same session, same refresh chain, same anti-csrf token.
    expect(setCookies(merged).map((cookie) => cookie.name)).toEqual([ACCESS_TOKEN_COOKIE]);
    expect(setCookies(merged)[0]).toMatchObject({ httpOnly: true, path: '/', secure: true, sameSite: 'lax' });
    expect(merged.headers[ANTI_CSRF_HEADER]).toBeUndefined();
    expect(changes.at(-1)).toEqual({ sessionHandle: handle, userId: 'merger', payloadVersion: 2 });
    jar.store(merged);
    const me = await http.request.get('/me').set('Cookie', jar.header()).expect(200);
    expect(me.body).toMatchObject({ handle, payload: { role: 'admin', tags: ['x'] } });
    await http.request.get('/claims/strict-me').set('Cookie', jar.header()).expect(200);
    // The old token is still valid where no database is checked, and sent to refresh where it is.
    const old = jar.without(ACCESS_TOKEN_COOKIE).set(ACCESS_TOKEN_COOKIE, oldAccess);
    const stale = await http.request.get('/me').set('Cookie', old.header()).expect(200);
    expect(stale.body.payload).toEqual({ role: 'reader', team: 'a' });
    const refused = await http.request.get('/claims/strict-me').set('Cookie', old.header()).expect(401);
    expect(refused.body.type).toBe('TRY_REFRESH_TOKEN');
    expect(setCookies(refused)).toEqual([]);
    // The refresh chain is the login's: its refresh token still rotates, with the merged payload.
    await refresh(jar);
    const after = await http.request.get('/claims/strict-me').set('Cookie', jar.header()).expect(200);
    expect(after.body.payload).toEqual({ role: 'admin', tags: ['x'] });
  });

  it('answers the new access token in the access-token header for a header session', async () => {
    const login = await http.request
      .post('/login')
      .set(SESSION_TRANSPORT_HEADER, 'header')
      .send({ userId: 7, payload: { plan: 'free' } })
      .expect(200);
    const access = login.headers[ACCESS_TOKEN_HEADER] as string;
    const merged = await http.request
      .post('/claims/merge')
      .set('Authorization', `Bearer ${access}`)
      .send({ patch: { plan: 'pro' } })
      .expect(200);
    expect(merged.body.payload).toEqual({ plan: 'pro' });
    expect(setCookies(merged)).toEqual([]);
    expect(merged.headers[REFRESH_TOKEN_HEADER]).toBeUndefined();
    const next = merged.headers[ACCESS_TOKEN_HEADER] as string;
    expect(next).toBeTruthy();
    expect(next).not.toBe(access);
    const me = await http.request.get('/me').set('Authorization', `Bearer ${next}`).expect(200);
    expect(me.body).toMatchObject({ userId: 7, payload: { plan: 'pro' } });
    const refreshed = await http.request
      .post('/session/refresh')
      .set('Authorization', `Bearer ${login.headers[REFRESH_TOKEN_HEADER]}`)
      .expect(200);
    const again = refreshed.headers[ACCESS_TOKEN_HEADER] as string;
    const strict = await http.request
      .get('/claims/strict-me')
      .set('Authorization', `Bearer ${again}`)
      .expect(200);
    expect(strict.body.payload).toEqual({ plan: 'pro' });
  });

  it('gives another device the new payload after its refresh, at once on a checkDatabase route, never a 401 UNAUTHORISED', async () => {
    const phone = await login('two-devices', { role: 'reader' });
    const laptop = await login('two-devices', { role: 'reader', device: 'laptop' });
    const changed = await http.request
      .post('/claims/admin/merge-user')
      .send({ userId: 'two-devices', patch: { role: 'editor' } })
      .expect(200);
    expect(changed.body).toEqual({ changed: 2 });
    // Stateless routes keep the token's payload until it is refreshed.
    const before = await http.request.get('/me').set('Cookie', phone.jar.header()).expect(200);
    expect(before.body.payload).toEqual({ role: 'reader' });
    // A checkDatabase route sends the old token to refresh (cookies untouched), then answers the new claims.
    const stale = await http.request.get('/claims/strict-me').set('Cookie', laptop.jar.header()).expect(401);
    expect(stale.body.type).toBe('TRY_REFRESH_TOKEN');
    expect(setCookies(stale)).toEqual([]);
    await refresh(laptop.jar);
    const fresh = await http.request.get('/claims/strict-me').set('Cookie', laptop.jar.header()).expect(200);
    expect(fresh.body.payload).toEqual({ role: 'editor', device: 'laptop' });
    await refresh(phone.jar);
    const phoneMe = await http.request.get('/me').set('Cookie', phone.jar.header()).expect(200);
    expect(phoneMe.body.payload).toEqual({ role: 'editor' });
  });

  it('changes one session by handle; false for a session that is gone', async () => {
    const { handle, jar } = await login('by-handle', { a: 1 });
    const merged = await http.request
      .post('/claims/admin/merge')
      .send({ handle, patch: { b: 2 } })
      .expect(200);
    expect(merged.body).toEqual({ changed: true });
    await refresh(jar);
    const me = await http.request.get('/me').set('Cookie', jar.header()).expect(200);
    expect(me.body.payload).toEqual({ a: 1, b: 2 });
    const gone = await http.request
      .post('/claims/admin/merge')
      .send({ handle: 'f'.repeat(32), patch: { b: 2 } })
      .expect(200);
    expect(gone.body).toEqual({ changed: false });
  });

  it('refuses a patch that makes the access token too large with GENERAL_ERROR: nothing written, no cookie', async () => {
    const { jar, antiCsrf } = await login('too-large', { keep: true });
    const refused = await http.request
      .post('/claims/merge')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .send({ patch: { blob: 'x'.repeat(2000), more: 'y'.repeat(1000) } })
      .expect(500);
    expect(refused.body.type).toBe('GENERAL_ERROR');
    expect(refused.body.message).toMatch(/jwtPayload/);
    expect(setCookies(refused)).toEqual([]);
    await refresh(jar);
    const me = await http.request.get('/claims/strict-me').set('Cookie', jar.header()).expect(200);
    expect(me.body.payload).toEqual({ keep: true });
  });

  it('answers UNAUTHORISED and clears the cookies when the session was revoked meanwhile', async () => {
    const { jar, antiCsrf, handle } = await login('revoked-merger');
    await http.request.post(`/claims/admin/merge`).send({ handle, patch: {} }).expect(200);
    await http.request
      .post('/logout')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .expect(200);
    const refused = await http.request
      .post('/claims/merge')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .send({ patch: { role: 'admin' } })
      .expect(401);
    expect(refused.body.type).toBe('UNAUTHORISED');
    expect(setCookies(refused).length).toBeGreaterThan(0);
    expect(setCookies(refused).every((cookie) => cookie.value === '')).toBe(true);
  });
});

describe.each(ADAPTERS)('a payload change under accessToken.blacklisting on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      controllers: [ClaimsController],
      options: { accessToken: { blacklisting: true } },
    });
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  it('sends every route’s older token to refresh, then answers the new claims', async () => {
    const signedIn = await http.request
      .post('/login')
      .send({ userId: 'listed', payload: { v: 1 } })
      .expect(200);
    const jar = new CookieJar().store(signedIn);
    await http.request
      .post('/claims/admin/merge-user')
      .send({ userId: 'listed', patch: { v: 2 } })
      .expect(200);
    const stale = await http.request.get('/me').set('Cookie', jar.header()).expect(401);
    expect(stale.body.type).toBe('TRY_REFRESH_TOKEN');
    const refreshed = await http.request
      .post('/session/refresh')
      .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${jar.get(REFRESH_TOKEN_COOKIE)}`)
      .expect(200);
    jar.store(refreshed);
    const me = await http.request.get('/me').set('Cookie', jar.header()).expect(200);
    expect(me.body.payload).toEqual({ v: 2 });
  });
});

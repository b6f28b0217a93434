import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { CookieJar, cookieNamed, setCookies } from '../support/cookies.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { ACCESS_TOKEN_COOKIE, ANTI_CSRF_HEADER, REFRESH_TOKEN_COOKIE } from '../../lib/http/wire.js';
import {
  SessionEngine,
  SessionEvents,
  type ImpersonationEndedEvent,
  type ImpersonationStartedEvent,
  type SessionRevokedEvent,
} from '../../lib/index.js';
import { AdminAreaController, ClaimsController, StepUpStrategy } from './claims.fixtures.js';

/** The claims of a JWT, unverified (the test reads what the token says). */
function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

describe.each(ADAPTERS)('impersonation over HTTP on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;
  let started: ImpersonationStartedEvent[] = [];
  let ended: ImpersonationEndedEvent[] = [];
  let revoked: SessionRevokedEvent[] = [];

  async function impersonate(target: string, extra: { ttl?: number; reason?: string } = {}) {
    const response = await http.request
      .post('/claims/impersonate')
      .send({ actor: 'admin-1', target, ...extra })
      .expect(200);
    return {
      response,
      handle: response.body.handle as string,
      jar: new CookieJar().store(response),
      antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
    };
  }

  async function refresh(jar: CookieJar, status = 200) {
    const response = await http.request
      .post('/session/refresh')
      .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${jar.get(REFRESH_TOKEN_COOKIE)}`)
      .expect(status);
    jar.store(response);
    return response;
  }

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      controllers: [ClaimsController, AdminAreaController],
      providers: [StepUpStrategy],
      options: { cleanupInterval: 0 },
    });
    const events = http.app.get(SessionEvents);
    events.on('session.impersonation-started', (event) => started.push(event));
    events.on('session.impersonation-ended', (event) => ended.push(event));
    events.on('session.revoked', (event) => revoked.push(event));
  });
  beforeEach(() => {
    started = [];
    ended = [];
    revoked = [];
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  it('starts a session of the target that names the actor in its row, token and getActor()', async () => {
    const startedAt = http.clock.now();
    const { response, handle, jar } = await impersonate('cust-9', { reason: 'ticket 42' });
    expect(response.body).toEqual({ handle, actor: { sub: 'admin-1' } });
    expect(started).toEqual([
      {
        sessionHandle: handle,
        actorUserId: 'admin-1',
        targetUserId: 'cust-9',
        reason: 'ticket 42',
        expiresAt: startedAt + 3600_000,
      },
    ]);
    expect(claimsOf(jar.get(ACCESS_TOKEN_COOKIE)!)).toMatchObject({ sub: 'cust-9', act: { sub: 'admin-1' } });
    const whoami = await http.request.get('/claims/whoami').set('Cookie', jar.header()).expect(200);
    expect(whoami.body).toEqual({ userId: 'cust-9', actor: { sub: 'admin-1' } });
    const me = await http.request.get('/me').set('Cookie', jar.header()).expect(200);
    expect(me.body.payload).toEqual({ role: 'customer' });
    // A session of one's own names no actor.
    const own = new CookieJar().store(
      await http.request.post('/login').send({ userId: 'cust-9' }).expect(200),
    );
    const mine = await http.request.get('/claims/whoami').set('Cookie', own.header()).expect(200);
    expect(mine.body).toEqual({ userId: 'cust-9', actor: null });
    await http.request.get('/claims/no-impersonation').set('Cookie', own.header()).expect(200);
  });

  it('is refused by allowImpersonation: false, elevation and revoking the target’s other sessions', async () => {
    const target = await http.request.post('/login').send({ userId: 'cust-10' }).expect(200);
    const targetJar = new CookieJar().store(target);
    const { jar, antiCsrf } = await impersonate('cust-10');
    const refused = await http.request
      .get('/claims/no-impersonation')
      .set('Cookie', jar.header())
      .expect(403);
    expect(refused.body).toMatchObject({ statusCode: 403, type: 'IMPERSONATION_NOT_ALLOWED' });
    expect(setCookies(refused)).toEqual([]);
    const elevate = await http.request
      .post('/claims/elevate')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .send({ credentials: { user: 'admin-1', password: 'whatever' } })
      .expect(403);
    expect(elevate.body.type).toBe('IMPERSONATION_NOT_ALLOWED');
    const others = await http.request
      .post('/claims/revoke-others')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .expect(403);
    expect(others.body.type).toBe('IMPERSONATION_NOT_ALLOWED');
    // The target's own session is untouched.
    await http.request.get('/claims/strict-me').set('Cookie', targetJar.header()).expect(200);
    await http.request.get('/claims/strict-me').set('Cookie', jar.header()).expect(200);
  });

  it("keeps a controller's allowImpersonation: false on a route with options of its own", async () => {
    const target = await http.request.post('/login').send({ userId: 'cust-11' }).expect(200);
    await http.request
      .get('/admin-area/strict')
      .set('Cookie', new CookieJar().store(target).header())
      .expect(200);
    const { jar } = await impersonate('cust-11');
    const refused = await http.request.get('/admin-area/strict').set('Cookie', jar.header()).expect(403);
    expect(refused.body).toMatchObject({ statusCode: 403, type: 'IMPERSONATION_NOT_ALLOWED' });
  });

  it('never outlives its ttl, whatever the refreshes; its end is reported once', async () => {
    const start = http.clock.now();
    const { jar, handle } = await impersonate('cust-11', { ttl: 600 });
    await refresh(jar);
    http.clock.advance(300);
    const mid = await refresh(jar);
    expect(cookieNamed(mid, REFRESH_TOKEN_COOKIE)!.expires!.getTime()).toBeLessThanOrEqual(start + 600_000);
    http.clock.advance(290);
    const late = await refresh(jar);
    // The access token and the cookies end with the impersonation, not 15 minutes or 100 days later.
    expect(Number(claimsOf(jar.get(ACCESS_TOKEN_COOKIE)!).exp) * 1000).toBeLessThanOrEqual(start + 600_000);
    expect(cookieNamed(late, ACCESS_TOKEN_COOKIE)!.expires!.getTime()).toBeLessThanOrEqual(start + 600_000);
    await http.request.get('/claims/whoami').set('Cookie', jar.header()).expect(200);
    http.clock.advance(11);
    const refusedJar = new CookieJar().set(REFRESH_TOKEN_COOKIE, jar.get(REFRESH_TOKEN_COOKIE)!);
    const expired = await refresh(refusedJar, 401);
    expect(expired.body.type).toBe('UNAUTHORISED');
    await refresh(new CookieJar().set(REFRESH_TOKEN_COOKIE, jar.get(REFRESH_TOKEN_COOKIE)!), 401);
    expect(ended).toEqual([
      { sessionHandle: handle, actorUserId: 'admin-1', targetUserId: 'cust-11', cause: 'expired' },
    ]);
  });

  it('ends at sign-out: cookies cleared, revoked with reason impersonation-ended, both user ids reported', async () => {
    const { jar, antiCsrf, handle } = await impersonate('cust-12');
    const out = await http.request
      .post('/logout')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .expect(200);
    expect(setCookies(out).length).toBeGreaterThan(0);
    expect(setCookies(out).every((cookie) => cookie.value === '')).toBe(true);
    expect(ended).toEqual([
      { sessionHandle: handle, actorUserId: 'admin-1', targetUserId: 'cust-12', cause: 'signed-out' },
    ]);
    expect(revoked).toEqual([
      {
        reason: 'impersonation-ended',
        operation: 'impersonation-ended',
        sessionHandle: handle,
        userId: 'cust-12',
        count: 1,
      },
    ]);
    await refresh(jar, 401);
  });

  it('is reported ended, with both user ids, when an admin revokes it by handle, for the user, or all', async () => {
    const first = await impersonate('cust-15');
    const second = await impersonate('cust-15');
    const third = await impersonate('cust-15');
    await http.request.post('/login').send({ userId: 'cust-15' }).expect(200);
    const byHandle = await http.request
      .post('/claims/admin/revoke')
      .send({ handle: first.handle })
      .expect(200);
    expect(byHandle.body).toEqual({ revoked: true });
    // Another user's handle revokes nothing and reports nothing.
    await http.request
      .post('/claims/admin/revoke')
      .send({ handle: second.handle, userId: 'cust-16' })
      .expect(200, { revoked: false });
    await http.request
      .post('/claims/admin/revoke')
      .send({ handle: second.handle, userId: 'cust-15' })
      .expect(200, { revoked: true });
    const all = await http.request.post('/claims/admin/revoke').send({ userId: 'cust-15' }).expect(200);
    expect(all.body).toEqual({ revoked: 2 });
    const ids = { actorUserId: 'admin-1', targetUserId: 'cust-15', cause: 'revoked' };
    expect(ended).toEqual([
      { sessionHandle: first.handle, ...ids },
      { sessionHandle: second.handle, ...ids },
      { sessionHandle: third.handle, ...ids },
    ]);
    await refresh(third.jar, 401);
  });

  it('is reported ended by the cleanup when nobody refreshed it', async () => {
    const { handle } = await impersonate('cust-13', { ttl: 60 });
    http.clock.advance(61);
    expect(await http.app.get(SessionEngine).removeExpiredSessions()).toBeGreaterThanOrEqual(1);
    expect(ended).toEqual([
      { sessionHandle: handle, actorUserId: 'admin-1', targetUserId: 'cust-13', cause: 'expired' },
    ]);
  });

  it('refuses bad options with GENERAL_ERROR and starts nothing', async () => {
    for (const body of [
      { actor: 'cust-14', target: 'cust-14' },
      { actor: 'admin-1', target: 'cust-14', ttl: 0 },
      { actor: 'admin-1', target: 'cust-14', ttl: 1.5 },
    ]) {
      const refused = await http.request.post('/claims/impersonate').send(body).expect(500);
      expect(refused.body.type).toBe('GENERAL_ERROR');
      expect(setCookies(refused)).toEqual([]);
    }
    expect(started).toEqual([]);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLAIMS_FETCHED_AT } from '../lib/index.js';
import { ACCESS_TOKEN_COOKIE, ACCESS_TOKEN_HEADER, SESSION_TRANSPORT_HEADER } from '../lib/http/wire.js';
import {
  ClaimRoutesController,
  FreshRolesController,
  ManualController,
  MistypedClaimController,
  OrphanClaimController,
  PlanFetcherInstaller,
  RolesFetcher,
  StaffController,
  rolesStore,
} from './fixtures/claims.fixtures.js';
import { CookieJar, cookieNamed, setCookies } from './support/cookies.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from './support/http-app.js';

describe.each(ADAPTERS)('claim validators on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;

  async function signIn(userId: string | number, payload: unknown): Promise<CookieJar> {
    const response = await http.request.post('/login').send({ userId, payload }).expect(200);
    return new CookieJar().store(response);
  }

  async function get(path: string, jar: CookieJar) {
    return http.request.get(path).set('Cookie', jar.header());
  }

  function expectInvalidClaims(
    response: Awaited<ReturnType<typeof get>>,
    errors: { claim: string; reason: string }[],
  ): void {
    expect(response.status).toBe(403);
    expect(response.body).toEqual({
      statusCode: 403,
      type: 'INVALID_CLAIM',
      message: expect.any(String),
      claimValidationErrors: errors,
    });
    expect(setCookies(response)).toEqual([]); // a refused claim never signs anyone out
  }

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { accessToken: { validity: 3600 } },
      controllers: [ClaimRoutesController, StaffController, FreshRolesController, ManualController],
      providers: [RolesFetcher, PlanFetcherInstaller],
    });
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  describe('every ready validator passes and refuses with the body shape', () => {
    const kinds = [
      ['equals', { role: 'admin' }, { role: 'Admin' }, 'role', 'must equal "admin"'],
      ['includes', { roles: ['user', 'editor'] }, { roles: 'editor' }, 'roles', 'must include "editor"'],
      ['exists', { email: 'a@example.com' }, { email: null }, 'email', 'is missing'],
      ['at-least', { level: 3 }, { level: 2.5 }, 'level', 'must be a number of at least 3'],
      ['at-most', { level: 3 }, { level: '1' }, 'level', 'must be a number of at most 3'],
      ['check', { plan: 'team' }, { plan: 'free' }, 'plan', 'needs a paid plan'],
    ] as const;

    it.each(kinds)('%s', async (route, passing, failing, claim, reason) => {
      const good = await get(`/claims/${route}`, await signIn('u-good', passing));
      expect(good.status).toBe(200);
      expect(good.body).toEqual({ userId: 'u-good', payload: passing });

      const badJar = await signIn('u-bad', failing);
      expectInvalidClaims(await get(`/claims/${route}`, badJar), [{ claim, reason }]);
      // The session is intact: other routes still accept it.
      expect((await get('/me', badJar)).status).toBe(200);
      // A payload that is no object has no claims at all.
      expectInvalidClaims(await get(`/claims/${route}`, await signIn('u-text', 'admin')), [
        { claim, reason },
      ]);
    });
  });

  it('enforces controller-level claims on every route, adding route-level ones', async () => {
    const staff = await signIn('s1', { roles: ['staff'], level: 1 });
    const senior = await signIn('s2', { roles: ['staff'], level: 2 });
    const outsider = await signIn('s3', { roles: ['user'], level: 9 });
    const missingStaff = { claim: 'roles', reason: 'must include "staff"' };

    expect((await get('/staff/plain', staff)).status).toBe(200);
    expectInvalidClaims(await get('/staff/plain', outsider), [missingStaff]);

    expect((await get('/staff/senior', senior)).status).toBe(200);
    expectInvalidClaims(await get('/staff/senior', staff), [
      { claim: 'level', reason: 'must be a number of at least 2' },
    ]);
    expectInvalidClaims(await get('/staff/senior', await signIn('s4', { roles: [] })), [
      missingStaff,
      { claim: 'level', reason: 'must be a number of at least 2' },
    ]);

    // A route with other options (checkDatabase) still needs its controller's claims.
    expect((await get('/staff/checked', staff)).status).toBe(200);
    expectInvalidClaims(await get('/staff/checked', outsider), [missingStaff]);
  });

  it('runs validators where the app calls SessionService.getSession with claims', async () => {
    const admin = await signIn('m1', { role: 'admin', email: 'm1@example.com' });
    expect((await get('/manual', admin)).body).toEqual({
      userId: 'm1',
      payload: { role: 'admin', email: 'm1@example.com' },
    });
    expectInvalidClaims(await get('/manual', await signIn('m2', { role: 'user' })), [
      { claim: 'role', reason: 'must equal "admin"' },
      { claim: 'email', reason: 'is missing' },
    ]);
  });

  describe('a claim with maxAge and a fetcher', () => {
    beforeEach(() => {
      rolesStore.roles.clear();
      rolesStore.fetches.length = 0;
    });

    it('refetches a stale claim once, merges it into a new access token, and the next request passes', async () => {
      const jar = await signIn('f1', { roles: ['user'], name: 'Fay' });
      rolesStore.roles.set('f1', ['user', 'admin']);

      const first = await get('/fresh/admin', jar);
      expect(first.status).toBe(200);
      expect(rolesStore.fetches).toEqual(['f1']);
      const fetchedAt = Math.floor(http.clock.now() / 1000);
      expect(first.body.payload).toEqual({
        roles: ['user', 'admin'],
        name: 'Fay',
        [CLAIMS_FETCHED_AT]: { roles: fetchedAt },
      });
      expect(cookieNamed(first, ACCESS_TOKEN_COOKIE)?.value).toBeTruthy();
      jar.store(first);

      const second = await get('/fresh/admin', jar);
      expect(second.status).toBe(200);
      expect(second.body.payload).toEqual(first.body.payload);
      expect(rolesStore.fetches).toEqual(['f1']); // fresh: not fetched again
      expect(cookieNamed(second, ACCESS_TOKEN_COOKIE)).toBeUndefined();

      // Past maxAge the claim is fetched again: the admin role was withdrawn meanwhile.
      rolesStore.roles.set('f1', ['user']);
      http.clock.advance(61);
      const third = await get('/fresh/admin', jar);
      expectRefusedAfterFetch(third);
      expect(rolesStore.fetches).toEqual(['f1', 'f1']);
      jar.store(third);
      // The refused request still recorded the fetch: inside maxAge the new token is not refetched.
      expectRefusedAfterFetch(await get('/fresh/admin', jar));
      expect(rolesStore.fetches).toEqual(['f1', 'f1']);
    });

    function expectRefusedAfterFetch(response: Awaited<ReturnType<typeof get>>): void {
      expect(response.status).toBe(403);
      expect(response.body.claimValidationErrors).toEqual([
        { claim: 'roles', reason: 'must include "admin"' },
      ]);
    }

    it('removes a claim the fetcher no longer supplies', async () => {
      const jar = await signIn('f2', { roles: ['admin'] });
      const response = await get('/fresh/admin', jar);
      expectRefusedAfterFetch(response);
      jar.store(response);
      const me = await get('/me', jar);
      expect(me.body.payload).toEqual({
        [CLAIMS_FETCHED_AT]: { roles: Math.floor(http.clock.now() / 1000) },
      });
    });

    it('leaves the payload as it was when the fetcher fails, and answers with its error', async () => {
      const jar = await signIn('directory-down', { roles: ['admin'] });
      const response = await get('/fresh/admin', jar);
      expect(response.status).toBe(503);
      expect(setCookies(response)).toEqual([]);
      expect((await get('/me', jar)).body.payload).toEqual({ roles: ['admin'] });
      expect(rolesStore.fetches).toEqual(['directory-down']);
    });

    it('uses a fetcher registered by hand before bootstrap', async () => {
      const payer = await get('/fresh/pro', await signIn('payer', { plan: 'free' }));
      expect(payer.status).toBe(200);
      expect(payer.body.payload).toMatchObject({ plan: 'pro' });
      const freeRider = await get('/fresh/pro', await signIn('free-rider', { plan: 'pro' }));
      expect(freeRider.status).toBe(403);
      expect(freeRider.body.claimValidationErrors).toEqual([{ claim: 'plan', reason: 'must equal "pro"' }]);
    });

    it('answers a header session with the merged token in the access-token header', async () => {
      rolesStore.roles.set('f3', ['admin']);
      const login = await http.request
        .post('/login')
        .set(SESSION_TRANSPORT_HEADER, 'header')
        .send({ userId: 'f3', payload: {} })
        .expect(200);
      const first = await http.request
        .get('/fresh/admin')
        .set('Authorization', `Bearer ${login.headers[ACCESS_TOKEN_HEADER]}`)
        .expect(200);
      expect(setCookies(first)).toEqual([]);
      const merged = first.headers[ACCESS_TOKEN_HEADER];
      expect(merged).toBeTruthy();
      await http.request.get('/fresh/admin').set('Authorization', `Bearer ${merged}`).expect(200);
      expect(rolesStore.fetches).toEqual(['f3']);
    });
  });

  it('fails start-up for a maxAge claim without a fetcher or a claim that is no validator, saying how to fix it', async () => {
    const orphanDb = await createTestDatabase('sqlite');
    try {
      await expect(
        createHttpApp({ adapter, database: orphanDb.options, controllers: [OrphanClaimController] }),
      ).rejects.toThrow(/claim 'tier' in OrphanClaimController\.orphan .*@ClaimFetcher\('tier'\)/);
      await expect(
        createHttpApp({ adapter, database: orphanDb.options, controllers: [MistypedClaimController] }),
      ).rejects.toThrow(/MistypedClaimController\.mistyped holds "roles", which is no claim validator/);
    } finally {
      await orphanDb.drop();
    }
  });
});

describe.each(['useFactory', 'useClass', 'useExisting'] as const)(
  'claim validators with forRootAsync (%s)',
  (registration) => {
    it('refetches through a discovered fetcher and refuses with INVALID_CLAIM', async () => {
      const db = await createTestDatabase('sqlite');
      const http = await createHttpApp({
        adapter: 'express',
        database: db.options,
        registration,
        controllers: [FreshRolesController],
        providers: [RolesFetcher, PlanFetcherInstaller],
      });
      try {
        const login = await http.request.post('/login').send({ userId: 'async-user', payload: {} });
        const cookie = new CookieJar().store(login).header();
        expect((await http.request.get('/fresh/pro').set('Cookie', cookie)).body).toMatchObject({
          type: 'INVALID_CLAIM',
          claimValidationErrors: [{ claim: 'plan', reason: 'must equal "pro"' }],
        });
      } finally {
        await http.close();
        await db.drop();
      }
    });
  },
);

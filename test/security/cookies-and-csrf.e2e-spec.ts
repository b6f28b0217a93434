import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handlerRuns } from '../fixtures/test.controller.js';
import { CookieJar, cookieNamed, setCookies, type SetCookie } from '../support/cookies.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from '../support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { BrowserJar } from './support/browser-jar.js';
import { SESSION_COOKIES, expectTryRefresh, generationOf } from './support/expectations.js';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
} from '../../lib/http/wire.js';

/*
 * Cookie and CSRF attacks over HTTP on both adapters: every refused request answers 401 and never
 * runs the handler (`handlerRuns` counts runs of the guarded POST /notes).
 */

interface SignedIn {
  response: Response;
  jar: CookieJar;
  antiCsrf: string;
  handle: string;
}

async function signIn(http: HttpApp, userId = 'csrf-victim', prefix = ''): Promise<SignedIn> {
  const response = await http.request.post(`${prefix}/login`).send({ userId }).expect(200);
  return {
    response,
    jar: new CookieJar().store(response),
    antiCsrf: response.headers[ANTI_CSRF_HEADER] as string,
    handle: response.body.handle,
  };
}

/** POST /notes with the given cookie header and anti-csrf header (none when `undefined`). */
async function postNote(http: HttpApp, cookie: string, antiCsrf?: string | string[]) {
  const before = handlerRuns.notes;
  const request = http.request.post('/notes').set('Cookie', cookie);
  // An array sends the header twice.
  if (antiCsrf !== undefined) request.set(ANTI_CSRF_HEADER, antiCsrf as string);
  const response = await request;
  return { response, ran: handlerRuns.notes - before };
}

async function expectRefusedNote(
  http: HttpApp,
  cookie: string,
  antiCsrf: string | string[] | undefined,
  label: string,
) {
  const { response, ran } = await postNote(http, cookie, antiCsrf);
  expectTryRefresh(response, label);
  expect(ran, `${label} ran the handler`).toBe(0);
}

describe.each(ADAPTERS)('cookies and anti-csrf on %s', (adapter) => {
  let http: HttpApp;
  let victim: SignedIn;

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    http = await createHttpApp({ adapter, database: database.options });
    victim = await signIn(http);
  });
  afterAll(async () => {
    await http?.close();
  });

  it('accepts the genuine cookies and anti-csrf header (control)', async () => {
    const { response, ran } = await postNote(http, victim.jar.header(), victim.antiCsrf);
    expect(response.status).toBe(201);
    expect(ran).toBe(1);
  });

  it.each([
    'saccesstoken',
    'SACCESSTOKEN',
    'sAccesstoken',
    'SAccessToken',
    '__Host-sAccessToken',
    'sAccess%54oken',
  ])('ignores an access cookie named %s', async (name) => {
    const cookie = `${name}=${victim.jar.get(ACCESS_TOKEN_COOKIE)}; ${ID_REFRESH_TOKEN_COOKIE}=${victim.jar.get(ID_REFRESH_TOKEN_COOKIE)}`;
    await expectRefusedNote(http, cookie, victim.antiCsrf, name);
  });

  it.each(['sidrefreshtoken', 'SIDREFRESHTOKEN', 'sIDRefreshToken'])(
    'ignores an idRefreshToken cookie named %s',
    async (name) => {
      const cookie = `${ACCESS_TOKEN_COOKIE}=${victim.jar.get(ACCESS_TOKEN_COOKIE)}; ${name}=${victim.jar.get(ID_REFRESH_TOKEN_COOKIE)}`;
      const { response, ran } = await postNote(http, cookie, victim.antiCsrf);
      expect(response.status).toBe(401);
      expect(response.body.type).toBe('UNAUTHORISED');
      expect(ran).toBe(0);
    },
  );

  it.each(['srefreshtoken', 'SREFRESHTOKEN', 'sRefreshtoken'])(
    'ignores a refresh cookie named %s and rotates nothing',
    async (name) => {
      const session = await signIn(http, `refresh-${name}`);
      const refresh = session.jar.get(REFRESH_TOKEN_COOKIE)!;
      const response = await http.request.post('/session/refresh').set('Cookie', `${name}=${refresh}`);
      expect(response.status).toBe(401);
      expect(response.body.type).toBe('UNAUTHORISED');
      expect(await generationOf(http.dataSource, refresh)).toBe(1);
    },
  );

  it('refuses a cross-site POST that carries the cookies but no anti-csrf header', async () => {
    const crossSite = {
      Origin: 'https://evil.example',
      Referer: 'https://evil.example/attack.html',
      'Sec-Fetch-Site': 'cross-site',
      'Sec-Fetch-Mode': 'navigate',
    };
    const bodies: [string, string][] = [
      ['application/x-www-form-urlencoded', 'note=pwned'],
      ['text/plain', 'note=pwned'],
      [
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="note"\r\n\r\npwned\r\n--x--',
      ],
    ];
    for (const [type, body] of bodies) {
      const before = handlerRuns.notes;
      const response = await http.request
        .post('/notes')
        .set(crossSite)
        .set('Cookie', victim.jar.header())
        .set('Content-Type', type)
        .send(body);
      if (type.startsWith('multipart/') && response.status === 415) {
        // Fastify refuses a body type it has no parser for before any guard runs: refused all the same.
        expect(setCookies(response)).toEqual([]);
      } else {
        expectTryRefresh(response, type);
      }
      expect(handlerRuns.notes).toBe(before);
    }
    // Method-override conventions do not turn a POST into a safe method.
    for (const [header, value] of [
      ['X-HTTP-Method-Override', 'GET'],
      ['X-HTTP-Method', 'GET'],
      ['X-Method-Override', 'HEAD'],
    ]) {
      const before = handlerRuns.notes;
      const response = await http.request
        .post('/notes?_method=GET')
        .set(crossSite)
        .set(header, value)
        .set('Cookie', victim.jar.header());
      expectTryRefresh(response, header);
      expect(handlerRuns.notes).toBe(before);
    }
  });

  it('refuses the anti-csrf token of another session, of an older generation, or another token of this session', async () => {
    const other = await signIn(http, 'someone-else');
    const session = await signIn(http, 'rotating');
    const refreshed = await http.request
      .post('/session/refresh')
      .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${session.jar.get(REFRESH_TOKEN_COOKIE)}`)
      .expect(200);
    const jar = new CookieJar().store(session.response).store(refreshed);
    const newAntiCsrf = refreshed.headers[ANTI_CSRF_HEADER] as string;
    const refreshTag = session.jar.get(REFRESH_TOKEN_COOKIE)!.split('.')[3];
    const wrong: [string, string][] = [
      ["another session's", other.antiCsrf],
      ['the previous generation', session.antiCsrf],
      ['the idRefreshToken value', jar.get(ID_REFRESH_TOKEN_COOKIE)!],
      ["the refresh token's tag", refreshTag],
      ["the access token's signature", jar.get(ACCESS_TOKEN_COOKIE)!.split('.')[2]],
    ];
    for (const [label, value] of wrong) await expectRefusedNote(http, jar.header(), value, label);
    const { response } = await postNote(http, jar.header(), newAntiCsrf);
    expect(response.status).toBe(201);
  });

  it('refuses anti-csrf tokens of the wrong length', async () => {
    const valid = victim.antiCsrf;
    const cases: [string, string | string[] | undefined][] = [
      ['none', undefined],
      ['empty', ''],
      ['one character short', valid.slice(0, -1)],
      ['one character long', `${valid}A`],
      ['doubled', valid + valid],
      ['sent twice', [valid, valid]],
      ['10 KB', 'A'.repeat(10 * 1024)],
    ];
    for (const [label, value] of cases) await expectRefusedNote(http, victim.jar.header(), value, label);
  });

  it('refuses non-ASCII anti-csrf tokens and cookie values', async () => {
    const valid = victim.antiCsrf;
    const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    const cases: [string, string][] = [
      ['all é', 'é'.repeat(valid.length)],
      ['last character é', `${valid.slice(0, -1)}é`],
      ['UTF-8 bytes of é read as Latin-1', latin1(`${valid.slice(0, -2)}é`)],
      ['a non-breaking space', `${valid.slice(0, -1)}\u00a0`],
      ['ÿ padding', `${valid.slice(0, -3)}ÿÿÿ`],
    ];
    for (const [label, value] of cases) await expectRefusedNote(http, victim.jar.header(), value, label);
    const idRefresh = `${ID_REFRESH_TOKEN_COOKIE}=${victim.jar.get(ID_REFRESH_TOKEN_COOKIE)}`;
    for (const access of [
      `${victim.jar.get(ACCESS_TOKEN_COOKIE)}é`,
      latin1('ä.ö.ü'),
      '%C3%A9.%C3%A9.%C3%A9',
      '%FF%FE',
    ]) {
      await expectRefusedNote(
        http,
        `${ACCESS_TOKEN_COOKIE}=${access}; ${idRefresh}`,
        valid,
        `cookie ${access.slice(-12)}`,
      );
    }
  });

  it('accepts duplicate session cookies when every copy is equal', async () => {
    const access = victim.jar.get(ACCESS_TOKEN_COOKIE)!;
    const idRefresh = victim.jar.get(ID_REFRESH_TOKEN_COOKIE)!;
    for (const cookie of [
      `${ACCESS_TOKEN_COOKIE}=${access}; ${ACCESS_TOKEN_COOKIE}=${access}; ${ID_REFRESH_TOKEN_COOKIE}=${idRefresh}; ${ID_REFRESH_TOKEN_COOKIE}=${idRefresh}`,
      `${ACCESS_TOKEN_COOKIE}=${access}; ${ID_REFRESH_TOKEN_COOKIE}=${idRefresh}; ${ACCESS_TOKEN_COOKIE}="${access}"`,
    ]) {
      const { response, ran } = await postNote(http, cookie, victim.antiCsrf);
      expect(response.status, cookie).toBe(201);
      expect(ran).toBe(1);
    }
  });

  it('answers TRY_REFRESH_TOKEN to conflicting access cookies, whichever copy comes first', async () => {
    const other = await signIn(http, 'other-copy');
    const mine = victim.jar.get(ACCESS_TOKEN_COOKIE)!;
    const idRefresh = `${ID_REFRESH_TOKEN_COOKIE}=${victim.jar.get(ID_REFRESH_TOKEN_COOKIE)}`;
    for (const [first, second] of [
      [mine, other.jar.get(ACCESS_TOKEN_COOKIE)!],
      [other.jar.get(ACCESS_TOKEN_COOKIE)!, mine],
      [mine, 'garbage'],
      [mine, ''],
    ]) {
      const cookie = `${ACCESS_TOKEN_COOKIE}=${first}; ${idRefresh}; ${ACCESS_TOKEN_COOKIE}=${second}`;
      await expectRefusedNote(http, cookie, victim.antiCsrf, `${first.slice(0, 8)} + ${second.slice(0, 8)}`);
    }
  });
});

describe.each(ADAPTERS)('anti-csrf custom-header mode on %s', (adapter) => {
  let http: HttpApp;
  let victim: SignedIn;

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: database.options,
      options: { antiCsrf: 'custom-header' },
    });
    victim = await signIn(http);
  });
  afterAll(async () => {
    await http?.close();
  });

  it('refuses a cookie POST without the custom header (or with it empty), and accepts one with it', async () => {
    const cookie = victim.jar.header();
    for (const value of [undefined, '']) await expectRefusedNote(http, cookie, value, `header ${value}`);
    const { response, ran } = await postNote(http, cookie, '1');
    expect(response.status).toBe(201);
    expect(ran).toBe(1);
  });
});

describe.each(ADAPTERS)('duplicate cookies and a configured cookie.domain on %s', (adapter) => {
  const DOMAIN = 'example.test';
  let http: HttpApp;

  beforeAll(async () => {
    const database = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: database.options,
      options: { cookie: { domain: DOMAIN, sameSite: 'strict' } },
      globalPrefix: 'api',
    });
  });
  afterAll(async () => {
    await http?.close();
  });

  const login = (userId: string) => signIn(http, userId, '/api');

  function variants(response: Response, name: string): SetCookie[] {
    return setCookies(response).filter((cookie) => cookie.name === name);
  }

  /**
   * For each session cookie the request carried (`names`): one expired copy with the domain and one
   * host-only, set as login set it; nothing for the others.
   */
  function expectBothVariantsCleared(response: Response, setBy: Response, names = SESSION_COOKIES): void {
    const cookies = setCookies(response);
    expect(new Set(cookies.map((cookie) => cookie.name))).toEqual(new Set(names));
    for (const cookie of cookies) expect([cookie.value, cookie.expires?.getTime()]).toEqual(['', 0]);
    for (const name of names) {
      const set = cookieNamed(setBy, name)!;
      const cleared = variants(response, name);
      expect(cleared.map((cookie) => cookie.domain ?? null).sort(), name).toEqual([DOMAIN, null].sort());
      for (const cookie of cleared) {
        expect(
          { path: cookie.path, secure: cookie.secure, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite },
          `${name} cleared with other attributes than set`,
        ).toEqual({ path: set.path, secure: set.secure, httpOnly: set.httpOnly, sameSite: set.sameSite });
      }
    }
  }

  it('sets cookies on the domain, and clears both the domain and the host-only variants with the attributes of setting', async () => {
    const { response, jar, antiCsrf } = await login('domain-user');
    for (const name of SESSION_COOKIES) expect(cookieNamed(response, name)?.domain).toBe(DOMAIN);
    expect(cookieNamed(response, REFRESH_TOKEN_COOKIE)?.path).toBe('/api/session/refresh');
    // Clearing on an UNAUTHORISED answer (idRefreshToken missing)...
    const refused = await http.request
      .get('/api/me')
      .set('Cookie', jar.without(ID_REFRESH_TOKEN_COOKIE).header());
    expect(refused.status).toBe(401);
    expectBothVariantsCleared(refused, response, [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE]);
    // ...and on sign-out.
    const signedOut = await http.request
      .post('/api/logout')
      .set('Cookie', jar.header())
      .set(ANTI_CSRF_HEADER, antiCsrf)
      .expect(200);
    expectBothVariantsCleared(signedOut, response);
  });

  it('answers conflicting refresh cookies with UNAUTHORISED, clears both variants and rotates nothing', async () => {
    const first = await login('refresh-conflict');
    const second = await login('refresh-conflict');
    const mine = first.jar.get(REFRESH_TOKEN_COOKIE)!;
    const response = await http.request
      .post('/api/session/refresh')
      .set(
        'Cookie',
        `${REFRESH_TOKEN_COOKIE}=${mine}; ${REFRESH_TOKEN_COOKIE}=${second.jar.get(REFRESH_TOKEN_COOKIE)}`,
      );
    expect(response.status).toBe(401);
    expect(response.body.type).toBe('UNAUTHORISED');
    expectBothVariantsCleared(response, first.response, [REFRESH_TOKEN_COOKIE]);
    expect(await generationOf(http.dataSource, mine)).toBe(1);
    expect(await generationOf(http.dataSource, second.jar.get(REFRESH_TOKEN_COOKIE)!)).toBe(1);
  });
});

const [mariadb] = await reachableDatabases(['mariadb']);

describe.each(mariadb ? ADAPTERS : [])(
  'a changed cookie.domain across two deployments on %s (MariaDB)',
  (adapter) => {
    const DOMAIN = 'example.test';
    let database: TestDatabase;
    let before: HttpApp;
    let after: HttpApp;

    beforeAll(async () => {
      database = await createTestDatabase('mariadb');
      before = await createHttpApp({ adapter, database: database.options });
      after = await createHttpApp({
        adapter,
        database: database.options,
        options: { cookie: { domain: DOMAIN } },
      });
    });
    afterAll(async () => {
      await before?.close();
      await after?.close();
      await database?.drop();
    });

    it('keeps a session from before the change: stale host-only copies cost at most a refresh, never a sign-in', async () => {
      const browser = new BrowserJar(`app.${DOMAIN}`);
      const signedIn = await before.request.post('/login').send({ userId: 'migrating-user' }).expect(200);
      browser.store(signedIn);
      // The new deployment sets domain cookies next to the host-only ones on its first refresh.
      const firstRefresh = await after.request
        .post('/session/refresh')
        .set('Cookie', browser.header('/session/refresh'))
        .expect(200);
      browser.store(firstRefresh);
      // What a front end does: call the API, refresh on TRY_REFRESH_TOKEN, retry; at most twice.
      let antiCsrf = firstRefresh.headers[ANTI_CSRF_HEADER] as string;
      let answer: Response | undefined;
      for (let attempt = 0; attempt < 2; attempt++) {
        answer = await after.request
          .post('/notes')
          .set('Cookie', browser.header('/notes'))
          .set(ANTI_CSRF_HEADER, antiCsrf);
        if (answer.status !== 401) break;
        expect(answer.body.type, 'a stale copy must ask for a refresh, not a sign-in').toBe(
          'TRY_REFRESH_TOKEN',
        );
        const refreshed = await after.request
          .post('/session/refresh')
          .set('Cookie', browser.header('/session/refresh'));
        expect(refreshed.status, `refresh with ${browser.header('/session/refresh')}`).toBe(200);
        browser.store(refreshed);
        antiCsrf = refreshed.headers[ANTI_CSRF_HEADER] as string;
      }
      expect(answer!.status).toBe(201);
    });
  },
);

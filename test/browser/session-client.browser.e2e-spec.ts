import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { serveClientModule } from '../support/client-page.js';
import type { SessionClient, SessionClientOptions } from '../../lib/client/session-client.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { ANTI_CSRF_HEADER, ID_REFRESH_TOKEN_HEADER } from '../../lib/http/wire.js';

const canRun = chromiumAvailable();

/**
 * Every `*.test` host name resolves to one loopback server that dispatches on the Host header, so
 * the page, its API and the attacker get real, distinct origins (and lookalike names) in Chromium:
 * - the page and the session API: http://app.example.test
 * - the session API on another origin, allowed by CORS: http://api.example.test
 * - foreign origins, recording what reaches them: anything else.
 * The session cookies use `Domain=example.test`, so a same-site foreign host would receive them.
 * A second API, with `cookie.namePrefix: '__Host-'` and `secure: true`, serves the page at
 * http://localhost:<port>, which Chromium treats as secure for cookies.
 */
const PAGE = 'http://app.example.test';
const API = 'http://api.example.test';
const FOREIGN = [
  'http://other.example.test', // same site: the session cookies would reach it
  'http://api.example.test:81', // the API's host on another port
  'http://api.example.test.evil.test', // the API's origin as a prefix
  'http://evil-api.example.test', // the API's host as a suffix
];

/** What a foreign server saw of one request. */
interface Seen {
  origin: string;
  path: string;
  antiCsrf: string | undefined;
  cookie: string | undefined;
}

/** What the test page exposes: the client module, the client under test and its sign-outs. */
interface TestPage {
  createSessionClient(options: SessionClientOptions): SessionClient;
  client: SessionClient;
  signedOut: string[];
}

/** The test page of `origin`; `head` may add a `<base>`, which the absolute import ignores. */
const pageHtml = (origin: string, head = '') => `<!doctype html><html><head><meta charset="utf-8">
${head}<link rel="icon" href="data:,">
<script type="module">
  import { createSessionClient } from '${origin}/client/session-client.js';
  window.createSessionClient = createSessionClient;
  window.signedOut = [];
</script></head><body>client test</body></html>`;

describe.runIf(canRun).each(ADAPTERS)('the browser client in Chromium, API on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;
  let hostDb: TestDatabase;
  /** The API with `__Host-` cookie names, serving http://localhost:<port>. */
  let hostHttp: HttpApp;
  let local: string;
  let server: Server;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const seen: Seen[] = [];
  const refreshes: string[] = [];

  function foreign(request: IncomingMessage, response: ServerResponse, origin: string): void {
    // A cooperating attacker: CORS lets the page send anything and read everything.
    response.setHeader('access-control-allow-origin', request.headers.origin ?? '*');
    response.setHeader('access-control-allow-credentials', 'true');
    response.setHeader(
      'access-control-allow-headers',
      request.headers['access-control-request-headers'] ?? '*',
    );
    response.setHeader('access-control-allow-methods', 'GET, POST, PUT, DELETE');
    response.setHeader('access-control-expose-headers', 'anti-csrf, id-refresh-token');
    if (request.method === 'OPTIONS') return void response.writeHead(204).end();
    const url = new URL(request.url!, origin);
    seen.push({
      origin,
      path: url.pathname,
      antiCsrf: request.headers[ANTI_CSRF_HEADER] as string | undefined,
      cookie: request.headers.cookie,
    });
    if (url.pathname === '/plant') {
      response.setHeader(ANTI_CSRF_HEADER, 'planted-by-attacker');
      response.setHeader(ID_REFRESH_TOKEN_HEADER, `${url.searchParams.get('id')};${Date.now() + 3_600_000}`);
    } else if (url.pathname === '/remove') {
      response.setHeader(ID_REFRESH_TOKEN_HEADER, 'remove');
    } else if (url.pathname === '/expired' || url.pathname === '/revoked') {
      const type = url.pathname === '/expired' ? 'TRY_REFRESH_TOKEN' : 'UNAUTHORISED';
      return void response
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ type }));
    }
    response.writeHead(200, { 'content-type': 'text/plain' }).end('foreign');
  }

  function dispatch(request: IncomingMessage, response: ServerResponse): void {
    const origin = `http://${request.headers.host}`;
    const path = request.url ?? '/';
    if ((origin === PAGE || origin === local) && path === '/') {
      return void response.writeHead(200, { 'content-type': 'text/html' }).end(pageHtml(origin));
    }
    if (origin === PAGE && path === '/based') {
      const head = `<base href="${FOREIGN[0]}/">`;
      return void response.writeHead(200, { 'content-type': 'text/html' }).end(pageHtml(origin, head));
    }
    if ((origin === PAGE || origin === local) && serveClientModule(path, response)) return;
    if (origin === PAGE && path.startsWith('/hop?')) {
      const query = new URL(path, origin).searchParams;
      return void response
        .writeHead(Number(query.get('status') ?? 302), { location: query.get('to')! })
        .end();
    }
    if (origin === local) {
      if (path.startsWith('/session/refresh')) refreshes.push(origin);
      return serve(hostHttp, request, response);
    }
    if (origin !== PAGE && origin !== API) return foreign(request, response, origin);
    if (origin === API && request.headers.origin === PAGE) {
      response.setHeader('access-control-allow-origin', PAGE);
      response.setHeader('access-control-allow-credentials', 'true');
      response.setHeader('vary', 'Origin');
      if (request.method === 'OPTIONS') {
        response.setHeader('access-control-allow-methods', 'GET, POST');
        response.setHeader('access-control-allow-headers', 'content-type, anti-csrf');
        return void response.writeHead(204).end();
      }
    }
    if (path.startsWith('/session/refresh')) refreshes.push(origin);
    serve(http, request, response);
  }

  function serve(app: HttpApp, request: IncomingMessage, response: ServerResponse): void {
    const instance = app.app.getHttpAdapter().getInstance();
    if (adapter === 'fastify') instance.server.emit('request', request, response);
    else instance(request, response);
  }

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { cookie: { domain: 'example.test', secure: false } },
    });
    hostDb = await createTestDatabase('sqlite');
    hostHttp = await createHttpApp({
      adapter,
      database: hostDb.options,
      options: { cookie: { namePrefix: '__Host-', secure: true } },
    });
    server = createServer(dispatch);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    local = `http://localhost:${port}`;
    browser = await launchChromium([`--host-resolver-rules=MAP *.test 127.0.0.1:${port}`]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await http?.close();
    await hostHttp?.close();
    await db?.drop();
    await hostDb?.drop();
  });

  beforeEach(async () => {
    seen.length = 0;
    refreshes.length = 0;
    context = await browser.newContext();
    page = await context.newPage();
    await open(`${PAGE}/`);
  });

  afterEach(async () => {
    await context.close();
  });

  /** Creates the page's client (`onSignedOut` records its reasons in `signedOut`). */
  async function createClient(options: SessionClientOptions = {}): Promise<void> {
    await page.evaluate((options) => {
      const window = globalThis as unknown as TestPage;
      window.client = window.createSessionClient({
        ...options,
        onSignedOut: ({ type }) => void window.signedOut.push(type),
      });
    }, options);
  }

  /** Opens the test page at `url`. */
  async function open(url: string): Promise<void> {
    await page.goto(url);
    await page.waitForFunction(() => 'createSessionClient' in globalThis);
  }

  /** `client.fetch` in the page: the status, type and body it got, or the error it threw. */
  async function clientFetch(
    url: string,
    init: { method?: string; body?: string } = {},
  ): Promise<{ status: number; type: string; redirected: boolean; body: string } | { error: string }> {
    return page.evaluate(
      async ([url, init]) => {
        try {
          const response = await (globalThis as unknown as TestPage).client.fetch(url, {
            ...init,
            headers: init.body ? { 'content-type': 'application/json' } : undefined,
          });
          const { status, type, redirected } = response;
          return { status, type, redirected, body: await response.text() };
        } catch (error) {
          return { error: String(error) };
        }
      },
      [url, init] as const,
    );
  }

  /** What the client holds: its anti-csrf token, the shared storage, the page's cookie. */
  async function clientState() {
    return page.evaluate(() => ({
      antiCsrf: (globalThis as unknown as TestPage).client.antiCsrfToken(),
      hasSession: (globalThis as unknown as TestPage).client.hasSession(),
      stored: (
        globalThis as unknown as { localStorage: { getItem(key: string): string | null } }
      ).localStorage.getItem('nestjs-token-session'),
      signedOut: (globalThis as unknown as TestPage).signedOut,
    }));
  }

  async function signIn(base: string): Promise<void> {
    expect(
      await clientFetch(`${base}/login`, { method: 'POST', body: JSON.stringify({ userId: 'ada' }) }),
    ).toMatchObject({
      status: 200,
    });
    expect((await clientState()).antiCsrf).toEqual(expect.any(String));
  }

  it('sends no anti-csrf header and no cookies to an origin outside apiOrigins, lookalikes included', async () => {
    await createClient({ apiOrigins: [API] });
    await signIn(PAGE);
    for (const origin of FOREIGN) {
      expect(await clientFetch(`${origin}/collect`, { method: 'POST', body: '{}' })).toMatchObject({
        status: 200,
      });
    }
    expect(seen.map(({ origin }) => origin)).toEqual(FOREIGN);
    for (const request of seen) expect(request).toMatchObject({ antiCsrf: undefined, cookie: undefined });
    // The same page's own API still gets both.
    expect(await clientFetch(`${PAGE}/notes`, { method: 'POST', body: '{}' })).toMatchObject({
      status: 201,
    });
  });

  it('keeps its tokens whatever a foreign response or a redirect to one says', async () => {
    await createClient({ apiOrigins: [API] });
    await signIn(PAGE);
    const before = await clientState();
    const id = before.stored && (JSON.parse(before.stored) as { idRefreshToken: string }).idRefreshToken;
    for (const origin of FOREIGN) {
      await clientFetch(`${origin}/plant?id=${id}`);
      await clientFetch(`${origin}/remove`);
    }
    const hop = (to: string) => `${PAGE}/hop?to=${encodeURIComponent(to)}`;
    expect(await clientFetch(hop(`${FOREIGN[0]}/plant?id=${id}`))).toMatchObject({ status: 200 });
    expect(await clientFetch(hop(`${FOREIGN[0]}/remove`))).toMatchObject({ status: 200 });
    expect(seen.filter(({ path }) => path === '/plant' || path === '/remove')).toHaveLength(
      FOREIGN.length * 2 + 2,
    );
    expect(await clientState()).toEqual(before);
  });

  it('neither refreshes nor signs out on a foreign 401', async () => {
    await createClient({ apiOrigins: [API] });
    await signIn(PAGE);
    for (const origin of FOREIGN) {
      expect(await clientFetch(`${origin}/expired`, { method: 'POST' })).toMatchObject({ status: 401 });
      expect(await clientFetch(`${origin}/revoked`)).toMatchObject({ status: 401 });
    }
    expect(await clientFetch(`${PAGE}/hop?to=${encodeURIComponent(`${FOREIGN[0]}/revoked`)}`)).toMatchObject({
      status: 401,
    });
    expect(refreshes).toEqual([]);
    expect(await clientState()).toMatchObject({
      hasSession: true,
      antiCsrf: expect.any(String),
      signedOut: [],
    });
  });

  it('gives an origin in apiOrigins credentials, the anti-csrf header and refreshes', async () => {
    await createClient({ apiOrigins: [`${API}/`], refreshPath: `${API}/session/refresh` });
    await signIn(API);
    expect(await clientFetch(`${API}/notes`, { method: 'POST', body: '{}' })).toMatchObject({
      status: 201,
    });
    http.clock.advance(3600);
    expect(await clientFetch(`${API}/notes`, { method: 'POST', body: '{}' })).toMatchObject({
      status: 201,
    });
    expect(refreshes).toEqual([API]);
    expect(await clientFetch(`${API}/me`)).toMatchObject({ status: 200 });
  });

  it('refuses apiOrigins that are not bare origins, and a refresh path elsewhere', async () => {
    const created = (options: SessionClientOptions) =>
      page.evaluate((options) => {
        try {
          (globalThis as unknown as TestPage).createSessionClient(options);
          return 'created';
        } catch (error) {
          return String(error);
        }
      }, options);
    for (const entry of [
      `${API}/v1`,
      `${API}?`,
      'http://*.example.test',
      'api.example.test',
      `http://user@api.example.test`,
    ]) {
      expect(await created({ apiOrigins: [entry] })).toMatch(/apiOrigins entries must be bare origins/);
    }
    expect(await created({ refreshPath: `${API}/session/refresh` })).toMatch(/add that origin to apiOrigins/);
    expect(await created({ apiOrigins: [API], refreshPath: `${API}/session/refresh` })).toBe('created');
  });

  it('treats a malformed sIdRefreshToken cookie as no session', async () => {
    await createClient();
    await signIn(PAGE);
    await page.evaluate(() => {
      (globalThis as unknown as { document: { cookie: string } }).document.cookie =
        'sIdRefreshToken=%E0%A4%A; Path=/; Domain=example.test';
    });
    expect(await clientState()).toMatchObject({ hasSession: false, antiCsrf: undefined });
    expect(await clientFetch(`${PAGE}/me`)).toMatchObject({ status: expect.any(Number) });
    expect(await clientFetch(`${PAGE}/notes`, { method: 'POST', body: '{}' })).toMatchObject({
      status: expect.any(Number),
    });
    expect(await page.evaluate(() => (globalThis as unknown as TestPage).client.refresh())).toBe(false);
  });

  it('signs in, sends anti-csrf and refreshes with __Host- cookies, and ignores a planted plain sIdRefreshToken', async () => {
    await open(`${local}/`);
    await createClient({ cookieNamePrefix: '__Host-' });
    await signIn(local);
    expect((await context.cookies()).map(({ name }) => name).sort()).toEqual([
      '__Host-sAccessToken',
      '__Host-sIdRefreshToken',
      '__Host-sRefreshToken',
    ]);
    expect(await clientState()).toMatchObject({ hasSession: true, antiCsrf: expect.any(String) });
    expect(await clientFetch(`${local}/notes`, { method: 'POST', body: '{}' })).toMatchObject({
      status: 201,
    });
    hostHttp.clock.advance(3600);
    expect(await clientFetch('/notes', { method: 'POST', body: '{}' })).toMatchObject({ status: 201 });
    expect(refreshes).toEqual([local]);

    // Signed out, a plain sIdRefreshToken (any sibling or plain-HTTP page can set one) is no session.
    expect(await clientFetch('/logout', { method: 'POST' })).toMatchObject({ status: 200 });
    await page.evaluate(() => {
      (globalThis as unknown as { document: { cookie: string } }).document.cookie =
        'sIdRefreshToken=planted; Path=/';
    });
    expect((await context.cookies()).map(({ name }) => name)).toEqual(['sIdRefreshToken']);
    expect(await clientState()).toMatchObject({ hasSession: false, antiCsrf: undefined });
    expect(await page.evaluate(() => (globalThis as unknown as TestPage).client.refresh())).toBe(false);
    expect(refreshes).toEqual([local]);
  });

  it('resolves a relative URL against <base href> as fetch does: that origin gets no anti-csrf or cookies', async () => {
    await open(`${PAGE}/based`);
    await createClient({ refreshPath: `${PAGE}/session/refresh` });
    await signIn(PAGE);
    expect(await clientFetch('/notes', { method: 'POST', body: '{}' })).toMatchObject({
      status: 200,
      body: 'foreign',
    });
    expect(seen).toEqual([{ origin: FOREIGN[0], path: '/notes', antiCsrf: undefined, cookie: undefined }]);
    expect(await clientFetch(`${PAGE}/notes`, { method: 'POST', body: '{}' })).toMatchObject({
      status: 201,
    });
    // The default refresh path would go there too: the client refuses it.
    const defaultRefresh = await page.evaluate(() => {
      try {
        (globalThis as unknown as TestPage).createSessionClient({});
        return 'created';
      } catch (error) {
        return String(error);
      }
    });
    expect(defaultRefresh).toMatch(/refreshPath "\/session\/refresh" is on http:\/\/other\.example\.test/);
  });

  it('follows same-origin redirects of a GET, and no redirect of a request carrying anti-csrf', async () => {
    await createClient();
    await signIn(PAGE);
    const hop = (to: string, status: number) => `${PAGE}/hop?status=${status}&to=${encodeURIComponent(to)}`;
    for (const status of [302, 307]) {
      expect(await clientFetch(hop(`${PAGE}/me`, status))).toMatchObject({
        status: 200,
        type: 'basic',
        redirected: true,
      });
    }
    // Neither the 307/308 (which keep the method and body) nor the 302/303 (which turn the POST
    // into a GET) take the header to another origin: the page gets the redirect unopened.
    for (const status of [307, 308, 302, 303]) {
      for (const to of [`${FOREIGN[0]}/collect`, `${PAGE}/notes`]) {
        expect(await clientFetch(hop(to, status), { method: 'POST', body: '{}' })).toMatchObject({
          status: 0,
          type: 'opaqueredirect',
        });
      }
    }
    expect(seen).toEqual([]);
  });

  it('keeps the method, headers and body of a Request, also when it retries after a refresh', async () => {
    await createClient();
    await signIn(PAGE);
    http.clock.advance(3600);
    const result = await page.evaluate(async () => {
      const response = await (globalThis as unknown as TestPage).client.fetch(
        new Request('/data', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data: { note: 1 } }),
        }),
      );
      return { status: response.status, body: await response.json() };
    });
    expect(result).toEqual({ status: 200, body: { data: { note: 1 } } });
    expect(refreshes).toEqual([PAGE]);
  });
});

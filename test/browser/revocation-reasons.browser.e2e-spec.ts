import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SessionClient, SessionClientOptions, SignedOutEvent } from '../../lib/client/session-client.js';
import { REFRESH_TOKEN_COOKIE } from '../../lib/index.js';
import { RevocationController } from '../fixtures/revocation.fixtures.js';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { serveClientModule } from '../support/client-page.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';

const canRun = chromiumAvailable();
const IDLE_SECONDS = 3600;

/** What the test page exposes: the client and what its `onSignedOut` received. */
interface TestPage {
  createSessionClient(options: SessionClientOptions): SessionClient;
  client: SessionClient;
  signedOut: SignedOutEvent[];
}

const PAGE_HTML = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
  import { createSessionClient } from '/client/session-client.js';
  window.signedOut = [];
  window.client = createSessionClient({ onSignedOut: (event) => void window.signedOut.push(event) });
</script></head><body>reasons</body></html>`;

describe.runIf(canRun).each(ADAPTERS)(
  'revocation reasons and remember-me in Chromium, API on %s',
  (adapter) => {
    let database: TestDatabase;
    let http: HttpApp;
    let server: Server;
    let origin: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    let users = 0;

    function dispatch(request: IncomingMessage, response: ServerResponse): void {
      const path = request.url ?? '/';
      if (path === '/') return void response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE_HTML);
      if (serveClientModule(path, response)) return;
      const instance = http.app.getHttpAdapter().getInstance();
      if (adapter === 'fastify') instance.server.emit('request', request, response);
      else instance(request, response);
    }

    beforeAll(async () => {
      database = await createTestDatabase('sqlite');
      http = await createHttpApp({
        adapter,
        database: database.options,
        options: {
          cookie: { secure: false },
          refreshToken: { validity: IDLE_SECONDS },
          maxSessionsPerUser: 2,
        },
        controllers: [RevocationController],
      });
      server = createServer(dispatch);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://localhost:${(server.address() as { port: number }).port}`;
      browser = await launchChromium();
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await new Promise((resolve) => server?.close(resolve));
      await http?.close();
      await database?.drop();
    });

    beforeEach(async () => {
      context = await browser.newContext();
      page = await context.newPage();
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => 'client' in globalThis);
    });

    afterEach(async () => {
      await context.close();
    });

    /** Signs the page in through the client; returns the user and the session handle. */
    async function signIn(persistent?: boolean): Promise<{ userId: string; handle: string }> {
      const userId = `browser-${adapter}-${++users}`;
      const handle = await page.evaluate(
        async ([userId, persistent]) => {
          const response = await (globalThis as unknown as TestPage).client.fetch('/r/login', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ userId, persistent }),
          });
          return ((await response.json()) as { handle: string }).handle;
        },
        [userId, persistent] as const,
      );
      return { userId, handle };
    }

    /** A `checkDatabase` request from the page: the status it got and what `onSignedOut` received. */
    async function checkFromPage(): Promise<{ status: number; signedOut: SignedOutEvent[] }> {
      return page.evaluate(async () => {
        const window = globalThis as unknown as TestPage;
        const response = await window.client.fetch('/strict');
        return { status: response.status, signedOut: window.signedOut };
      });
    }

    const admin = (body: object) => http.request.post('/r/admin/revoke').send(body).expect(200);

    it.each([
      { reason: undefined, told: 'revoked' },
      { reason: 'password-changed', told: 'password-changed' },
      { reason: 'impersonation-ended', told: 'impersonation-ended' },
    ])('calls onSignedOut with the reason of a revocation by handle ($told)', async ({ reason, told }) => {
      const { handle } = await signIn();
      await admin({ how: 'handle', handle, reason });
      expect(await checkFromPage()).toEqual({
        status: 401,
        signedOut: [{ type: 'UNAUTHORISED', reason: told }],
      });
    });

    it("calls onSignedOut with 'signed-out-everywhere', 'others-revoked' and 'limit'", async () => {
      const everywhere = await signIn();
      await admin({ how: 'all', userId: everywhere.userId });
      expect((await checkFromPage()).signedOut).toEqual([
        { type: 'UNAUTHORISED', reason: 'signed-out-everywhere' },
      ]);

      await page.reload();
      await page.waitForFunction(() => 'client' in globalThis);
      const others = await signIn();
      const elsewhere = await http.request.post('/r/login').send({ userId: others.userId }).expect(200);
      const cookie = (elsewhere.headers['set-cookie'] as unknown as string[]).map((raw) => raw.split(';')[0]);
      await http.request
        .post('/r/revoke-others')
        .set('Cookie', cookie.join('; '))
        .set('anti-csrf', elsewhere.headers['anti-csrf'] as string)
        .send({})
        .expect(200);
      expect((await checkFromPage()).signedOut).toEqual([{ type: 'UNAUTHORISED', reason: 'others-revoked' }]);

      await page.reload();
      await page.waitForFunction(() => 'client' in globalThis);
      const limited = await signIn();
      // Two newer sign-ins at the cap of 2 push the page's session out.
      http.clock.advance(1);
      await http.request.post('/r/login').send({ userId: limited.userId }).expect(200);
      http.clock.advance(1);
      await http.request.post('/r/login').send({ userId: limited.userId }).expect(200);
      expect((await checkFromPage()).signedOut).toEqual([{ type: 'UNAUTHORISED', reason: 'limit' }]);
    });

    it("calls onSignedOut with 'theft' when the page's refresh token was replayed elsewhere", async () => {
      await signIn();
      const stolen = (await context.cookies()).find((cookie) => cookie.name === REFRESH_TOKEN_COOKIE)!.value;
      expect(await page.evaluate(() => (globalThis as unknown as TestPage).client.refresh())).toBe(true);
      http.clock.advance(11); // past the grace period
      await http.request
        .post('/session/refresh')
        .set('Cookie', `${REFRESH_TOKEN_COOKIE}=${stolen}`)
        .expect(401);
      const refreshed = await page.evaluate(async () => {
        const window = globalThis as unknown as TestPage;
        return { ok: await window.client.refresh(), signedOut: window.signedOut };
      });
      expect(refreshed).toEqual({ ok: false, signedOut: [{ type: 'UNAUTHORISED', reason: 'theft' }] });
    });

    it("calls onSignedOut with 'expired' when the session idled out", async () => {
      await signIn();
      http.clock.advance(IDLE_SECONDS + 1);
      // The access token has expired too: the client refreshes, and the refresh says why.
      expect(await checkFromPage()).toEqual({
        status: 401,
        signedOut: [{ type: 'UNAUTHORISED', reason: 'expired' }],
      });
    });

    it('keeps "remember me"-less cookies to the browser session across refreshes; remembered ones get an expiry', async () => {
      const sessionCookies = async () =>
        (await context.cookies())
          .filter((cookie) => cookie.name.startsWith('s'))
          .map((cookie) => cookie.expires);
      await signIn(false);
      expect(await sessionCookies()).toEqual([-1, -1, -1]);
      expect(await page.evaluate(() => (globalThis as unknown as TestPage).client.refresh())).toBe(true);
      expect(await sessionCookies()).toEqual([-1, -1, -1]);
      expect((await checkFromPage()).status).toBe(200);

      await context.clearCookies();
      await signIn(true);
      const expiries = await sessionCookies();
      expect(expiries).toHaveLength(3);
      expect(expiries.every((expires) => expires > Date.now() / 1000)).toBe(true);
    });
  },
);

import { Controller, Get, Header } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { PublicAccess, type SessionModuleOptions } from '../../lib/index.js';
import { createTestDatabase } from '../support/databases.js';
import { ADAPTERS, createHttpApp, type AdapterKind, type HttpApp } from '../support/http-app.js';
import {
  ACCESS_TOKEN_COOKIE,
  ID_REFRESH_TOKEN_COOKIE,
  ID_REFRESH_TOKEN_HEADER,
  REFRESH_TOKEN_COOKIE,
  SESSION_TRANSPORT_HEADER,
} from '../../lib/http/wire.js';

/*
 * The transport rules as a real browser applies them: page script on the app's own origin, the
 * `__Host-` cookie prefix, and a cross-site auto-submitted form. The app is served at
 * http://localhost:<port>; the attacker's page at http://127.0.0.1:<port>, another site.
 */

const canRun = chromiumAvailable();

/** An empty same-origin page for page script to run on. */
@Controller()
class PageController {
  @PublicAccess()
  @Get('page')
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return '<!doctype html><title>app</title><p>app</p>';
  }
}

interface ServedApp {
  http: HttpApp;
  origin: string;
}

async function serveApp(
  adapter: AdapterKind,
  options: Partial<SessionModuleOptions> = {},
): Promise<ServedApp> {
  const database = await createTestDatabase('sqlite');
  const http = await createHttpApp({
    adapter,
    database: database.options,
    options,
    controllers: [PageController],
  });
  await http.app.listen(0, '127.0.0.1');
  const { port } = http.app.getHttpServer().address() as AddressInfo;
  return { http, origin: `http://localhost:${port}` };
}

/** Signs in from page script, as a front end does (cookie transport). */
async function signIn(page: Page, origin: string, userId: string): Promise<void> {
  await page.goto(`${origin}/page`);
  const status = await page.evaluate(
    async (body) =>
      (
        await fetch('/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          credentials: 'include',
        })
      ).status,
    JSON.stringify({ userId }),
  );
  expect(status).toBe(200);
}

/** What page script learns from a call: status and the readable token headers. */
function callFromPage(page: Page, path: string, init: { method?: string; headers?: Record<string, string> }) {
  return page.evaluate(
    async ({ path, init }) => {
      const response = await fetch(path, { ...init, credentials: 'include' });
      return {
        status: response.status,
        accessToken: response.headers.get('access-token'),
        refreshToken: response.headers.get('refresh-token'),
      };
    },
    { path, init },
  );
}

async function cookieNames(context: BrowserContext): Promise<string[]> {
  return (await context.cookies()).map((cookie) => cookie.name).sort();
}

describe.runIf(canRun)('transport rules in headless Chromium', () => {
  let browser: Browser;
  let attacker: Server;
  let attackerOrigin: string;
  /** The page the attacker's site serves: a form that posts itself to `?target=`. */
  const attackPage = (target: string) =>
    `<!doctype html><form id="f" method="POST" action="${target}"><input name="x" value="1"></form>` +
    '<script>document.getElementById("f").submit()</script>';

  beforeAll(async () => {
    attacker = createServer((request, response) => {
      const target = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams.get('target') ?? '';
      response.writeHead(200, { 'content-type': 'text/html' }).end(attackPage(target));
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
  });

  describe.each(ADAPTERS)('on %s', (adapter) => {
    let app: ServedApp;
    let prefixed: ServedApp;

    beforeAll(async () => {
      app = await serveApp(adapter);
      prefixed = await serveApp(adapter, { cookie: { namePrefix: '__Host-' } });
    });
    afterAll(async () => {
      await app?.http.close();
      await prefixed?.http.close();
    });

    it('page script asking a cookie refresh for header transport reads no token', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await signIn(page, app.origin, 'page-script-victim');
      // Chromium keeps Secure cookies from http://localhost (a secure context).
      expect(await cookieNames(context)).toEqual([
        ACCESS_TOKEN_COOKIE,
        ID_REFRESH_TOKEN_COOKIE,
        REFRESH_TOKEN_COOKIE,
      ]);
      const before = (await context.cookies()).find((cookie) => cookie.name === REFRESH_TOKEN_COOKIE)!.value;
      const seen = await callFromPage(page, '/session/refresh', {
        method: 'POST',
        headers: { [SESSION_TRANSPORT_HEADER]: 'header' },
      });
      expect(seen).toEqual({ status: 200, accessToken: null, refreshToken: null });
      const after = (await context.cookies()).find((cookie) => cookie.name === REFRESH_TOKEN_COOKIE)!.value;
      expect(after).not.toBe(before);
      expect((await callFromPage(page, '/me', {})).status).toBe(200);
      await context.close();
    });

    it('accepts __Host- cookies from http://localhost and keeps the session working with them', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await signIn(page, prefixed.origin, 'prefixed-user');
      const cookies = await context.cookies();
      expect(cookies.map((cookie) => cookie.name).sort()).toEqual([
        '__Host-sAccessToken',
        '__Host-sIdRefreshToken',
        '__Host-sRefreshToken',
      ]);
      for (const cookie of cookies)
        expect(cookie).toMatchObject({ secure: true, path: '/', domain: 'localhost' });
      expect((await callFromPage(page, '/me', {})).status).toBe(200);
      expect((await callFromPage(page, '/session/refresh', { method: 'POST' })).status).toBe(200);
      expect((await callFromPage(page, '/me', {})).status).toBe(200);
      // Page script can neither plant a __Host- cookie with a Domain nor without Secure.
      await page.evaluate(() => {
        const page = globalThis as unknown as { document: { cookie: string } };
        page.document.cookie = '__Host-sAccessToken=planted; Path=/; Domain=localhost';
        page.document.cookie = '__Host-sIdRefreshToken=planted; Path=/';
      });
      expect((await context.cookies()).filter((cookie) => cookie.value === 'planted')).toEqual([]);
      await context.close();
    });

    it('a cross-site auto-submitted form posting to the sign-out route does not sign the user out', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await signIn(page, app.origin, 'csrf-victim');
      const signedIn = await context.cookies();
      const logout = page.waitForResponse((response) => response.url() === `${app.origin}/logout`);
      await page.goto(`${attackerOrigin}/?target=${encodeURIComponent(`${app.origin}/logout`)}`);
      const response = await logout;
      // SameSite=Lax kept the cookies off the cross-site POST, so it was refused ...
      expect(response.status()).toBe(401);
      expect((await response.request().allHeaders()).cookie).toBeUndefined();
      // ... and the refusal clears nothing: no Set-Cookie, no id-refresh-token: remove.
      expect(await response.headerValues('set-cookie')).toEqual([]);
      expect(await response.headerValue(ID_REFRESH_TOKEN_HEADER)).toBeNull();
      expect(await context.cookies()).toEqual(signedIn);
      await page.goto(`${app.origin}/page`);
      expect((await callFromPage(page, '/me', {})).status).toBe(200);
      await context.close();
    });
  });
});

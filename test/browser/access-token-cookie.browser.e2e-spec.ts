import { type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { SessionEngine } from '../../lib/index.js';
import { createTestDatabase } from '../support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { ACCESS_TOKEN_COOKIE } from '../../lib/http/wire.js';

const CJK_USER_ID = '漢'.repeat(255);
const payloadOf = (bytes: number) => ({ p: 'x'.repeat(bytes - 8) });

const canRun = chromiumAvailable();

describe.runIf(canRun)('the largest access-token cookie in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(ADAPTERS)('on %s', (adapter) => {
    let http: HttpApp;
    let baseUrl: string;

    beforeAll(async () => {
      http = await createHttpApp({
        adapter,
        database: (await createTestDatabase('sqlite')).options,
        options: { accessToken: { algorithm: 'RS256' }, cookie: { sameSite: 'strict' } },
      });
      await http.app.listen(0, '127.0.0.1');
      const { port } = http.app.getHttpServer().address() as { port: number };
      baseUrl = `http://localhost:${port}`;
    });
    afterAll(async () => {
      await http?.close();
    });

    it('keeps the cookie of the largest session the engine accepts and sends it back', async () => {
      // The largest payload a session of the longest user id is created with.
      const engine = http.app.get(SessionEngine);
      let accepted = 8;
      let refused = 2049;
      while (refused - accepted > 1) {
        const bytes = Math.floor((accepted + refused) / 2);
        const ok = await engine.createNewSession(CJK_USER_ID, payloadOf(bytes)).then(
          () => true,
          () => false,
        );
        if (ok) accepted = bytes;
        else refused = bytes;
      }

      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${baseUrl}/public`);
        const login = await page.evaluate(
          async (body) => {
            const response = await fetch('/login', {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            });
            return { status: response.status };
          },
          JSON.stringify({ userId: CJK_USER_ID, payload: payloadOf(accepted) }),
        );
        expect(login.status).toBe(200);
        const cookie = (await context.cookies()).find((candidate) => candidate.name === ACCESS_TOKEN_COOKIE);
        expect(cookie).toBeDefined();
        expect(cookie!.value.length).toBeGreaterThan(3900);
        const me = await page.evaluate(async () => {
          const response = await fetch('/me');
          return { status: response.status, body: await response.json() };
        });
        expect(me.status).toBe(200);
        expect(me.body).toMatchObject({ userId: CJK_USER_ID, payload: payloadOf(accepted) });
      } finally {
        await context.close();
      }
    });
  });
});

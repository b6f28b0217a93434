import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type {
  ClaimValidationError,
  SessionClient,
  SessionClientOptions,
} from '../../lib/client/session-client.js';
import { Controller, Get, UseGuards } from '@nestjs/common';
import { SessionGuard, VerifySession } from '../../lib/index.js';
import { ClaimRoutesController } from '../fixtures/claims.fixtures.js';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { clientModule } from '../support/client-page.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';

const canRun = chromiumAvailable();

/** A route that needs a sign-in less than 300 s ago. */
@UseGuards(SessionGuard)
@Controller('step-up')
class StepUpController {
  @VerifySession({ fresh: 300 })
  @Get('payout')
  payout() {
    return { paid: true };
  }
}

/** A page that loads the client module the way an app's page does. */
const PAGE_HTML = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
  import { createSessionClient } from '/assets/client/session-client.js';
  window.createSessionClient = createSessionClient;
</script></head><body>claims</body></html>`;

/** What the page records of the client's callbacks. */
interface PageState {
  client: SessionClient;
  invalidClaims: ClaimValidationError[][];
  stepUps: number;
  signedOut: string[];
}

describe.runIf(canRun)('browser client callbacks for 403 answers in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(ADAPTERS)('API on %s', (adapter) => {
    let db: TestDatabase;
    let http: HttpApp;
    let base: string;
    let context: BrowserContext;
    let page: Page;

    beforeAll(async () => {
      db = await createTestDatabase('sqlite');
      http = await createHttpApp({
        adapter,
        database: db.options,
        controllers: [ClaimRoutesController, StepUpController],
      });
      await http.app.listen(0, '127.0.0.1');
      const { port } = http.app.getHttpServer().address() as { port: number };
      base = `http://localhost:${port}`;
    });
    afterAll(async () => {
      await http?.close();
      await db?.drop();
    });

    beforeEach(async () => {
      await context?.close();
      context = await browser.newContext();
      await context.route(`${base}/assets/**`, (route) => {
        const path = new URL(route.request().url()).pathname;
        if (path === '/assets/page.html') return route.fulfill({ body: PAGE_HTML, contentType: 'text/html' });
        const body = clientModule(path, '/assets');
        return body === undefined
          ? route.fulfill({ status: 404 })
          : route.fulfill({ body, contentType: 'text/javascript' });
      });
      page = await context.newPage();
      await page.goto(`${base}/assets/page.html`);
      await page.waitForFunction(() => 'createSessionClient' in globalThis);
    });
    afterAll(async () => {
      await context?.close();
    });

    /** Creates the page's client with recording callbacks and signs in with `payload`. */
    async function signIn(payload: unknown, options: { throwing?: boolean } = {}): Promise<void> {
      await page.evaluate(
        async ({ payload, throwing }) => {
          const { createSessionClient } = globalThis as unknown as {
            createSessionClient(options: SessionClientOptions): SessionClient;
          };
          const state = { invalidClaims: [], stepUps: 0, signedOut: [] } as unknown as PageState;
          state.client = createSessionClient({
            onInvalidClaim: (errors) => {
              state.invalidClaims.push(errors);
              if (throwing) throw new Error('the page handler failed');
            },
            onStepUpRequired: () => {
              state.stepUps++;
            },
            onSignedOut: ({ type }) => state.signedOut.push(type),
          });
          (globalThis as unknown as { state: PageState }).state = state;
          const response = await state.client.fetch('/login', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ userId: 'browser-user', payload }),
          });
          if (response.status !== 200) throw new Error(`login answered ${response.status}`);
        },
        { payload, throwing: options.throwing ?? false },
      );
    }

    /** Fetches `path` through the page's client; what the request resolved with and what was called. */
    function fetchInPage(path: string) {
      return page.evaluate(async (path) => {
        const { state } = globalThis as unknown as { state: PageState };
        const response = await state.client.fetch(path);
        return {
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
          invalidClaims: state.invalidClaims,
          stepUps: state.stepUps,
          signedOut: state.signedOut,
          hasSession: state.client.hasSession(),
        };
      }, path);
    }

    it('calls onInvalidClaim with the errors, resolves with the 403 and keeps the user signed in', async () => {
      await signIn({ role: 'user' });
      const refused = await fetchInPage('/claims/equals');
      expect(refused).toMatchObject({
        status: 403,
        body: { type: 'INVALID_CLAIM' },
        invalidClaims: [[{ claim: 'role', reason: 'must equal "admin"' }]],
        stepUps: 0,
        signedOut: [],
        hasSession: true,
      });
      const me = await fetchInPage('/me');
      expect(me).toMatchObject({
        status: 200,
        body: { userId: 'browser-user' },
        invalidClaims: refused.invalidClaims,
      });
    });

    it('calls onStepUpRequired for SESSION_NOT_FRESH, resolves with the 403 and keeps the user signed in', async () => {
      await signIn({ role: 'user' });
      expect(await fetchInPage('/step-up/payout')).toMatchObject({ status: 200, stepUps: 0 });
      http.clock.advance(301);
      const refused = await fetchInPage('/step-up/payout');
      expect(refused).toMatchObject({
        status: 403,
        body: { type: 'SESSION_NOT_FRESH', maxAge: 300 },
        invalidClaims: [],
        stepUps: 1,
        signedOut: [],
        hasSession: true,
      });
      expect(await fetchInPage('/me')).toMatchObject({ status: 200, stepUps: 1, signedOut: [] });
    });

    it('resolves the request even when the page handler throws', async () => {
      await signIn({ role: 'user' }, { throwing: true });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      const refused = await fetchInPage('/claims/equals');
      expect(refused).toMatchObject({ status: 403, invalidClaims: [[{ claim: 'role' }]], hasSession: true });
      await expect.poll(() => errors).toEqual(['the page handler failed']);
    });

    it('calls nothing for a passing claim', async () => {
      await signIn({ role: 'admin' });
      expect(await fetchInPage('/claims/equals')).toMatchObject({
        status: 200,
        invalidClaims: [],
        stepUps: 0,
        signedOut: [],
      });
    });
  });
});

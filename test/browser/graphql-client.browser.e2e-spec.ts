import type { AddressInfo } from 'node:net';
import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublicAccess, SessionEngine, SessionEvents } from '../../lib/index.js';
import { CodeFirstResolver } from '../fixtures/contexts.fixtures.js';

import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { clientModule } from '../support/client-page.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { createHttpApp, type HttpApp } from '../support/http-app.js';

/** A GraphQL response body. */
interface GraphqlBody {
  data?: unknown;
  errors?: { extensions?: { code?: string } }[];
}

const canRun = chromiumAvailable();

/** Serves the test page and the client modules from the API's own origin. */
@PublicAccess()
@Controller()
class PageController {
  @Get('page')
  @Header('content-type', 'text/html')
  page(): string {
    return `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module">
  import { createSessionClient } from '/client/session-client.js';
  window.signedOut = [];
  window.client = createSessionClient({ onSignedOut: (reason) => window.signedOut.push(reason) });
</script></head><body>graphql client</body></html>`;
  }

  @Get(':folder/:file')
  @Header('content-type', 'text/javascript')
  module(@Param('folder') folder: string, @Param('file') file: string): string {
    return clientModule(`/${folder}/${file}`) ?? '';
  }
}

describe.runIf(canRun)('the browser client against GraphQL in Chromium (Apollo on Express)', () => {
  let db: TestDatabase;
  let http: HttpApp;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let refreshes = 0;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter: 'express',
      database: db.options,
      options: { accessToken: { validity: 60, clockTolerance: 0 } },
      imports: [
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          autoSchemaFile: true,
          context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
        }),
      ],
      controllers: [PageController],
      providers: [CodeFirstResolver],
    });
    http.app.get(SessionEvents).on('session.refreshed', () => refreshes++);
    await http.app.listen(0, '127.0.0.1');
    origin = `http://127.0.0.1:${(http.app.getHttpServer().address() as AddressInfo).port}`;
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${origin}/page`);
    await page.waitForFunction(() => 'client' in globalThis);
  });
  afterAll(async () => {
    await browser?.close();
    await http?.close();
    await db?.drop();
  });

  /** Runs a GraphQL query through the page's client; returns the body. */
  async function query(text: string): Promise<GraphqlBody> {
    return page.evaluate(async (body) => {
      const { client } = globalThis as unknown as { client: { fetch: typeof fetch } };
      const response = await client.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: body }),
      });
      return (await response.json()) as GraphqlBody;
    }, text);
  }

  it('signs in by a GraphQL mutation, then queries with the cookies and the anti-csrf header', async () => {
    const login = await query('mutation { login(userId: "alice") }');
    expect(login.errors).toBeUndefined();
    expect(await query('{ me { userId } }')).toEqual({ data: { me: { userId: 'alice' } } });
  });

  it('recognises TRY_REFRESH_TOKEN in a GraphQL answer: refreshes once and retries', async () => {
    const before = refreshes;
    http.clock.advance(61); // the access token has expired; the refresh token has not
    expect(await query('{ me { userId } }')).toEqual({ data: { me: { userId: 'alice' } } });
    expect(refreshes).toBe(before + 1);
    // The refreshed token serves the next query without another refresh.
    expect(await query('{ me { userId } }')).toEqual({ data: { me: { userId: 'alice' } } });
    expect(refreshes).toBe(before + 1);
  });

  it('reports the user signed out when the refresh after a GraphQL TRY_REFRESH_TOKEN is refused', async () => {
    const engine = http.app.get(SessionEngine);
    for (const handle of await engine.getAllSessionHandlesForUser('alice')) {
      await engine.revokeSessionUsingSessionHandle(handle);
    }
    http.clock.advance(61);
    const answer = await query('{ me { userId } }');
    expect(answer.errors?.[0]?.extensions?.code).toBe('TRY_REFRESH_TOKEN');
    expect(
      await page.evaluate(() => (globalThis as unknown as { signedOut: { type: string }[] }).signedOut),
    ).toEqual([{ type: 'UNAUTHORISED', reason: 'revoked' }]);
  });
});

import type { ExecutionContext } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionGuard, getRequestSession } from '../lib/index.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { createEngineApp, type EngineApp } from './support/engine-app.js';

class GuardedController {
  handler(): void {}
}

/** The HTTP execution context Nest hands a guard, for a request object of our making. */
function httpContext(request: object): ExecutionContext {
  const response = {};
  return {
    getClass: () => GuardedController,
    getHandler: () => GuardedController.prototype.handler,
    getType: () => 'http',
    getArgs: () => [request, response],
    getArgByIndex: (index: number) => [request, response][index],
    switchToHttp: () => ({
      getRequest: () => request,
      getResponse: () => response,
      getNext: () => undefined,
    }),
  } as unknown as ExecutionContext;
}

describe('what SessionGuard.canActivate answers', () => {
  let database: TestDatabase;
  let ctx: EngineApp;
  let guard: SessionGuard;
  let cookie: string;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    ctx = await createEngineApp(database.options, { cleanupInterval: 0 });
    guard = ctx.app.get(SessionGuard);
    const created = await ctx.engine.createNewSession('guard-user');
    cookie = `sAccessToken=${created.accessToken.value}; sIdRefreshToken=${created.idRefreshToken.value}`;
  });
  afterAll(async () => {
    await ctx?.close();
    await database?.drop();
  });

  it('answers true at once, with the session attached, for a token it verified before', async () => {
    const first = { method: 'GET', headers: { cookie } };
    await expect(guard.canActivate(httpContext(first))).resolves.toBe(true);
    const again = { method: 'GET', headers: { cookie } };
    expect(guard.canActivate(httpContext(again))).toBe(true);
    expect(getRequestSession(again)?.getUserId()).toBe('guard-user');
  });

  it('rejects rather than throws for a POST without its anti-csrf token, even with a verified token', async () => {
    let answer: unknown;
    expect(() => {
      answer = guard.canActivate(httpContext({ method: 'POST', headers: { cookie } }));
    }).not.toThrow();
    await expect(answer).rejects.toMatchObject({ type: 'TRY_REFRESH_TOKEN' });
  });
});

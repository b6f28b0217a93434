import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionModuleOptions } from '../../lib/index.js';
import { SessionErrorMessages } from '../../lib/errors/session-error.messages.js';
import { cookieNamed } from '../support/cookies.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from '../support/databases.js';
import { createEngineApp, type EngineApp } from '../support/engine-app.js';
import { ADAPTERS, createHttpApp, type HttpApp } from '../support/http-app.js';
import { rejectsWith } from './support/expectations.js';
import { decodeJws, hmacJwk, signJws } from './support/jws.js';
import { ACCESS_TOKEN_COOKIE } from '../../lib/http/wire.js';

/*
 * A validly signed access token whose `sub` names another user but whose session id and generation
 * are live must not pass the database check: the row's user must be the token's user, byte for
 * byte and type for type. The tokens are forged with the configured static HS256 key (as a leaked
 * key or a bug in an app's own signing would produce them); a control shows the same forging code
 * with the genuine user is accepted.
 */

const KID = 'hs-binding-1';
const STATIC_KEY = hmacJwk(KID);
const SECRET = Buffer.from(STATIC_KEY.k, 'base64url');
const OPTIONS: Partial<SessionModuleOptions> = { accessToken: { signingKey: { keys: [STATIC_KEY] } } };

/** The genuine token's header and claims, re-signed with `sub` (and its type marker) replaced. */
function withUser(accessToken: string, userId: string | number): string {
  const { header, claims } = decodeJws(accessToken);
  const forged: Record<string, unknown> = { ...claims, sub: String(userId) };
  delete forged.uty;
  if (typeof userId === 'number') forged.uty = 'n';
  return signJws(header, forged, SECRET);
}

/** Other users than the session's `victim` (a string id) and `42` (a number id). */
const IMPOSTORS: [string, string | number, string | number][] = [
  ['another user', 'victim', 'mallory'],
  ['the same name in other case (equal under a case-insensitive collation)', 'victim', 'VICTIM'],
  ['the same name with a trailing space (equal under PAD SPACE)', 'victim', 'victim '],
  ['the number as a string', 42, '42'],
  ['the string as a number', '7', 7],
];

const databases = await reachableDatabases();

describe.each(databases)('checkDatabase ties the token to its session user (engine, %s)', (kind) => {
  let database: TestDatabase;
  let ctx: EngineApp;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    ctx = await createEngineApp(database.options, OPTIONS);
  });
  afterAll(async () => {
    await ctx?.close();
    await database?.drop();
  });

  it('accepts the genuine token and one re-signed with the genuine user (control)', async () => {
    for (const userId of ['victim', 42, '7']) {
      const created = await ctx.engine.createNewSession(userId);
      const resigned = withUser(created.accessToken.value, userId);
      for (const token of [created.accessToken.value, resigned]) {
        await expect(ctx.engine.getSession(token, null, { checkDatabase: true })).resolves.toMatchObject({
          session: { userId, handle: created.session.handle },
        });
      }
    }
  });

  it.each(IMPOSTORS)('refuses a live session id under %s with UNAUTHORISED', async (_, owner, impostor) => {
    const created = await ctx.engine.createNewSession(owner);
    const forged = withUser(created.accessToken.value, impostor);
    // Stateless verification cannot tell: the signature, session id and generation are genuine.
    await expect(ctx.engine.getSession(forged, null)).resolves.toMatchObject({
      session: { userId: impostor },
    });
    const error = await rejectsWith(
      ctx.engine.getSession(forged, null, { checkDatabase: true }),
      'UNAUTHORISED',
    );
    expect(error.message).toBe(SessionErrorMessages.accessTokenWrongUser);
    // The genuine session is untouched.
    await expect(
      ctx.engine.getSession(created.accessToken.value, null, { checkDatabase: true }),
    ).resolves.toMatchObject({ session: { userId: owner } });
  });
});

describe.each(ADAPTERS)('checkDatabase ties the token to its session user (HTTP, %s)', (adapter) => {
  describe.each(databases)('on %s', (kind) => {
    let database: TestDatabase;
    let http: HttpApp;

    beforeAll(async () => {
      database = await createTestDatabase(kind);
      http = await createHttpApp({ adapter, database: database.options, options: OPTIONS });
    });
    afterAll(async () => {
      await http?.close();
      await database?.drop();
    });

    async function signIn(userId: string | number): Promise<string> {
      const response = await http.request.post('/login').send({ userId }).expect(200);
      return cookieNamed(response, ACCESS_TOKEN_COOKIE)!.value;
    }

    it.each(['/strict', '/strict-by-subclass'])(
      'answers 401 UNAUTHORISED on %s to a token re-signed for another user, and 200 to the genuine user (control)',
      async (route) => {
        const token = await signIn('victim');
        const genuine = await http.request
          .get(route)
          .set('Authorization', `Bearer ${withUser(token, 'victim')}`);
        expect(genuine.status, genuine.text).toBe(200);
        expect(genuine.body).toEqual({ userId: 'victim' });
        for (const [, , impostor] of IMPOSTORS.filter(([, owner]) => owner === 'victim')) {
          const forged = await http.request
            .get(route)
            .set('Authorization', `Bearer ${withUser(token, impostor)}`);
          expect(forged.status, `${String(impostor)}: ${forged.text}`).toBe(401);
          expect(forged.body?.type).toBe('UNAUTHORISED');
          expect(forged.body?.message).toBe(SessionErrorMessages.accessTokenWrongUser);
        }
      },
    );
  });
});

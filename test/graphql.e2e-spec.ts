import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_TOKEN_COOKIE,
  ACCESS_TOKEN_HEADER,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  SESSION_TRANSPORT_HEADER,
} from '../lib/index.js';
import { CodeFirstResolver, SCHEMA_FIRST_SDL, SchemaFirstResolver } from './fixtures/contexts.fixtures.js';
import { CookieJar, cookieNamed } from './support/cookies.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { createHttpApp, type AdapterKind, type HttpApp } from './support/http-app.js';

type Style = 'code-first' | 'schema-first';

/** Apollo on Express, Mercurius on Fastify; each code-first and schema-first. */
const CASES: [AdapterKind, Style][] = [
  ['express', 'code-first'],
  ['express', 'schema-first'],
  ['fastify', 'code-first'],
  ['fastify', 'schema-first'],
];

function graphqlModule(adapter: AdapterKind, style: Style) {
  const schema = style === 'code-first' ? { autoSchemaFile: true } : { typeDefs: SCHEMA_FIRST_SDL };
  if (adapter === 'express') {
    return GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      ...schema,
      // The response too, so mutations can set cookies (Express's `req.res` would also do).
      context: ({ req, res }: { req: unknown; res: unknown }) => ({ req, res }),
    });
  }
  return GraphQLModule.forRoot<MercuriusDriverConfig>({ driver: MercuriusDriver, ...schema });
}

describe.each(CASES)('GraphQL over HTTP on %s (%s)', (adapter, style) => {
  let db: TestDatabase;
  let http: HttpApp;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({
      adapter,
      database: db.options,
      options: { accessToken: { validity: 60, clockTolerance: 0 } },
      imports: [graphqlModule(adapter, style)],
      providers: [style === 'code-first' ? CodeFirstResolver : SchemaFirstResolver],
    });
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  function graphql(query: string, headers: Record<string, string> = {}) {
    return http.request.post('/graphql').set(headers).send({ query });
  }

  async function login(userId: string) {
    const response = await graphql(`mutation { login(userId: "${userId}") }`).expect(200);
    expect(response.body.errors).toBeUndefined();
    return { response, jar: new CookieJar().store(response), antiCsrf: response.headers[ANTI_CSRF_HEADER] };
  }

  it('logs in through a mutation that sets the session cookies', async () => {
    const { response, jar, antiCsrf } = await login('alice');
    expect(typeof response.body.data.login).toBe('string');
    expect(cookieNamed(response, ACCESS_TOKEN_COOKIE)?.httpOnly).toBe(true);
    expect(jar.get(ID_REFRESH_TOKEN_COOKIE)).toBeDefined();
    expect(antiCsrf).toEqual(expect.any(String));
  });

  it('answers a guarded query with the session of the cookies, @Session() included', async () => {
    const { response: loggedIn, jar, antiCsrf } = await login('alice');
    const response = await graphql('{ me { userId handle } }', {
      cookie: jar.header(),
      [ANTI_CSRF_HEADER]: antiCsrf,
    }).expect(200);
    expect(response.body).toEqual({ data: { me: { userId: 'alice', handle: loggedIn.body.data.login } } });
  });

  it('answers a guarded query with the session of a Bearer access token', async () => {
    const loggedIn = await graphql('mutation { login(userId: "bob") }')
      .set(SESSION_TRANSPORT_HEADER, 'header')
      .expect(200);
    const accessToken = loggedIn.headers[ACCESS_TOKEN_HEADER];
    expect(cookieNamed(loggedIn, ACCESS_TOKEN_COOKIE)).toBeUndefined();
    const response = await graphql('{ me { userId } }', { authorization: `Bearer ${accessToken}` });
    expect(response.body.data).toEqual({ me: { userId: 'bob' } });
  });

  it('reports a missing session as a GraphQL error whose extensions.code is UNAUTHORISED', async () => {
    const response = await graphql('{ me { userId } }');
    expect(response.body.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHORISED', status: 401 }) }),
    ]);
  });

  it('reports a POST without the anti-csrf header as TRY_REFRESH_TOKEN', async () => {
    const { jar } = await login('alice');
    const response = await graphql('{ me { userId } }', { cookie: jar.header() });
    expect(response.body.errors[0].extensions).toEqual(
      expect.objectContaining({ code: 'TRY_REFRESH_TOKEN', status: 401 }),
    );
  });

  it('reports an expired access token as TRY_REFRESH_TOKEN with its status, cookies untouched', async () => {
    const { jar, antiCsrf } = await login('carol');
    http.clock.advance(61);
    try {
      const response = await graphql('{ me { userId } }', {
        cookie: jar.header(),
        [ANTI_CSRF_HEADER]: antiCsrf,
      });
      expect(response.body.errors[0].extensions).toEqual(
        expect.objectContaining({ code: 'TRY_REFRESH_TOKEN', status: 401 }),
      );
      expect(response.body.errors[0].message).toMatch(/refresh/);
      expect(response.headers['set-cookie']).toBeUndefined();
      // A routine refusal, not a server fault: Nest logs no ERROR line for it.
      expect(http.logs.take('ERROR')).toEqual([]);
    } finally {
      http.clock.advance(-61);
    }
  });

  it('lets an optional field through without a session and reads it with one', async () => {
    expect((await graphql('{ greeting }')).body.data).toEqual({ greeting: 'hello, guest' });
    const { jar, antiCsrf } = await login('dave');
    const response = await graphql('{ greeting }', { cookie: jar.header(), [ANTI_CSRF_HEADER]: antiCsrf });
    expect(response.body.data).toEqual({ greeting: 'hello, dave' });
  });

  it('logs out through a mutation that revokes the session and clears its cookies', async () => {
    const { jar, antiCsrf } = await login('erin');
    const response = await graphql('mutation { logout }', {
      cookie: jar.header(),
      [ANTI_CSRF_HEADER]: antiCsrf,
    });
    expect(response.body.data).toEqual({ logout: true });
    const cleared = cookieNamed(response, ACCESS_TOKEN_COOKIE);
    expect(cleared?.value).toBe('');
    expect(cleared?.expires?.getTime()).toBe(0);
    const [row] = await http.dataSource.query('SELECT COUNT(*) AS n FROM session_info WHERE user_id = ?', [
      'erin',
    ]);
    expect(Number(row.n)).toBe(0);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MARIADB,
  connectionOptions,
  createTestDatabase,
  reachableDatabases,
  type TestDatabase,
} from './support/databases.js';
import { CookieJar, setCookies } from './support/cookies.js';
import { ADAPTERS, createHttpApp, type HttpApp } from './support/http-app.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { ANTI_CSRF_HEADER, REFRESH_TOKEN_COOKIE } from '../lib/http/wire.js';

const [database] = await reachableDatabases(['mariadb']);

describe.each(database ? ADAPTERS : [])('database outage on %s (MariaDB behind a TCP proxy)', (adapter) => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let http: HttpApp;

  beforeAll(async () => {
    db = await createTestDatabase('mariadb');
    proxy = await new TcpProxy(MARIADB.host, MARIADB.port).start();
    const name = (db.options as { database: string }).database;
    http = await createHttpApp({ adapter, database: connectionOptions('mariadb', name, proxy.port) });
  });
  afterAll(async () => {
    proxy?.restore();
    await http?.close();
    await proxy?.stop();
    await db?.drop();
  });

  async function signIn() {
    const response = await http.request.post('/login').send({ userId: 'outage-user' }).expect(200);
    return { jar: new CookieJar().store(response), antiCsrf: response.headers[ANTI_CSRF_HEADER] as string };
  }

  for (const fault of ['cut', 'pause'] as const) {
    it(`answers 500 GENERAL_ERROR without Set-Cookie while the database is ${fault === 'cut' ? 'down' : 'hanging'}, and recovers`, async () => {
      const { jar, antiCsrf } = await signIn();
      if (fault === 'cut') proxy.cut();
      else proxy.pause();
      try {
        const started = Date.now();
        const refresh = await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(500);
        expect(refresh.body.type).toBe('GENERAL_ERROR');
        expect(setCookies(refresh)).toEqual([]);
        const strict = await http.request.get('/strict').set('Cookie', jar.header()).expect(500);
        expect(strict.body.type).toBe('GENERAL_ERROR');
        expect(setCookies(strict)).toEqual([]);
        const login = await http.request.post('/login').send({ userId: 'during-outage' }).expect(500);
        expect(setCookies(login)).toEqual([]);
        expect(Date.now() - started).toBeLessThan(15_000);
        // One line per failed request, with the cause, for the operator; none reached the console.
        const logged = http.logs.take('ERROR');
        expect(logged).toHaveLength(3);
        for (const line of logged)
          expect(line).toMatch(
            /^ERROR \[SessionEngine\] Session store failure \((nothing was changed|outcome unknown)\): \w/,
          );
        // Stateless checks need no database.
        await http.request
          .post('/notes')
          .set('Cookie', jar.header())
          .set(ANTI_CSRF_HEADER, antiCsrf)
          .expect(201);
      } finally {
        proxy.restore();
      }
      const recovered = await http.request.post('/session/refresh').set('Cookie', jar.header()).expect(200);
      expect(setCookies(recovered).map((cookie) => cookie.name)).toContain(REFRESH_TOKEN_COOKIE);
    });
  }
});

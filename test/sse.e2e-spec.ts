import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import { concat, finalize, from, map, of, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session, SessionConnections, SessionEngine, SessionGuard } from '../lib/index.js';
import { createTestDatabase, type TestDatabase } from './support/databases.js';
import { ADAPTERS, createHttpApp, type HttpApp } from './support/http-app.js';

/** An SSE stream bound to its session: it ends, saying why, when the session does. */
@Controller()
class StreamController {
  constructor(private readonly connections: SessionConnections) {}

  @UseGuards(SessionGuard)
  @Sse('stream')
  stream(@Session() session: Session): Observable<MessageEvent> {
    const watch = this.connections.watch(session);
    return concat(
      of({ data: { hello: session.getUserId() } }),
      from(watch.ended).pipe(map((ended) => ({ type: 'session.closed', data: ended }))),
    ).pipe(finalize(() => watch.release()));
  }
}

describe.each(ADAPTERS)('Server-Sent Events bound to their session on %s', (adapter) => {
  let db: TestDatabase;
  let http: HttpApp;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    http = await createHttpApp({ adapter, database: db.options, controllers: [StreamController] });
    await http.app.listen(0, '127.0.0.1');
    port = (http.app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(async () => {
    await http?.close();
    await db?.drop();
  });

  it('ends the stream with the close code and reason when the session is revoked', async () => {
    const engine = http.app.get(SessionEngine);
    const created = await engine.createNewSession('alice');
    let text = '';
    let greeted!: () => void;
    const greeting = new Promise<void>((resolve) => (greeted = resolve));
    const ended = new Promise<void>((resolve, reject) => {
      const request = httpRequest(
        {
          port,
          host: '127.0.0.1',
          path: '/stream',
          headers: { authorization: `Bearer ${created.accessToken.value}` },
        },
        (response) => {
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes('hello')) greeted();
          });
          response.on('end', resolve);
        },
      );
      request.on('error', reject);
      request.end();
    });
    await greeting;
    await engine.revokeSessionUsingSessionHandle(created.session.handle);
    await ended;
    expect(text).toContain('data: {"hello":"alice"}');
    expect(text).toContain('event: session.closed');
    expect(text).toContain('data: {"code":4403,"reason":"UNAUTHORISED: revoked"}');
    expect(http.app.get(SessionConnections).size).toBe(0);
  });
});

import { decodeProtectedHeader } from 'jose';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../support/cookies.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from '../support/databases.js';
import { TEST_SECRET } from '../support/engine-app.js';
import { cookieNames, type HttpAnswer } from './support/http-client.js';
import { compileInstance, migrate, startInstance, type Instance } from './support/instances.js';
import { SessionRows } from './support/session-rows.js';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
} from '../../lib/http/wire.js';

const [database] = await reachableDatabases(['mariadb']);
/** Figures worth keeping go here (ignored by git), not to the test output. */
const RESULTS_DIR = new URL('./results/', import.meta.url);

interface SignedIn {
  jar: CookieJar;
  antiCsrf: string;
  handle: string;
}

function kidOf(jar: CookieJar): string {
  return String(decodeProtectedHeader(jar.get(ACCESS_TOKEN_COOKIE)!).kid);
}

describe.each(database ? [database] : [])('several app instances as separate processes on %s', () => {
  let db: TestDatabase;
  let rows: SessionRows;
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    db = await createTestDatabase('mariadb');
    await Promise.all([compileInstance(), migrate(db.options)]);
    rows = await SessionRows.open((db.options as { database: string }).database);
    const settings = {
      database: db.options,
      session: { secret: TEST_SECRET, accessToken: { blacklisting: true }, cleanupInterval: 0 },
    };
    // One after the other, so B boots on the key A created (a boot race would make two keys).
    a = await startInstance('A', settings);
    b = await startInstance('B', settings);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await rows?.close();
    await db?.drop();
  });

  async function signIn(on: Instance, userId: string): Promise<SignedIn> {
    const jar = new CookieJar();
    const login = await on.client.post('/login', { jar, body: { userId, data: { on: on.name } } });
    expect(login.status).toBe(200);
    return { jar, antiCsrf: String(login.headers[ANTI_CSRF_HEADER]), handle: String(login.body?.handle) };
  }

  function refresh(on: Instance, jar: CookieJar, store = true): Promise<HttpAnswer> {
    return on.client.post('/session/refresh', { jar, store });
  }

  it('runs A and B as two processes', async () => {
    const [healthA, healthB] = await Promise.all([a.client.get('/ops/health'), b.client.get('/ops/health')]);
    expect(healthA.body?.instance).toBe('A');
    expect(healthB.body?.instance).toBe('B');
    expect(healthA.body?.pid).not.toBe(healthB.body?.pid);
    expect(healthA.body?.pid).not.toBe(process.pid);
  });

  it('accepts on B a session created on A, and on A its refresh on B', async () => {
    const user = await signIn(a, 'roams-between-instances');
    const me = await b.client.get('/me', { jar: user.jar });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      userId: 'roams-between-instances',
      handle: user.handle,
      data: { on: 'A' },
    });
    const note = await b.client.post('/notes', {
      jar: user.jar,
      headers: { [ANTI_CSRF_HEADER]: user.antiCsrf },
    });
    expect(note.status).toBe(201);
    const refreshed = await refresh(b, user.jar);
    expect(refreshed.status).toBe(200);
    const strict = await a.client.get('/strict', { jar: user.jar });
    expect(strict.status).toBe(200);
    expect(await rows.find(user.handle)).toEqual({ handle: user.handle, generation: 2 });
  });

  it('refuses on A, at once, a session revoked on B (blacklisting)', async () => {
    const user = await signIn(a, 'revoked-elsewhere');
    const admin = await signIn(b, 'admin');
    expect((await a.client.get('/me', { jar: user.jar })).status).toBe(200);
    const revoke = await b.client.post(`/admin/revoke/${user.handle}`, {
      jar: admin.jar,
      headers: { [ANTI_CSRF_HEADER]: admin.antiCsrf },
    });
    expect(revoke.body).toEqual({ revoked: true });

    const note = await a.client.post('/notes', {
      jar: user.jar,
      store: false,
      headers: { [ANTI_CSRF_HEADER]: user.antiCsrf },
    });
    expect(note.status).toBe(401);
    expect(note.body?.type).toBe('UNAUTHORISED');
    const me = await a.client.get('/me', { jar: user.jar });
    expect(me.status).toBe(401);
    expect(me.body?.type).toBe('UNAUTHORISED');
    expect(cookieNames(me)).toEqual(expect.arrayContaining([ACCESS_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE]));
    expect(await rows.find(user.handle)).toBeUndefined();
  });

  it('picks up on B a key rotated on A at once, and with it the retirement of the leaked key', async () => {
    const onA = await signIn(a, 'before-rotation-a');
    const onB = await signIn(b, 'before-rotation-b');
    const oldKid = kidOf(onA.jar);
    expect(kidOf(onB.jar)).toBe(oldKid);

    // The route rotates with { immediately: true }: the answer to a leaked key.
    const rotation = await a.client.post('/ops/rotate-keys');
    expect(rotation.status).toBe(200);
    const newKid = String(rotation.body?.kid);
    expect(newKid).not.toBe(oldKid);

    const afterRotation = await signIn(a, 'after-rotation');
    expect(kidOf(afterRotation.jar)).toBe(newKid);
    // B learns the new key on first sight (an unknown kid reloads its ring)...
    for (const instance of [b, a]) {
      const me = await instance.client.get('/me', { jar: afterRotation.jar, store: false });
      expect(me.status, `token of the new key on ${instance.name}`).toBe(200);
    }
    // ...and with that reload the retirement: tokens of the old key must refresh, on both.
    for (const user of [onA, onB]) {
      for (const instance of [a, b]) {
        const me = await instance.client.get('/me', { jar: user.jar, store: false });
        expect(`${me.status} ${me.body?.type}`, `token of the old key on ${instance.name}`).toBe(
          '401 TRY_REFRESH_TOKEN',
        );
      }
    }
    // Refreshing works and moves the session to the new key, which both instances accept.
    expect((await refresh(b, onB.jar)).status).toBe(200);
    expect(kidOf(onB.jar)).toBe(newKid);
    expect((await a.client.get('/me', { jar: onB.jar, store: false })).status).toBe(200);
  });

  it("picks up on B a key rotated on A even while forged key ids keep B's reload cooldown busy", async () => {
    const bystander = await signIn(b, 'kid-storm-bystander');
    // An attacker's token naming a key id that looks like ours: B reloads its ring once per cooldown.
    const [, payload, signature] = bystander.jar.get(ACCESS_TOKEN_COOKIE)!.split('.');
    const forgedHeader = Buffer.from(
      JSON.stringify({ alg: 'HS256', kid: randomBytes(16).toString('hex'), typ: 'at+jwt' }),
    ).toString('base64url');
    const forged = bystander.jar
      .without()
      .set(ACCESS_TOKEN_COOKIE, `${forgedHeader}.${payload}.${signature}`);
    const refused = await b.client.get('/me', { jar: forged, store: false });
    expect(refused.body?.type).toBe('TRY_REFRESH_TOKEN');

    const rotation = await a.client.post('/ops/rotate-keys');
    expect(rotation.status).toBe(200);
    const user = await signIn(a, 'signed-with-the-newest-key');
    expect(kidOf(user.jar)).toBe(rotation.body?.kid);
    const me = await b.client.get('/me', { jar: user.jar, store: false });
    expect(`${me.status} ${me.body?.type ?? ''}`.trim(), 'a valid token of the new key on B').toBe('200');
  });

  it('gives one successor and no theft when the same refresh token reaches A and B at once', async () => {
    const users = await Promise.all(
      Array.from({ length: 8 }, (_, index) => signIn(index % 2 ? a : b, `racing-tabs-${index}`)),
    );
    // Each session's token goes to both instances twice, all at the same moment.
    const answers = await Promise.all(
      users.map((user) =>
        Promise.all([a, b, a, b].map((instance) => refresh(instance, user.jar.without(), false))),
      ),
    );
    for (const [index, user] of users.entries()) {
      const statuses = answers[index].map((answer) => `${answer.status} ${answer.body?.type ?? ''}`.trim());
      expect(statuses, `session ${index}`).toEqual(['200', '200', '200', '200']);
      const successors = new Set(
        answers[index].map((answer) =>
          new CookieJar().store({ headers: answer.headers } as never).get(REFRESH_TOKEN_COOKIE),
        ),
      );
      expect(successors.size, `distinct successors of session ${index}`).toBe(1);
      expect(await rows.find(user.handle)).toEqual({ handle: user.handle, generation: 2 });
      user.jar.store({ headers: answers[index][0].headers } as never);
      const next = await refresh(index % 2 ? b : a, user.jar);
      expect(next.status).toBe(200);
      expect((await a.client.get('/strict', { jar: user.jar })).status).toBe(200);
    }
  });

  it('leaves no live session when revoke-all races refreshes on both instances', async () => {
    const outcomes = { rotatedBeforeRevoke: 0, refusedAfterRevoke: 0 };
    for (let round = 0; round < 6; round++) {
      const userId = `revoke-all-race-${round}`;
      const sessions = await Promise.all([
        signIn(a, userId),
        signIn(b, userId),
        signIn(a, userId),
        signIn(b, userId),
      ]);
      // Stagger the revoke by a few ms a round, to land it before, between and after the rotations.
      const revokeAll = new Promise((resolve) => setTimeout(resolve, round * 3)).then(() =>
        b.client.post(`/ops/revoke-all/${userId}`),
      );
      const refreshes = sessions.flatMap((session) => [refresh(a, session.jar), refresh(b, session.jar)]);
      const [revoked, ...answers] = await Promise.all([revokeAll, ...refreshes]);
      expect(revoked.body).toEqual({ revoked: sessions.length });
      for (const answer of answers) {
        expect([200, 401], `refresh racing revoke-all: ${answer.status} ${answer.body?.type}`).toContain(
          answer.status,
        );
        if (answer.status === 401) expect(answer.body?.type).toBe('UNAUTHORISED');
        if (answer.status === 200) outcomes.rotatedBeforeRevoke++;
        else outcomes.refusedAfterRevoke++;
      }
      expect(await rows.count('user_id = ?', [userId])).toBe(0);
      for (const session of sessions) {
        for (const instance of [a, b]) {
          const me = await instance.client.get('/me', { jar: session.jar, store: false });
          expect(me.status, `round ${round}: guarded call after revoke-all`).toBe(401);
          const again = await refresh(instance, session.jar, false);
          expect(again.status, `round ${round}: refresh after revoke-all`).toBe(401);
        }
      }
      expect(await rows.count('user_id = ?', [userId])).toBe(0);
    }
    // How the race went, for whoever tunes it.
    await mkdir(RESULTS_DIR, { recursive: true });
    await writeFile(
      new URL('multi-instance-revoke-all-race.json', RESULTS_DIR),
      `${JSON.stringify(outcomes)}\n`,
    );
  });
});

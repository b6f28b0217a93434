import { In, IsNull, Like, Not, Raw, type DataSourceOptions } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionEntities, type CreatedSession, type SessionEngine } from '../../lib/index.js';
import { SESSION_STORE, type SessionRecord, type SessionStore } from '../../lib/testing/index.js';
import { createTestDatabase, reachableDatabases, type TestDatabase } from '../support/databases.js';
import { createEngineApp, type EngineApp } from '../support/engine-app.js';
import { rejectsWith, spyOnStore } from './support/expectations.js';

/*
 * An app's bug, not a visitor's: hostile values handed to the engine's API. Each is refused with
 * GENERAL_ERROR naming the argument, before any storage call, with every row unchanged. The data
 * source runs with TypeORM's most permissive where-value setting (an app may choose it), so the
 * store's own guard, not TypeORM's default, is what keeps `{ id: undefined }` from matching rows.
 */

const databases = await reachableDatabases();

type Call = (engine: SessionEngine, handle: string) => Promise<unknown>;

const deep = (levels: number) => {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = { next: value };
  return value;
};
const circular = () => {
  const value: Record<string, unknown> = { name: 'loop' };
  value.self = value;
  return value;
};
const circularThroughArray = () => {
  const list: unknown[] = [];
  list.push({ list });
  return { list };
};

const USER_IDS: [string, unknown][] = [
  ['an empty string', ''],
  ['an object', { id: 1 }],
  ['{ id: undefined }', { id: undefined }],
  ['an empty object', {}],
  ['an array', ['alice']],
  ['an empty array', []],
  ['null', null],
  ['undefined', undefined],
  ['a boolean', true],
  ['a BigInt', 1n],
  ['a symbol', Symbol('alice')],
  ['a function', () => 'alice'],
  ['a boxed string', new String('alice')],
  ['an object with toString', { toString: () => 'alice' }],
  ['TypeORM Like("%")', Like('%')],
  ['TypeORM Not("x")', Not('x')],
  ['TypeORM In([...])', In(['alice', 'bob'])],
  ['TypeORM Raw("1=1")', Raw(() => '1=1')],
  ['TypeORM IsNull()', IsNull()],
  ['a Buffer', Buffer.from('alice')],
  ['a Date', new Date()],
  ['a lone high surrogate', '\uD800'],
  ['a lone low surrogate inside', 'a\uDFFFb'],
  ['a reversed surrogate pair', '\uDE00\uD83D'],
  ['a NUL character', 'alice\u0000'],
  ['256 characters', 'u'.repeat(256)],
  ['10 KB', 'u'.repeat(10 * 1024)],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
];

const USER_ID_CALLS: [string, (userId: unknown) => Call][] = [
  ['createNewSession', (userId) => (engine) => engine.createNewSession(userId as never)],
  ['revokeAllSessionsForUser', (userId) => (engine) => engine.revokeAllSessionsForUser(userId as never)],
  [
    'getAllSessionHandlesForUser',
    (userId) => (engine) => engine.getAllSessionHandlesForUser(userId as never),
  ],
  ['listSessionsForUser', (userId) => (engine) => engine.listSessionsForUser(userId as never)],
  [
    'revokeSessionForUser',
    (userId) => (engine, handle) => engine.revokeSessionForUser(handle, userId as never),
  ],
  [
    'revokeOtherSessions',
    (userId) => (engine, handle) => engine.revokeOtherSessions(userId as never, handle),
  ],
];

const JSON_VALUES: [string, () => unknown][] = [
  ['circular', circular],
  ['circular through an array', circularThroughArray],
  ['a BigInt inside', () => ({ n: 1n })],
  ['nested 33 levels', () => deep(33)],
  ['nested 10 000 levels', () => deep(10_000)],
  ['a Map', () => new Map([['a', 1]])],
  ['a Set', () => ({ tags: new Set(['a']) })],
  ['a Date', () => ({ at: new Date() })],
  ['a RegExp', () => ({ pattern: /x/ })],
  ['a class instance', () => ({ error: new Error('x') })],
  ['a Buffer', () => ({ bytes: Buffer.from('x') })],
  ['a typed array', () => new Uint8Array([1, 2])],
  ['a Promise', () => ({ later: Promise.resolve(1) })],
  ['a function', () => ({ f: () => 1 })],
  ['a symbol', () => ({ s: Symbol('x') })],
  ['undefined inside', () => ({ missing: undefined })],
  ['NaN', () => ({ n: Number.NaN })],
  ['Infinity', () => [Number.POSITIVE_INFINITY]],
  ['a sparse array', () => [1, , 3]], // eslint-disable-line no-sparse-arrays
  ['a boxed number', () => ({ n: new Number(1) })],
];

const HANDLES: [string, (real: string) => unknown][] = [
  ['SQL quotes', () => "' OR '1'='1"],
  ['stacked SQL', () => '1; DROP TABLE session_info; --'],
  ['LIKE wildcards', () => '%'.repeat(32)],
  ['underscores', () => '_'.repeat(32)],
  ['a NUL inside', (real) => `${real.slice(0, 31)}\u0000`],
  ['a NUL after a real handle', (real) => `${real}\u0000`],
  ['a newline after a real handle', (real) => `${real}\n`],
  ['a trailing space', (real) => `${real} `],
  ['a leading space', (real) => ` ${real}`],
  ['upper case', (real) => real.toUpperCase()],
  ['a homoglyph', (real) => `${real.slice(0, 31)}\u0430`],
  ['full-width digits', () => '\uFF10'.repeat(32)],
  ['10 KB of hex', () => 'a'.repeat(10 * 1024)],
  ['31 characters', (real) => real.slice(0, 31)],
  ['{ handle: undefined }', () => ({ handle: undefined })],
  ['{ id: undefined }', () => ({ id: undefined })],
  ['an empty object', () => ({})],
  ['an array of the handle', (real) => [real]],
  ['undefined', () => undefined],
  ['null', () => null],
  ['a number', () => 5],
  ['a BigInt', () => 5n],
  ['TypeORM Like("%")', () => Like('%')],
  ['TypeORM Not("")', () => Not('')],
  ['TypeORM IsNull()', () => IsNull()],
  ['a boxed string', (real) => new String(real)],
  ['an object with toString', (real) => ({ toString: () => real })],
  ['a Buffer', (real) => Buffer.from(real)],
];

const HANDLE_CALLS: [string, (handle: unknown) => Call][] = [
  ['getSessionData', (handle) => (engine) => engine.getSessionData(handle as never)],
  ['updateSessionData', (handle) => (engine) => engine.updateSessionData(handle as never, { pwned: true })],
  [
    'revokeSessionUsingSessionHandle',
    (handle) => (engine) => engine.revokeSessionUsingSessionHandle(handle as never),
  ],
  ['revokeSessionForUser', (handle) => (engine) => engine.revokeSessionForUser(handle as never, 'alice')],
  ['revokeOtherSessions', (handle) => (engine) => engine.revokeOtherSessions('alice', handle as never)],
];

describe.each(databases)('hostile engine arguments on %s', (kind) => {
  let database: TestDatabase;
  let ctx: EngineApp;
  let store: SessionStore;
  let alice: CreatedSession;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const permissive = {
      ...database.options,
      invalidWhereValuesBehavior: { undefined: 'ignore', null: 'ignore' },
    } as DataSourceOptions;
    ctx = await createEngineApp(permissive);
    store = ctx.app.get<SessionStore>(SESSION_STORE);
    alice = await ctx.engine.createNewSession('alice', { role: 'user' }, { cart: [1, 2] });
    await ctx.engine.createNewSession('alice');
    await ctx.engine.createNewSession('bob', {}, { theme: 'dark' });
    await ctx.engine.createNewSession(42);
  });
  afterAll(async () => {
    await ctx?.close();
    await database?.drop();
  });

  const snapshot = () => ctx.dataSource.query('SELECT * FROM session_info ORDER BY handle');

  /** Runs the calls; each must be GENERAL_ERROR naming `argument`, reach no storage and change no row. */
  async function expectRefused(calls: [string, Call][], argument: string): Promise<void> {
    const before = await snapshot();
    expect(before).toHaveLength(4);
    const spies = spyOnStore(store);
    try {
      for (const [label, call] of calls) {
        const error = await rejectsWith(call(ctx.engine, alice.session.handle), 'GENERAL_ERROR', label);
        expect(error.message, label).toContain(argument);
        expect(error.message.length, `${label}: a short message, not an echo of the value`).toBeLessThan(200);
        expect(error.getStatus()).toBe(500);
      }
      expect(spies.calls, 'storage was reached').toEqual([]);
    } finally {
      spies.restore();
    }
    expect(await snapshot()).toEqual(before);
  }

  it('accepts a genuine call of each kind (control)', async () => {
    const { handle } = alice.session;
    await expect(ctx.engine.getSessionData(handle)).resolves.toEqual({ cart: [1, 2] });
    expect((await ctx.engine.getAllSessionHandlesForUser('alice')).sort()).toContain(handle);
    expect(await ctx.engine.listSessionsForUser(42)).toHaveLength(1);
    expect(await ctx.engine.revokeSessionForUser(handle, 'bob')).toBe(false);
    expect(await ctx.engine.revokeOtherSessions('nobody', handle)).toBe(0);
  });

  it.each(USER_IDS)('refuses a user id that is %s in every call that takes one', async (label, userId) => {
    await expectRefused(
      USER_ID_CALLS.map(([name, call]) => [`${name}(${label})`, call(userId)]),
      'userId',
    );
  });

  it.each(JSON_VALUES)('refuses session data and a JWT payload that hold %s', async (label, value) => {
    await expectRefused(
      [[`createNewSession data ${label}`, (engine) => engine.createNewSession('mallory', {}, value())]],
      'sessionData',
    );
    await expectRefused(
      [[`updateSessionData ${label}`, (engine, handle) => engine.updateSessionData(handle, value())]],
      'sessionData',
    );
    await expectRefused(
      [[`createNewSession payload ${label}`, (engine) => engine.createNewSession('mallory', value())]],
      'jwtPayload',
    );
  });

  it('refuses data over the size cap counted in bytes, not characters', async () => {
    const multibyte = { text: 'é'.repeat(17_000) }; // 17 000 characters, 34 000 bytes
    await expectRefused(
      [
        [
          '32 KB + 1 of ASCII',
          (engine) => engine.createNewSession('mallory', {}, { t: 'x'.repeat(32 * 1024) }),
        ],
        ['34 000 bytes of é', (engine) => engine.createNewSession('mallory', {}, multibyte)],
        ['update over the cap', (engine, handle) => engine.updateSessionData(handle, multibyte)],
      ],
      'sessionData',
    );
    await expectRefused(
      [['2 KB + 1 payload', (engine) => engine.createNewSession('mallory', { t: 'x'.repeat(2048) })]],
      'jwtPayload',
    );
  });

  it.each(HANDLES)('refuses a session handle with %s in every call that takes one', async (label, make) => {
    const handle = make(alice.session.handle);
    await expectRefused(
      HANDLE_CALLS.map(([name, call]) => [`${name}(${label})`, call(handle)]),
      'sessionHandle',
    );
  });

  it('keeps prototype-pollution payloads as plain data', async () => {
    const hostile = JSON.parse(
      '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}',
    );
    const created = await ctx.engine.createNewSession('proto-user', hostile, hostile);
    const verified = await ctx.engine.getSession(created.accessToken.value, null);
    const data = await ctx.engine.getSessionData(created.session.handle);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    for (const value of [verified.session.jwtPayload, data] as Record<string, unknown>[]) {
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.hasOwn(value, '__proto__')).toBe(true);
      expect((value as { polluted?: unknown }).polluted).toBeUndefined();
    }
    await ctx.engine.revokeSessionUsingSessionHandle(created.session.handle);
  });

  it('treats non-string tokens as invalid tokens without touching storage', async () => {
    const before = await snapshot();
    const spies = spyOnStore(store);
    try {
      for (const token of [
        {},
        { handle: alice.session.handle },
        [alice.refreshToken.value],
        5,
        null,
        Like('%'),
      ]) {
        await rejectsWith(
          ctx.engine.refreshSession(token as never),
          'UNAUTHORISED',
          `refresh ${String(token)}`,
        );
        await rejectsWith(
          ctx.engine.getSession(token as never, null),
          'TRY_REFRESH_TOKEN',
          `get ${String(token)}`,
        );
      }
      expect(spies.calls).toEqual([]);
    } finally {
      spies.restore();
    }
    expect(await snapshot()).toEqual(before);
  });

  describe('the store beneath the engine', () => {
    const INJECTIONS: [string, unknown][] = [
      ['undefined', undefined],
      ['null', null],
      ['{ handle: undefined }', { handle: undefined }],
      ['an empty object', {}],
      ['a mysql2-style object', { handle: 1 }],
      ['TypeORM Like("%")', Like('%')],
      ['TypeORM Not("")', Not('')],
      ['an array', ['x']],
      ['NaN', Number.NaN],
    ];

    it('would match the first row through TypeORM itself with { handle: undefined } under this setting (control)', async () => {
      const repository = ctx.dataSource.getRepository<SessionRecord>(sessionEntities[0] as never);
      const row = await repository.findOneBy({ handle: undefined } as never);
      expect(row, 'TypeORM ignored the undefined condition').not.toBeNull();
    });

    it.each(INJECTIONS)('refuses %s in every WHERE value, touching no row', async (_, value) => {
      const before = await snapshot();
      const [first] = before as { handle: string; refresh_hash: string }[];
      const userKey = (await store.findSession(alice.session.handle))!.userKey;
      const rotation = {
        refreshHash: 'f'.repeat(64),
        generation: 99,
        ancestors: [],
        sealedLiveToken: null,
        graceUntil: 0,
        lastRefreshedAt: 0,
        expiresAt: 0,
      };
      const v = value as never;
      // Called loosely typed: the port's signature may grow (a deadline, say) without this test caring.
      const rotate = (handle: unknown, hash: unknown) =>
        (store.rotateRefreshToken as (...args: unknown[]) => Promise<boolean>).call(
          store,
          handle,
          hash,
          rotation,
          Date.now() + 60_000,
        );
      const calls: [string, () => Promise<unknown>][] = [
        ['findSession', () => store.findSession(v)],
        ['rotateRefreshToken(handle)', () => rotate(v, first.refresh_hash)],
        ['rotateRefreshToken(expectedHash)', () => rotate(first.handle, v)],
        ['updateSessionData', () => store.updateSessionData(v, '{"pwned":true}', 0)],
        ['updateSessionData(now)', () => store.updateSessionData(first.handle, '{"pwned":true}', v)],
        ['deleteSession', () => store.deleteSession(v)],
        ['deleteSessionOfUser(handle)', () => store.deleteSessionOfUser(v, userKey)],
        ['deleteSessionOfUser(userKey)', () => store.deleteSessionOfUser(alice.session.handle, v)],
        [
          'deleteOtherSessionsOfUser(userKey)',
          () => store.deleteOtherSessionsOfUser(v, alice.session.handle),
        ],
        ['deleteOtherSessionsOfUser(kept)', () => store.deleteOtherSessionsOfUser(userKey, v)],
        ['deleteSessionsOfUser', () => store.deleteSessionsOfUser(v)],
        ['findSessionsOfUser(userKey)', () => store.findSessionsOfUser(v, 0)],
        ['findSessionsOfUser(now)', () => store.findSessionsOfUser(userKey, v)],
        ['deleteExpired', () => store.deleteExpired(v)],
      ];
      for (const [label, call] of calls) {
        const outcome = await call().then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        );
        expect(outcome, `${label} ran with a non-scalar WHERE value`).toHaveProperty('error');
      }
      expect(await snapshot()).toEqual(before);
    });

    it('never lets a number match a text column (MariaDB would read handle "5ab…" as 5)', async () => {
      const record = (await store.findSession(alice.session.handle))!;
      const decoy = {
        ...record,
        handle: `5${'a'.repeat(31)}`,
        userKey: `5${'b'.repeat(63)}`,
        refreshHash: '0'.repeat(64),
      };
      await store.insertSession(decoy);
      try {
        const before = await snapshot();
        const outcome = async (call: () => Promise<unknown>) =>
          call().then(
            (result) => result,
            () => 'refused',
          );
        expect(await outcome(() => store.findSession(5 as never)), 'findSession(5)').not.toMatchObject({
          handle: decoy.handle,
        });
        expect(await outcome(() => store.deleteSession(5 as never)), 'deleteSession(5)').not.toBe(true);
        expect(
          await outcome(() => store.deleteSessionsOfUser(5 as never)),
          'deleteSessionsOfUser(5)',
        ).not.toBe(1);
        expect(await snapshot()).toEqual(before);
      } finally {
        await ctx.dataSource.query(`DELETE FROM session_info WHERE handle = '${decoy.handle}'`);
      }
    });
  });
});

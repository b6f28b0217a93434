import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionError } from '../../lib/errors/session.error.js';
import {
  readBearer,
  readRequestCredentials,
  readSessionCookies,
  type CookieValue,
} from '../../lib/http/request-credentials.js';
import { MAX_USER_ID_LENGTH, maxAccessTokenLength } from '../../lib/session.constants.js';
import { DEFAULT_SESSION_OPTIONS } from '../../lib/session.options.js';
import { assertSessionHandle, assertUserId, toJsonText } from '../../lib/session.arguments.js';
import { verifyAccessToken } from '../../lib/tokens/access-token.js';
import { mintRefreshToken, parseRefreshToken } from '../../lib/tokens/refresh-token.js';
import { b64 } from './support/jws.js';
import {
  ACCESS_TOKEN_COOKIE,
  ANTI_CSRF_HEADER,
  ID_REFRESH_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
} from '../../lib/http/wire.js';

/*
 * Property-based tests of the parsers every request goes through: whatever the input, each answers
 * a result of the documented shape (or a typed SessionError), never another exception.
 */

const RUNS = { numRuns: 400 };
const NAMES = [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE] as const;

/** Any UTF-16 code unit, lone surrogates included. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const anyString = (maxLength = 200) => fc.string({ unit: anyUnit, maxLength });
/** Characters that matter to the parsers, so generated input hits their branches often. */
const trickyString = (maxLength = 60) =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom(
        ';',
        '=',
        '"',
        '%',
        ' ',
        '\t',
        ',',
        '.',
        '%2',
        '%E9',
        '%C3%A9',
        '%ZZ',
        '\u0000',
        'é',
        '\uD800',
      ),
      fc.constantFrom(...NAMES, 'saccesstoken', 'Bearer ', 'bearer'),
      fc.string({ maxLength: 4 }),
    ),
    maxLength,
  });
/** Anything, including exotic objects (boxed values, null prototypes, BigInt, Map, sparse arrays…). */
const anyValue = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

function expectWellFormed(cookie: CookieValue): void {
  expect(cookie.value === undefined || typeof cookie.value === 'string').toBe(true);
  expect(typeof cookie.conflicting).toBe('boolean');
  expect(typeof cookie.duplicated).toBe('boolean');
  if (cookie.conflicting) expect(cookie.duplicated).toBe(true);
  if (cookie.value === undefined) expect(cookie.duplicated).toBe(false);
}

/** Runs `call`; a SessionError of `type` or success are the only outcomes allowed. */
function outcomeOf<T>(
  call: () => T,
  type: string,
): { ok: true; value: T } | { ok: false; error: SessionError } {
  try {
    return { ok: true, value: call() };
  } catch (error) {
    expect(error, `not a SessionError: ${String(error)}`).toBeInstanceOf(SessionError);
    expect((error as SessionError).type).toBe(type);
    return { ok: false, error: error as SessionError };
  }
}

describe('cookie parsing (readSessionCookies)', () => {
  it('answers well-formed values for any Cookie header, never throwing', () => {
    fc.assert(
      fc.property(fc.option(fc.oneof(anyString(400), trickyString(120)), { nil: undefined }), (header) => {
        const cookies = readSessionCookies(header);
        for (const name of ['accessToken', 'refreshToken', 'idRefreshToken'] as const) {
          expectWellFormed(cookies[name]);
        }
      }),
      RUNS,
    );
  });

  it('reads back exactly what was set, flagging duplicates and conflicts', () => {
    const pair = fc.tuple(
      fc.constantFrom(...NAMES, 'other', 'SACCESSTOKEN', 'sAccessToken2'),
      fc.string({ unit: 'binary', maxLength: 30 }),
    );
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 8 }), fc.constantFrom('; ', ';', ' ; '), (pairs, separator) => {
        const header = pairs.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join(separator);
        const cookies = readSessionCookies(header);
        const keys = {
          sAccessToken: 'accessToken',
          sRefreshToken: 'refreshToken',
          sIdRefreshToken: 'idRefreshToken',
        } as const;
        for (const name of NAMES) {
          const values = pairs.filter(([candidate]) => candidate === name).map(([, value]) => value);
          expect(cookies[keys[name]]).toEqual({
            value: values[0],
            duplicated: values.length > 1,
            conflicting: new Set(values).size > 1,
          });
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('header parsing (readRequestCredentials)', () => {
  const headerValue = fc.oneof(anyString(), trickyString(), fc.array(trickyString(), { maxLength: 3 }));

  it('answers well-formed credentials for any headers, taking a Bearer token only from a Bearer header', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('authorization', 'cookie', ANTI_CSRF_HEADER, 'x-other'), headerValue),
        fc.option(fc.constantFrom('GET', 'POST', 'get', ''), { nil: undefined }),
        (headers, method) => {
          const credentials = readRequestCredentials(
            { method, headers: headers as never },
            'access',
            () => false,
          );
          const authorization = [headers.authorization].flat()[0];
          if (credentials.kind === 'bearer') {
            expect(typeof credentials.token).toBe('string');
            expect(authorization).toMatch(/^bearer/i);
          }
          if (credentials.kind === 'cookies') {
            expectWellFormed(credentials.accessToken);
            expectWellFormed(credentials.refreshToken);
            expectWellFormed(credentials.idRefreshToken);
          }
        },
      ),
      RUNS,
    );
  });

  it('reads the token of a Bearer header in any casing', () => {
    fc.assert(
      fc.property(
        fc.mixedCase(fc.constant('bearer')),
        fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.'), minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 3 }),
        (scheme, token, spaces) => {
          expect(readBearer({ headers: { authorization: `${scheme}${' '.repeat(spaces)}${token}` } })).toBe(
            token,
          );
        },
      ),
      RUNS,
    );
  });
});

describe('refresh-token parsing (parseRefreshToken)', () => {
  const tagKey = randomBytes(32);
  const hexHandle = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 });
  const minted = fc
    .tuple(hexHandle, fc.integer({ min: 1, max: 999_999_999 }))
    .map(([handle, generation]) => ({
      handle,
      generation,
      token: mintRefreshToken(tagKey, handle, generation),
    }));

  it('refuses any value that was not minted with the key, never throwing', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, anyString(200), trickyString()), (value) => {
        expect(parseRefreshToken(tagKey, value)).toBeUndefined();
      }),
      RUNS,
    );
  });

  it('accepts a minted token and refuses every one-character edit of it', () => {
    const edit = fc.record({
      kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate', 'append', 'swap-case'),
      at: fc.nat(),
      char: fc.oneof(fc.constantFrom(...'0123456789abcdefABCDEF-_.=+/ '), anyUnit),
    });
    fc.assert(
      fc.property(minted, edit, ({ token, handle, generation }, { kind, at, char }) => {
        expect(parseRefreshToken(tagKey, token)).toEqual({ handle, generation });
        const i = at % token.length;
        const edited = {
          replace: token.slice(0, i) + char + token.slice(i + 1),
          insert: token.slice(0, i) + char + token.slice(i),
          delete: token.slice(0, i) + token.slice(i + 1),
          truncate: token.slice(0, i),
          append: token + char,
          'swap-case':
            token.slice(0, i) +
            (token[i] === token[i].toUpperCase() ? token[i].toLowerCase() : token[i].toUpperCase()) +
            token.slice(i + 1),
        }[kind];
        fc.pre(edited !== token);
        expect(parseRefreshToken(tagKey, edited)).toBeUndefined();
      }),
      RUNS,
    );
  });

  it('refuses a token minted under another key', () => {
    fc.assert(
      fc.property(minted, ({ token }) => {
        expect(parseRefreshToken(randomBytes(32), token)).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  });
});

describe('access-token verification (verifyAccessToken)', () => {
  const options = { clockTolerance: 5, maxLength: maxAccessTokenLength(DEFAULT_SESSION_OPTIONS.cookie) };

  it('answers nothing for any value, never throwing and never looking a key up for a non-token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyValue, anyString(300), trickyString()), async (value) => {
        const lookups: string[] = [];
        const result = await verifyAccessToken(value, (kid) => void lookups.push(kid), Date.now(), options);
        expect(result).toBeUndefined();
        for (const kid of lookups) expect(typeof kid).toBe('string');
      }),
      RUNS,
    );
  });

  it('looks up exactly the kid of a JWT-shaped token when it is a short string, and nothing else', async () => {
    const kid = fc.oneof(
      anyString(140),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
        fc.option(kid, { nil: undefined }),
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
        fc.string({ unit: fc.constantFrom(...'abcXYZ09-_'), minLength: 1, maxLength: 86 }),
        async (header, kidValue, payload, signature) => {
          // jose refuses `crit` and `b64` headers before it asks for a key.
          const { crit: _crit, b64: _b64, ...rest } = header;
          const fields: Record<string, unknown> = { ...rest, alg: 'HS256' };
          if (kidValue === undefined) delete fields.kid;
          else fields.kid = kidValue;
          const token = `${b64(fields)}.${b64(payload)}.${signature}`;
          const lookups: string[] = [];
          const result = await verifyAccessToken(token, (id) => void lookups.push(id), Date.now(), options);
          expect(result).toBeUndefined();
          const expected =
            token.length <= options.maxLength &&
            typeof fields.kid === 'string' &&
            fields.kid.length > 0 &&
            fields.kid.length <= 128
              ? [fields.kid]
              : [];
          expect(lookups).toEqual(expected);
        },
      ),
      RUNS,
    );
  });
});

describe('argument checks', () => {
  it('accepts exactly the documented user ids and refuses the rest with GENERAL_ERROR naming userId', () => {
    const userId = fc.oneof(
      anyValue,
      anyString(300),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
      fc.double(),
      fc.constantFrom('', '\u0000', 'a\u0000', 'u'.repeat(255), 'u'.repeat(256), '\uD83D\uDE00'),
    );
    fc.assert(
      fc.property(userId, (value) => {
        const valid =
          (typeof value === 'number' && Number.isFinite(value)) ||
          (typeof value === 'string' &&
            value.length > 0 &&
            value.length <= MAX_USER_ID_LENGTH &&
            value.isWellFormed() &&
            !value.includes('\u0000'));
        const outcome = outcomeOf(() => assertUserId(value), 'GENERAL_ERROR');
        expect(outcome.ok).toBe(valid);
        if (!outcome.ok) expect(outcome.error.message).toContain('userId');
      }),
      RUNS,
    );
  });

  it('accepts exactly 32 lowercase hex characters as a session handle', () => {
    const handle = fc.oneof(
      anyValue,
      trickyString(),
      fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF\n '), minLength: 30, maxLength: 34 }),
    );
    fc.assert(
      fc.property(handle, (value) => {
        const outcome = outcomeOf(() => assertSessionHandle(value), 'GENERAL_ERROR');
        expect(outcome.ok).toBe(typeof value === 'string' && /^[0-9a-f]{32}$/.test(value));
        if (!outcome.ok) expect(outcome.error.message).toContain('sessionHandle');
      }),
      RUNS,
    );
  });

  it('serialises any value to JSON that reads back equal, or refuses it with GENERAL_ERROR naming it', () => {
    const withoutNegativeZero = (value: unknown): unknown =>
      Object.is(value, -0)
        ? 0
        : Array.isArray(value)
          ? value.map(withoutNegativeZero)
          : value !== null && typeof value === 'object'
            ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withoutNegativeZero(item)]))
            : value;
    fc.assert(
      fc.property(anyValue, fc.constantFrom(64, 2048, 32 * 1024), (value, limit) => {
        const outcome = outcomeOf(() => toJsonText('sessionData', value, limit), 'GENERAL_ERROR');
        if (outcome.ok) {
          expect(Buffer.byteLength(outcome.value)).toBeLessThanOrEqual(limit);
          // JSON has no negative zero: it reads back as 0, which equals it for every JSON consumer.
          expect(JSON.parse(outcome.value)).toEqual(withoutNegativeZero(value));
        } else {
          expect(outcome.error.message).toMatch(/^sessionData /);
        }
      }),
      RUNS,
    );
  });
});

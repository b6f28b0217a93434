import { describe, expect, it } from 'vitest';
import { claimValidationErrors, staleClaims } from './claim-validation.js';
import { CLAIMS_FETCHED_AT, SessionClaims, claimValue, jsonEquals } from './session-claims.js';

describe('SessionClaims validators', () => {
  const cases = [
    [SessionClaims.equals('role', 'admin'), 'admin', 'user', 'must equal "admin"'],
    [
      SessionClaims.equals('org', { id: 1, tier: 'pro' }),
      { tier: 'pro', id: 1 },
      { id: 1 },
      'must equal {"id":1,"tier":"pro"}',
    ],
    [SessionClaims.includes('roles', 'admin'), ['user', 'admin'], 'admin', 'must include "admin"'],
    [SessionClaims.exists('email'), '', null, 'is missing'],
    [SessionClaims.atLeast('level', 3), 3, '3', 'must be a number of at least 3'],
    [SessionClaims.atMost('level', 3), -1, 4, 'must be a number of at most 3'],
    [
      SessionClaims.check('age', (v) => typeof v === 'number' && v >= 18, 'must be an adult'),
      18,
      17,
      'must be an adult',
    ],
  ] as const;

  it.each(cases)('%o passes %o and refuses %o with its reason', (validator, good, bad, reason) => {
    expect(validator.validate(good)).toBeUndefined();
    expect(validator.validate(bad)).toBe(reason);
    expect(validator.validate(undefined)).toBe(reason);
  });

  it('reads own keys of an object payload only', () => {
    expect(claimValue({ roles: ['a'] }, 'roles')).toEqual(['a']);
    expect(claimValue({}, 'constructor')).toBeUndefined();
    expect(claimValue({}, '__proto__')).toBeUndefined();
    expect(claimValue(['x'], '0')).toBeUndefined();
    expect(claimValue('text', 'length')).toBeUndefined();
    expect(claimValue(null, 'x')).toBeUndefined();
  });

  it('compares JSON by content', () => {
    expect(jsonEquals([1, { a: [2] }], [1, { a: [2] }])).toBe(true);
    expect(jsonEquals([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(jsonEquals({ a: undefined }, { b: undefined })).toBe(false);
    expect(jsonEquals(1, '1')).toBe(false);
  });

  it('refuses bad arguments when the route is declared', () => {
    expect(() => SessionClaims.exists('')).toThrow(/non-empty string/);
    expect(() => SessionClaims.exists(CLAIMS_FETCHED_AT)).toThrow(/reserved/);
    expect(() => SessionClaims.exists('a', { maxAge: 0 })).toThrow(/positive number of seconds/);
    expect(() => SessionClaims.exists('a', { maxAge: Number.NaN })).toThrow(/positive number/);
    expect(() => SessionClaims.atLeast('a', Number.POSITIVE_INFINITY)).toThrow(/finite number/);
    expect(() => SessionClaims.check('a', 'yes' as never, 'r')).toThrow(/predicate/);
  });

  it('lists every failed claim in order', () => {
    const validators = [SessionClaims.exists('a'), SessionClaims.atLeast('b', 2), SessionClaims.exists('c')];
    expect(claimValidationErrors({ b: 1, c: 0 }, validators)).toEqual([
      { claim: 'a', reason: 'is missing' },
      { claim: 'b', reason: 'must be a number of at least 2' },
    ]);
  });

  it('finds claims older than their maxAge or never fetched, once each', () => {
    const validators = [
      SessionClaims.exists('fresh', { maxAge: 60 }),
      SessionClaims.exists('old', { maxAge: 60 }),
      SessionClaims.includes('never', 'x', { maxAge: 60 }),
      SessionClaims.exists('never', { maxAge: 10 }),
      SessionClaims.exists('unbounded'),
    ];
    const payload = { [CLAIMS_FETCHED_AT]: { fresh: 1000, old: 939 }, unbounded: 1 };
    expect(staleClaims(payload, validators, 1000 + 60)).toEqual(['old', 'never']);
    expect(staleClaims('not an object', validators, 0)).toEqual(['fresh', 'old', 'never']);
  });
});

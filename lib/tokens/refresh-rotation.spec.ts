import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RefreshAncestor, SessionRecord } from '../storage/session-store.js';
import {
  classifyRefresh,
  firstExpiry,
  generationLiveness,
  insideGrace,
  liveTokenContext,
  nextRotation,
  openLiveToken,
  refreshPolicyOf,
  type RefreshPolicy,
} from './refresh-rotation.js';
import { hashRefreshToken, mintRefreshToken, newSessionHandle, parseRefreshToken } from './refresh-token.js';
import { open, seal } from './secrets.js';

const GRACE = 10_000;
const NOW = 1_800_000_000_000;
const policy: RefreshPolicy = refreshPolicyOf({ gracePeriod: 10, validity: 3600 }, 4);
const keys = { refreshTokenTag: randomBytes(32), liveTokenSeal: randomBytes(32) };

const ancestor = (generation: number, rotatedAt: number): RefreshAncestor => ({
  hash: `hash-${generation}`,
  generation,
  rotatedAt,
});

function row(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    handle: newSessionHandle(),
    userKey: 'user-key',
    userId: 'user',
    userIdType: 'string',
    refreshHash: 'hash-5',
    generation: 5,
    ancestors: [],
    sealedLiveToken: null,
    graceUntil: 0,
    sessionData: '{}',
    jwtPayload: '{}',
    accessTokenValidity: null,
    createdAt: NOW - 60_000,
    lastRefreshedAt: NOW - 60_000,
    payloadVersion: 1,
    authTime: null,
    actor: null,
    expiresAt: NOW + 60_000,
    absoluteExpiresAt: null,
    ...overrides,
  };
}

describe('the refresh policy', () => {
  it('converts the refreshToken options from seconds to milliseconds', () => {
    expect(refreshPolicyOf({ gracePeriod: 10, validity: 3600, absoluteLifetime: 7200 }, 16)).toEqual({
      gracePeriod: 10_000,
      validity: 3_600_000,
      absoluteLifetime: 7_200_000,
      maxAncestors: 16,
    });
    expect(policy.absoluteLifetime).toBeUndefined();
  });

  it.each([
    ['one millisecond before the end of the grace period', NOW - GRACE + 1, true],
    ['exactly at the end of the grace period', NOW - GRACE, false],
    ['one millisecond after the grace period', NOW - GRACE - 1, false],
  ])('treats a token rotated away %s as inside the grace: %s', (_, rotatedAt, inside) => {
    expect(insideGrace(rotatedAt, NOW, GRACE)).toBe(inside);
  });
});

describe('classifying a presented refresh token', () => {
  const record = row({ ancestors: [ancestor(3, NOW - GRACE - 5_000), ancestor(4, NOW - GRACE + 1)] });

  it.each([
    ['the current token', 'hash-5', false, 'current'],
    ['the current token after a refused rotation', 'hash-5', true, 'current'],
    ['a token rotated away 1 ms inside the grace period', 'hash-4', false, 'replay'],
    ['a token rotated away before the grace period', 'hash-3', false, 'theft'],
    ['a token the request lost its rotation race to, after the grace period', 'hash-3', true, 'replay'],
    ['a token of a generation the session does not remember', 'hash-2', false, 'unknown'],
    ['an unknown token, even after a lost race', 'hash-2', true, 'unknown'],
  ] as const)('calls %s %s', (_, hash, lostRace, kind) => {
    expect(classifyRefresh(record, hash, NOW, GRACE, lostRace).kind).toBe(kind);
  });

  it('is theft exactly at the end of the grace period, a replay 1 ms before', () => {
    const edge = row({ ancestors: [ancestor(4, NOW - GRACE)] });
    expect(classifyRefresh(edge, 'hash-4', NOW, GRACE, false)).toEqual({
      kind: 'theft',
      ancestor: ancestor(4, NOW - GRACE),
    });
    expect(classifyRefresh(edge, 'hash-4', NOW - 1, GRACE, false).kind).toBe('replay');
  });
});

describe('the liveness of an access token generation', () => {
  const state = row({ ancestors: [ancestor(3, NOW - GRACE), ancestor(4, NOW - GRACE + 1)] });

  it.each([
    ['the current generation', state, 5, 'live'],
    ['a generation rotated away 1 ms inside the grace period', state, 4, 'live'],
    ['a generation rotated away exactly at the end of the grace period', state, 3, 'stale'],
    ['a generation the session does not remember', state, 2, 'stale'],
    ['a future generation', state, 6, 'stale'],
    ['a session that expires now', row({ expiresAt: NOW }), 5, 'gone'],
    ['a missing session', undefined, 5, 'gone'],
  ] as const)('calls %s %s', (_, record, generation, liveness) => {
    expect(generationLiveness(record, generation, NOW, GRACE)).toBe(liveness);
  });
});

describe('the expiry of a session', () => {
  it('slides with each refresh and never passes the absolute lifetime', () => {
    expect(firstExpiry(NOW, policy)).toEqual({ expiresAt: NOW + 3_600_000, absoluteExpiresAt: null });
    const capped = refreshPolicyOf({ gracePeriod: 10, validity: 3600, absoluteLifetime: 1800 }, 4);
    expect(firstExpiry(NOW, capped)).toEqual({
      expiresAt: NOW + 1_800_000,
      absoluteExpiresAt: NOW + 1_800_000,
    });
  });
});

describe('the next rotation', () => {
  it('bumps the generation, remembers the rotated token and slides the expiry', () => {
    const record = row();
    const { rotation, token } = nextRotation(record, NOW, policy, keys);
    expect(parseRefreshToken(keys.refreshTokenTag, token)).toEqual({ handle: record.handle, generation: 6 });
    expect(rotation).toMatchObject({
      refreshHash: hashRefreshToken(token),
      generation: 6,
      ancestors: [{ hash: 'hash-5', generation: 5, rotatedAt: NOW }],
      graceUntil: NOW + GRACE,
      lastRefreshedAt: NOW,
      expiresAt: NOW + 3_600_000,
    });
    expect(openLiveToken(keys.liveTokenSeal, { ...record, ...rotation })).toBe(token);
  });

  it('forgets ancestors past the grace period and keeps at most maxAncestors, the newest', () => {
    const inside = [1, 2, 3, 4].map((generation) => ancestor(generation, NOW - GRACE + generation));
    const record = row({ ancestors: [ancestor(0, NOW - GRACE), ...inside] });
    const { rotation } = nextRotation(record, NOW, policy, keys);
    expect(rotation.ancestors.map((kept) => kept.generation)).toEqual([2, 3, 4, 5]);
  });

  it('caps the sliding expiry at the absolute one', () => {
    const { rotation } = nextRotation(row({ absoluteExpiresAt: NOW + 5_000 }), NOW, policy, keys);
    expect(rotation.expiresAt).toBe(NOW + 5_000);
  });
});

describe('the sealed live token', () => {
  const handle = newSessionHandle();
  const token = mintRefreshToken(keys.refreshTokenTag, handle, 6);
  const sealed = seal(keys.liveTokenSeal, token, liveTokenContext(handle, 6));
  const record = { handle, generation: 6, refreshHash: hashRefreshToken(token), sealedLiveToken: sealed };

  it('opens for its own session and generation', () => {
    expect(openLiveToken(keys.liveTokenSeal, record)).toBe(token);
  });

  it.each([
    ['another generation', { generation: 7 }],
    ['another session', { handle: newSessionHandle() }],
    ['a row whose current token is another', { refreshHash: hashRefreshToken('other') }],
    ['a row without a sealed token', { sealedLiveToken: null }],
    ['another key', { sealedLiveToken: seal(randomBytes(32), token, liveTokenContext(handle, 6)) }],
  ])('does not open for %s', (_, change) => {
    expect(openLiveToken(keys.liveTokenSeal, { ...record, ...change })).toBeUndefined();
  });

  it('binds the context: sealed under one context, it does not open under another', () => {
    expect(open(keys.liveTokenSeal, sealed, liveTokenContext(handle, 6))).toBe(token);
    expect(open(keys.liveTokenSeal, sealed, liveTokenContext(handle, 5))).toBeUndefined();
  });
});

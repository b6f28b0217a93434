import type {
  RefreshAncestor,
  SessionRecord,
  SessionRotation,
  SessionState,
} from '../storage/session-store.js';
import { hashRefreshToken, mintRefreshToken } from './refresh-token.js';
import { constantTimeEqual, open, seal } from './secrets.js';

/**
 * The refresh-token rules as pure functions: when a rotated token is still inside its grace
 * period, which refresh generation an access token may carry, what a presented refresh token is,
 * and what the next rotation writes. Every time is epoch ms on the app's clock.
 */

const SECOND = 1000;

/** The refresh options the rules need, in milliseconds. */
export interface RefreshPolicy {
  /** How long a rotated token may be replayed (and its access token stays live). */
  gracePeriod: number;
  /** Sliding lifetime of a session from its last refresh. */
  validity: number;
  /** Lifetime of a session from its creation, whatever its refreshes; `undefined`: none. */
  absoluteLifetime: number | undefined;
  /** How many rotated tokens a session remembers inside the grace period. */
  maxAncestors: number;
}

/** What a presented refresh token is, for a session that is live. */
export type RefreshVerdict =
  /** The session's current token: rotate it. */
  | { kind: 'current' }
  /** A token rotated away inside the grace period (or by the race it lost): hand out the live one. */
  | { kind: 'replay'; ancestor: RefreshAncestor }
  /** A token rotated away before the grace period: theft, revoke. */
  | { kind: 'theft'; ancestor: RefreshAncestor }
  /** Authentic for the session but no generation it remembers: theft too, revoke. */
  | { kind: 'unknown' };

/** The policy of the `refreshToken` options (seconds) with `maxAncestors` remembered tokens. */
export function refreshPolicyOf(
  options: { gracePeriod: number; validity: number; absoluteLifetime?: number },
  maxAncestors: number,
): RefreshPolicy {
  const { gracePeriod, validity, absoluteLifetime } = options;
  return {
    gracePeriod: gracePeriod * SECOND,
    validity: validity * SECOND,
    absoluteLifetime: absoluteLifetime === undefined ? undefined : absoluteLifetime * SECOND,
    maxAncestors,
  };
}

/** Whether a token rotated away at `rotatedAt` is still inside the grace period at `now`. */
export function insideGrace(rotatedAt: number, now: number, gracePeriod: number): boolean {
  return rotatedAt + gracePeriod > now;
}

/** Whether a session row exists and has not expired at `now`. */
export function isLiveSession<T extends { expiresAt: number }>(
  record: T | undefined,
  now: number,
): record is T {
  return record !== undefined && record.expiresAt > now;
}

/**
 * What a per-request revocation check (`checkDatabase`) makes of an access token's refresh
 * `generation`: `'gone'` when the session is missing or expired, `'live'` when the generation is
 * the current one or one rotated away inside the grace period, else `'stale'`.
 */
export function generationLiveness(
  state: Pick<SessionState, 'generation' | 'ancestors' | 'expiresAt'> | undefined,
  generation: number,
  now: number,
  gracePeriod: number,
): 'gone' | 'live' | 'stale' {
  if (!isLiveSession(state, now)) return 'gone';
  if (state.generation === generation) return 'live';
  const recent = state.ancestors.some(
    (ancestor) => ancestor.generation === generation && insideGrace(ancestor.rotatedAt, now, gracePeriod),
  );
  return recent ? 'live' : 'stale';
}

/**
 * Classifies the refresh token hashed as `presentedHash` against a live session. `lostRace`: this
 * request's own rotation was just refused because another request rotated first; the token that
 * request rotated away is then a replay whatever the clocks of the two hosts say.
 */
export function classifyRefresh(
  record: Pick<SessionRecord, 'refreshHash' | 'ancestors'>,
  presentedHash: string,
  now: number,
  gracePeriod: number,
  lostRace: boolean,
): RefreshVerdict {
  if (constantTimeEqual(record.refreshHash, presentedHash)) return { kind: 'current' };
  const ancestor = record.ancestors.find((candidate) => constantTimeEqual(candidate.hash, presentedHash));
  if (!ancestor) return { kind: 'unknown' };
  return lostRace || insideGrace(ancestor.rotatedAt, now, gracePeriod)
    ? { kind: 'replay', ancestor }
    : { kind: 'theft', ancestor };
}

/** Expiry at `now` of a session refreshed then: the sliding validity, capped by the absolute one. */
export function slidingExpiry(now: number, policy: RefreshPolicy, absoluteExpiresAt: number | null): number {
  return Math.min(now + policy.validity, absoluteExpiresAt ?? Number.POSITIVE_INFINITY);
}

/** The expiry times of a session created at `now`. */
export function firstExpiry(
  now: number,
  policy: RefreshPolicy,
): Pick<SessionRecord, 'expiresAt' | 'absoluteExpiresAt'> {
  const absoluteExpiresAt = policy.absoluteLifetime === undefined ? null : now + policy.absoluteLifetime;
  return { expiresAt: slidingExpiry(now, policy, absoluteExpiresAt), absoluteExpiresAt };
}

/**
 * The rotation of `record` at `now`: the next generation with a fresh token (returned in clear
 * and kept sealed for grace-period replays), the current token remembered as an ancestor (those
 * past the grace period forgotten, at most `maxAncestors` kept), the expiry slid forward.
 */
export function nextRotation(
  record: Pick<SessionRecord, 'handle' | 'refreshHash' | 'generation' | 'ancestors' | 'absoluteExpiresAt'>,
  now: number,
  policy: RefreshPolicy,
  keys: { refreshTokenTag: Buffer; liveTokenSeal: Buffer },
): { rotation: SessionRotation; token: string } {
  const generation = record.generation + 1;
  const token = mintRefreshToken(keys.refreshTokenTag, record.handle, generation);
  const ancestors = record.ancestors
    .filter((ancestor) => insideGrace(ancestor.rotatedAt, now, policy.gracePeriod))
    .concat({ hash: record.refreshHash, generation: record.generation, rotatedAt: now })
    .slice(-policy.maxAncestors);
  const rotation: SessionRotation = {
    refreshHash: hashRefreshToken(token),
    generation,
    ancestors,
    sealedLiveToken: seal(keys.liveTokenSeal, token, liveTokenContext(record.handle, generation)),
    graceUntil: now + policy.gracePeriod,
    lastRefreshedAt: now,
    expiresAt: slidingExpiry(now, policy, record.absoluteExpiresAt),
  };
  return { rotation, token };
}

/**
 * The live refresh token kept sealed in `record`, for a grace-period replay; `undefined` when there
 * is none, it was sealed for another session or generation, or it is not the current token.
 */
export function openLiveToken(
  sealKey: Buffer,
  record: Pick<SessionRecord, 'handle' | 'generation' | 'refreshHash' | 'sealedLiveToken'>,
): string | undefined {
  if (!record.sealedLiveToken) return undefined;
  const live = open(sealKey, record.sealedLiveToken, liveTokenContext(record.handle, record.generation));
  return live !== undefined && constantTimeEqual(hashRefreshToken(live), record.refreshHash)
    ? live
    : undefined;
}

/** Binds a sealed live token to its session and generation: it opens for no other row. */
export function liveTokenContext(handle: string, generation: number): string {
  return `${handle}.${generation}`;
}

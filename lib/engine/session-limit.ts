import { LoginError } from '../errors/login.error.js';
import { SessionError } from '../errors/session.error.js';
import { SessionLimitError } from '../errors/session-limit.error.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import { REVOCATION_REASONS } from '../revocation/revocation-reasons.js';
import type { UserId } from '../session.arguments.js';
import type { SessionEvents } from '../session.events.js';
import type { Revocation, SessionRecord } from '../storage/session-store.js';
import type { RefreshPolicy } from '../tokens/refresh-rotation.js';
import type { BoundedSessionStore } from './bounded-store.js';

/**
 * Inserts a new session, under `maxSessionsPerUser` when set: the sessions that give way are
 * revoked with the reason `'limit'` in the insert's transaction, under a per-user lock that waits at
 * most half of `databaseTimeout`.
 * @throws SessionLimitError `SESSION_LIMIT_REACHED` (403) with `onSessionLimit: 'refuse'` at the cap
 * (nothing written); SessionError `GENERAL_ERROR` for an unavailable database or a lock held too long.
 */
export async function insertWithinLimit(
  db: BoundedSessionStore,
  record: SessionRecord,
  userId: UserId,
  options: Pick<ResolvedSessionOptions, 'maxSessionsPerUser' | 'onSessionLimit' | 'databaseTimeout'>,
  revocation: (reason: string) => Revocation | undefined,
  events: SessionEvents,
): Promise<void> {
  const max = options.maxSessionsPerUser;
  if (max === undefined) return db.insertSession(record);
  const result = await db.insertSessionWithinLimit(record, {
    max,
    policy: options.onSessionLimit,
    revocation: revocation(REVOCATION_REASONS.limit),
    lockWaitSeconds: Math.max(1, Math.floor(options.databaseTimeout / 2)),
    now: record.createdAt,
  });
  if (result.outcome === 'refused') throw new SessionLimitError(max);
  if (result.outcome !== 'inserted') return;
  for (const sessionHandle of result.revokedHandles) {
    events.publish('session.revoked', {
      reason: REVOCATION_REASONS.limit,
      operation: 'limit',
      sessionHandle,
      userId,
      count: 1,
    });
  }
}

/**
 * The refresh policy of a session: a "remember me"-less one (`persistent: false`) slides by
 * `refreshToken.nonPersistentValidity` instead of `refreshToken.validity`.
 */
export function idlePolicyOf(
  policy: RefreshPolicy,
  nonPersistentValidity: number,
  persistent: boolean | undefined,
): RefreshPolicy {
  return persistent === false ? { ...policy, validity: nonPersistentValidity * 1000 } : policy;
}

/**
 * The `persistent` choice of a new session (`true` unless `false`).
 * @throws SessionError `GENERAL_ERROR` for anything but a boolean or `undefined` (a form's `'false'`
 * must not silently mean "remember me").
 */
export function persistentOf(persistent: unknown): boolean {
  if (persistent !== undefined && typeof persistent !== 'boolean') {
    throw new SessionError(
      SessionError.GENERAL_ERROR,
      `persistent must be true or false, got ${typeof persistent}.`,
    );
  }
  return persistent !== false;
}

/**
 * `login`'s `rememberMe` as `persistent`.
 * @throws LoginError `INVALID_LOGIN_OPTIONS` (400) for anything but a boolean or `undefined`.
 */
export function rememberMeOf(rememberMe: unknown): boolean {
  if (rememberMe !== undefined && typeof rememberMe !== 'boolean') {
    throw new LoginError(
      LoginError.INVALID_LOGIN_OPTIONS,
      `rememberMe must be true or false, got ${typeof rememberMe}.`,
    );
  }
  return rememberMe !== false;
}

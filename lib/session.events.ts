import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import type { SessionMetadata } from './interfaces/session-metadata.interface.js';
import type { UserId } from './session.arguments.js';

/** A login through a strategy that completed or failed (a pending first step fires none, as in Kuzzle). */
export interface LoginAttemptEvent {
  success: boolean;
  strategy: string;
  /** Set when the strategy accepted the credentials. */
  userId?: UserId;
  /** Why it failed: `'invalid-credentials'`, `'unknown-strategy'` or the strategy's error message. */
  error?: string;
}

/** A new session. */
export interface SessionCreatedEvent {
  sessionHandle: string;
  userId: UserId;
  /** What the session recorded about its client; absent with `sessionMetadata: false`. */
  metadata?: SessionMetadata;
}

/** A refresh; `replay` when a just-rotated token was answered with the live one (grace period). */
export interface SessionRefreshedEvent {
  sessionHandle: string;
  userId: UserId;
  replay: boolean;
  /** The session's metadata after the refresh; absent with `sessionMetadata: false`. */
  metadata?: SessionMetadata;
}

/** Sessions revoked by sign-out, an admin, "sign out everywhere", theft detection or the session cap. */
export interface SessionRevokedEvent {
  /**
   * Why: a built-in reason (`REVOCATION_REASONS`: `'signed-out'`, `'revoked'`, `'theft'`, `'limit'`...)
   * or the app's own, as given to the revoke call.
   */
  reason: string;
  /** Which call revoked them (what `reason` meant before revocation reasons). */
  operation:
    'revoke' | 'revoke-for-user' | 'revoke-others' | 'revoke-all' | 'theft' | 'limit' | 'impersonation-ended';
  /** The revoked session, when one was named. */
  sessionHandle?: string;
  userId?: UserId;
  /** How many sessions were revoked. */
  count: number;
  /** `revoke-others`: the session that was kept (its live connections stay open). */
  keptSessionHandle?: string;
  /**
   * Set when another instance revoked it and this one learnt of it through the revocation bus
   * (one event per session); e.g. to close this instance's live connections of the session.
   */
  remote?: boolean;
}

/** The revocation bus went down or late (checks read the database), or is healthy again. */
export interface RevocationHealthEvent {
  transport: string;
  /** Highest revocation-log id applied in memory. */
  lastPosition: number;
}

/** A refresh token was reused after its grace period: the session was revoked. */
export interface TokenTheftEvent {
  sessionHandle: string;
  userId: UserId;
}

/** A session's JWT payload changed (`mergeIntoAccessTokenPayload`); `payloadVersion` is the new one. */
export interface SessionPayloadChangedEvent {
  sessionHandle: string;
  userId: UserId;
  payloadVersion: number;
}

/** A session's user authenticated again within it (`SessionService.elevate`): `auth_time` is now. */
export interface SessionElevatedEvent {
  sessionHandle: string;
  userId: UserId;
}

/** An impersonation started (`SessionService.impersonate`): `actorUserId` acts as `targetUserId`. */
export interface ImpersonationStartedEvent {
  sessionHandle: string;
  actorUserId: UserId;
  targetUserId: UserId;
  reason?: string;
  /** Its hard end, epoch ms (refreshes never extend it). */
  expiresAt: number;
}

/**
 * An impersonation ended: `'signed-out'` by the session's `revokeSession()`, `'revoked'` by
 * `SessionService.revokeSessionUsingSessionHandle` / `revokeSessionForUser` / `revokeAllSessionsForUser`,
 * `'expired'` when its lifetime ran out (seen at a refresh or the cleanup). `actorUserId` is the
 * RFC 8693 `act.sub`, a string.
 */
export interface ImpersonationEndedEvent {
  sessionHandle: string;
  actorUserId: string;
  targetUserId: UserId;
  cause: 'signed-out' | 'revoked' | 'expired';
}

/** The events and their payloads. */
export interface SessionEventMap {
  'login.attempt': [LoginAttemptEvent];
  'session.created': [SessionCreatedEvent];
  'session.refreshed': [SessionRefreshedEvent];
  'session.revoked': [SessionRevokedEvent];
  'session.theft-detected': [TokenTheftEvent];
  'session.payload-changed': [SessionPayloadChangedEvent];
  'session.elevated': [SessionElevatedEvent];
  'session.impersonation-started': [ImpersonationStartedEvent];
  'session.impersonation-ended': [ImpersonationEndedEvent];
  'revocation.degraded': [RevocationHealthEvent];
  'revocation.restored': [RevocationHealthEvent];
}

/**
 * The library's events, on Node's own `EventEmitter`: inject `SessionEvents` and subscribe.
 * A listener that throws is logged, and neither breaks the request that emitted the event nor keeps
 * the other listeners from running.
 * @example
 * ```ts
 * constructor(events: SessionEvents) {
 *   events.on('session.theft-detected', ({ userId }) => this.alerts.notify(userId));
 * }
 * ```
 */
@Injectable()
export class SessionEvents extends EventEmitter<SessionEventMap> {
  private readonly logger = new Logger('SessionEvents');
  /** Observers of every event (telemetry, audit), run before the listeners; see {@link observe}. */
  private readonly observers: ((event: string, payload: unknown) => void)[] = [];

  /**
   * Calls `observer` with every event published from now on, whatever its name (events added later
   * included), before the event's listeners. Isolated like a listener. Returns a function that stops it.
   */
  observe(observer: (event: string, payload: unknown) => void): () => void {
    this.observers.push(observer);
    return () => {
      const index = this.observers.indexOf(observer);
      if (index >= 0) this.observers.splice(index, 1);
    };
  }

  /**
   * Emits to each listener in turn, isolated: one that throws is logged and the others still run;
   * no exception escapes to the request that emitted the event.
   */
  publish<K extends keyof SessionEventMap>(event: K, ...payload: SessionEventMap[K]): void {
    for (const observer of this.observers) {
      try {
        observer(event, payload[0]);
      } catch (error) {
        this.logger.error(`A '${event}' observer threw: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    if (this.listenerCount(event) === 0) return;
    // The raw listeners, so that a `once` listener is removed as `emit` would remove it.
    for (const listener of this.rawListeners(event) as ((...args: SessionEventMap[K]) => unknown)[]) {
      try {
        listener.apply(this, payload);
      } catch (error) {
        this.logger.error(`A '${event}' listener threw: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }
}

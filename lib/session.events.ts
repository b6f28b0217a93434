import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
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
}

/** A refresh; `replay` when a just-rotated token was answered with the live one (grace period). */
export interface SessionRefreshedEvent {
  sessionHandle: string;
  userId: UserId;
  replay: boolean;
}

/** Sessions revoked by sign-out, an admin, "sign out everywhere" or theft detection. */
export interface SessionRevokedEvent {
  reason: 'revoke' | 'revoke-for-user' | 'revoke-others' | 'revoke-all' | 'theft';
  /** The revoked session, when one was named. */
  sessionHandle?: string;
  userId?: UserId;
  /** How many sessions were revoked. */
  count: number;
  /** `revoke-others`: the session that was kept (its live connections stay open). */
  keptSessionHandle?: string;
}

/** A refresh token was reused after its grace period: the session was revoked. */
export interface TokenTheftEvent {
  sessionHandle: string;
  userId: UserId;
}

/** The events and their payloads. */
export interface SessionEventMap {
  'login.attempt': [LoginAttemptEvent];
  'session.created': [SessionCreatedEvent];
  'session.refreshed': [SessionRefreshedEvent];
  'session.revoked': [SessionRevokedEvent];
  'session.theft-detected': [TokenTheftEvent];
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

  /**
   * Emits to each listener in turn, isolated: one that throws is logged and the others still run;
   * no exception escapes to the request that emitted the event.
   */
  publish<K extends keyof SessionEventMap>(event: K, ...payload: SessionEventMap[K]): void {
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

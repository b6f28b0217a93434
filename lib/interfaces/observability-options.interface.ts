/**
 * One lifecycle event as an audit sink receives it. Optional fields are set when the event (or the
 * request that caused it) carries them.
 */
export interface SessionAuditEvent {
  /** The event's name on `SessionEvents`: `'login.attempt'`, `'session.created'`, `'session.refreshed'`, `'session.revoked'`, `'session.theft-detected'`, ... */
  type: string;
  /** When it happened, in epoch milliseconds (the session clock). */
  time: number;
  /** The session concerned, when one is named. */
  sessionHandle?: string;
  /** The user concerned, as a string (the raw id: the audit table is the app's own data). */
  userId?: string;
  /** The client's IP address, as the HTTP adapter reports it (`trust proxy` decides). */
  ip?: string;
  /** The request's `User-Agent` header. */
  userAgent?: string;
  /** Who acted, when someone other than the user did (an admin, an impersonator). */
  actor?: string;
  /** Why: a revocation's reason, a failed login's error. */
  reason?: string;
  /** The event's other fields (`strategy`, `success`, `replay`, `count`, ...). */
  details: Record<string, unknown>;
}

/** Where audit events go, e.g. `TypeOrmAuditSink`. */
export interface SessionAuditSink {
  /**
   * Stores a batch of events, oldest first. May throw or be slow: requests never wait for it
   * (a call that fails or outlasts `audit.timeout` drops its batch and counts it).
   */
  write(events: readonly SessionAuditEvent[]): void | Promise<void>;
  /** Called once when the module shuts down, after the last batch. */
  close?(): void | Promise<void>;
}

/** The `audit` option: every lifecycle event goes to `sink`, off the request path. */
export interface SessionAuditOptions {
  /** Receives the events in batches. */
  sink: SessionAuditSink;
  /**
   * Events waiting for the sink at most; newer events are dropped (and counted) while it is full.
   * @default 10000
   */
  queueSize?: number;
  /**
   * Events per `write` call at most.
   * @default 100
   */
  batchSize?: number;
  /**
   * Longest wait for one `write`, in seconds; a slower call's batch counts as dropped.
   * @default 5
   */
  timeout?: number;
}

/** The `telemetry` option: OpenTelemetry traces and metrics through `@opentelemetry/api`. */
export interface SessionTelemetryOptions {
  /**
   * Report spans and metrics when `@opentelemetry/api` is installed (it is never required).
   * @default true
   */
  enabled?: boolean;
  /**
   * Add `enduser.pseudo.id`, a keyed hash (HMAC-SHA-256 under a sub-key of `secret`, 128 bits in
   * hex) of the user id, to spans. Raw user ids never reach telemetry.
   * @default false
   */
  hashUserIds?: boolean;
}

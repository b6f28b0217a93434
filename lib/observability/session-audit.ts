import type {
  SessionAuditEvent,
  SessionAuditOptions,
  SessionAuditSink,
} from '../interfaces/observability-options.interface.js';
import type { SessionRequestContext } from './request-context.js';

const SECOND = 1000;
export const DEFAULT_AUDIT_QUEUE_SIZE = 10_000;
export const DEFAULT_AUDIT_BATCH_SIZE = 100;
export const DEFAULT_AUDIT_TIMEOUT = 5;

/** Fields of an event payload that become columns of their own. */
const COLUMNS = new Set(['sessionHandle', 'userId', 'ip', 'userAgent', 'actor', 'reason']);

/** Where the trail reports a failing sink (the observability provider's Nest logger). */
export interface AuditLogger {
  warn(message: string): void;
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;

/**
 * The audit event of a published session event: the payload's own `ip`, `userAgent`, `actor` and
 * `reason` win over the request's (events that carry them, e.g. from an admin's call, know better).
 * A failed login's `error` becomes its `reason`.
 */
export function auditEventOf(
  type: string,
  payload: unknown,
  time: number,
  request: SessionRequestContext | undefined,
): SessionAuditEvent {
  const fields = (payload !== null && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
  const details: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!COLUMNS.has(key) && key !== 'metadata' && value !== undefined) details[key] = value;
  }
  // Session metadata (README, "Your devices"): the login method and device say what the row lacks.
  const metadata = fields.metadata as { loginMethod?: unknown; device?: unknown } | null | undefined;
  if (metadata?.loginMethod) details.loginMethod = metadata.loginMethod;
  if (metadata?.device) details.device = metadata.device;
  const actor = fields.actor;
  const event: SessionAuditEvent = {
    type,
    time,
    sessionHandle: text(fields.sessionHandle),
    // A sign-out names its handle only; the request's own session knows the user.
    userId:
      text(fields.userId) ??
      (request?.session && request.session.handle === fields.sessionHandle
        ? text(request.session.userId)
        : undefined),
    ip: text(fields.ip) ?? request?.ip,
    userAgent: text(fields.userAgent) ?? request?.userAgent,
    // An actor may be an id or an RFC 8693 `act` claim ({ sub }).
    actor: text(actor) ?? text((actor as { sub?: unknown } | undefined)?.sub),
    reason: text(fields.reason) ?? (fields.success === false ? text(fields.error) : undefined),
    details,
  };
  if (event.reason !== undefined && fields.reason === undefined) delete details.error;
  for (const key of Object.keys(event) as (keyof SessionAuditEvent)[]) {
    if (event[key] === undefined) delete event[key];
  }
  return event;
}

/**
 * Hands audit events to the sink off the request path: a bounded queue drained in batches, one
 * `write` at a time, each bounded by `timeout`. A full queue drops new events; a batch whose write
 * throws or outlasts the timeout is dropped; both are counted ({@link dropped}) and reported.
 * Nothing here ever throws into the request that published the event.
 */
export class SessionAuditTrail {
  private readonly queue: SessionAuditEvent[] = [];
  private readonly queueSize: number;
  private readonly batchSize: number;
  private readonly timeoutMs: number;
  private draining: Promise<void> | undefined;
  private droppedCount = 0;
  /** Reported once per run of failures, not per batch. */
  private failing = false;

  constructor(
    private readonly sink: SessionAuditSink,
    options: Omit<SessionAuditOptions, 'sink'>,
    private readonly logger: AuditLogger,
    private readonly onDropped: (count: number) => void = () => undefined,
  ) {
    this.queueSize = options.queueSize ?? DEFAULT_AUDIT_QUEUE_SIZE;
    this.batchSize = options.batchSize ?? DEFAULT_AUDIT_BATCH_SIZE;
    this.timeoutMs = (options.timeout ?? DEFAULT_AUDIT_TIMEOUT) * SECOND;
  }

  /** Events dropped so far (queue full, sink failed or too slow). */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Events waiting for the sink. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues an event; never blocks, never throws. */
  record(event: SessionAuditEvent): void {
    if (this.queue.length >= this.queueSize) {
      this.drop(1, `the audit queue is full (${this.queueSize} events)`);
      return;
    }
    this.queue.push(event);
    // After the publishing request's synchronous work: the sink never runs inside it.
    this.draining ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.drain())
      .finally(() => (this.draining = undefined));
  }

  /** Waits until every queued event has been written (or dropped). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(() => this.sink.write(batch)),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${this.timeoutMs / SECOND} s`)),
              this.timeoutMs,
            );
          }),
        ]);
        if (this.failing) this.logger.warn('The audit sink writes again.');
        this.failing = false;
      } catch (error) {
        this.drop(batch.length, `the audit sink failed: ${(error as Error)?.message ?? String(error)}`);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private drop(count: number, why: string): void {
    this.droppedCount += count;
    this.onDropped(count);
    if (!this.failing) {
      this.failing = true;
      this.logger.warn(`Audit events dropped (${count}): ${why}. Requests are not affected.`);
    }
  }
}

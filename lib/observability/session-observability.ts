import { Logger, type OnModuleDestroy } from '@nestjs/common';
import type {
  SessionAuditOptions,
  SessionTelemetryOptions,
} from '../interfaces/observability-options.interface.js';
import type { SessionEngine } from '../session.engine.js';
import type { SessionEvents } from '../session.events.js';
import { configError } from '../session.options.js';
import type { SessionService } from '../session.service.js';
import type { SessionClock } from '../tokens/clock.js';
import { instrumentEngine, instrumentService } from './instrumentation.js';
import { sessionRequestContext } from './request-context.js';
import { observeRevocationBus } from './session-health.telemetry.js';
import { auditEventOf, SessionAuditTrail } from './session-audit.js';
import { REVOCATION_REASONS } from '../revocation/revocation-reasons.js';
import type { SessionTelemetry } from './session-telemetry.js';

/** Revocation reasons that may be a metric label (an app's own reason is counted as `other`). */
const BUILT_IN_REASONS = new Set<string>(Object.values(REVOCATION_REASONS));

/** The observability part of the module's options. */
export interface ObservabilityOptions {
  telemetry?: SessionTelemetryOptions;
  audit?: SessionAuditOptions;
}

const isPositiveInteger = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value > 0;

/**
 * Checks the `audit` option at start-up.
 * @throws SessionError `GENERAL_ERROR` saying what is wrong.
 */
export function validateAuditOptions(audit: SessionAuditOptions | undefined): void {
  if (audit === undefined) return;
  if (typeof audit?.sink?.write !== 'function') {
    throw configError(
      '`audit.sink` must be an object with a `write(events)` method, e.g. `new TypeOrmAuditSink(dataSource)`.',
    );
  }
  for (const name of ['queueSize', 'batchSize'] as const) {
    if (audit[name] !== undefined && !isPositiveInteger(audit[name])) {
      throw configError(`\`audit.${name}\` must be a positive integer, got ${JSON.stringify(audit[name])}.`);
    }
  }
  if (audit.timeout !== undefined && !(typeof audit.timeout === 'number' && audit.timeout > 0)) {
    throw configError(
      `\`audit.timeout\` must be a positive number of seconds, got ${JSON.stringify(audit.timeout)}.`,
    );
  }
}

/**
 * Connects telemetry and the audit trail to the session layer: metrics and span details from
 * `SessionEvents`, spans around the engine's operations, the request context (IP, user agent,
 * transport, adapter) around `SessionService`'s request-bound calls. Inject it to wait for the
 * audit queue (`flushAudit`) or read how many audit events were dropped.
 */
export class SessionObservability implements OnModuleDestroy {
  private readonly logger = new Logger('SessionAudit');
  private readonly trail: SessionAuditTrail | undefined;
  private readonly stopObserving: () => void;
  private readonly sink: SessionAuditOptions['sink'] | undefined;

  constructor(
    options: ObservabilityOptions,
    private readonly telemetry: SessionTelemetry,
    events: SessionEvents,
    engine: SessionEngine,
    service: SessionService,
    private readonly clock: SessionClock,
  ) {
    validateAuditOptions(options.audit);
    const { audit } = options;
    this.sink = audit?.sink;
    this.trail =
      audit && new SessionAuditTrail(audit.sink, audit, this.logger, (n) => telemetry.auditDropped(n));
    if (!telemetry.enabled && !this.trail) {
      // Nothing observes: the session layer runs exactly as without this provider.
      this.stopObserving = () => undefined;
      return;
    }
    instrumentEngine(engine, telemetry);
    instrumentService(service, telemetry, this.trail !== undefined);
    const stopEvents = events.observe((type, payload) => this.observe(type, payload));
    const { meter } = telemetry;
    const stopBus = meter ? observeRevocationBus(meter, events, () => engine.revocationStatus()) : undefined;
    this.stopObserving = () => {
      stopEvents();
      stopBus?.();
    };
  }

  /** Audit events dropped so far (queue full, sink failed or too slow); 0 without `audit`. */
  get auditDropped(): number {
    return this.trail?.dropped ?? 0;
  }

  /** Waits until every audit event published so far has been written (or dropped). */
  async flushAudit(): Promise<void> {
    await this.trail?.flush();
  }

  /** Writes what is queued (bounded by `audit.timeout` per batch) and closes the sink. */
  async onModuleDestroy(): Promise<void> {
    this.stopObserving();
    if (!this.trail) return;
    await this.trail.flush();
    await this.sink?.close?.();
  }

  private observe(type: string, payload: unknown): void {
    const fields = (payload ?? {}) as Record<string, unknown>;
    const { telemetry } = this;
    switch (type) {
      case 'session.created':
        telemetry.created();
        telemetry.annotate(undefined, () => telemetry.subjectAttributes(fields.sessionHandle, fields.userId));
        break;
      case 'session.refreshed':
        telemetry.refresh(fields.replay === true ? 'grace-replay' : 'rotated');
        break;
      case 'session.theft-detected':
        telemetry.refresh('theft');
        telemetry.annotate(undefined, () => telemetry.subjectAttributes(fields.sessionHandle, fields.userId));
        break;
      case 'session.revoked': {
        // An app's own reason is free text: a metric label takes built-in reasons only.
        const reason = BUILT_IN_REASONS.has(String(fields.reason)) ? String(fields.reason) : 'other';
        telemetry.revoked(reason, typeof fields.count === 'number' ? fields.count : 1);
        break;
      }
      case 'login.attempt':
        // An unknown strategy's name is the client's input: never a metric label.
        telemetry.loginAttempt(
          fields.error === 'unknown-strategy' ? '(unknown)' : String(fields.strategy),
          fields.success === true ? 'success' : 'failure',
        );
        break;
    }
    this.trail?.record(auditEventOf(type, payload, this.clock.now(), sessionRequestContext.getStore()));
  }
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { createHmac } from 'node:crypto';
import type { Attributes, Counter, Histogram, Meter, Span, Tracer } from '@opentelemetry/api';
import { LoginError } from '../errors/login.error.js';
import { SessionError } from '../errors/session.error.js';
import type { SessionTelemetryOptions } from '../interfaces/observability-options.interface.js';
import { subKey } from '../tokens/secrets.js';
import { sessionRequestContext } from './request-context.js';

type OtelApi = typeof import('@opentelemetry/api');

/** The instrumentation scope of every span and metric. */
export const TELEMETRY_SCOPE = 'nestjs-token-session';

/** What a span names: `session.<operation>`. */
export type SessionOperation =
  | 'create'
  | 'refresh'
  | 'verify'
  | 'check-database'
  | 'revoke'
  | 'data.get'
  | 'data.update'
  | 'list'
  | 'key-ring.reload'
  | 'key-ring.rotate';

/** Span and metric attribute names (OpenTelemetry semantic-convention style). */
export const TelemetryAttributes = {
  outcome: 'session.outcome',
  errorType: 'error.type',
  handleHash: 'session.handle.hash',
  userHash: 'enduser.pseudo.id',
  transport: 'session.transport',
  adapter: 'session.adapter',
  strategy: 'session.login.strategy',
  loginResult: 'session.login.result',
  refreshOutcome: 'session.refresh.outcome',
  cache: 'session.verification.cache',
  revocationReason: 'session.revocation.reason',
  revokedCount: 'session.revoked.count',
  dbAccess: 'session.db.access',
  dbSubject: 'session.db.subject',
} as const;

/** The metric instruments (names, units and descriptions in {@link createInstruments}). */
interface Instruments {
  created: Counter;
  refreshes: Counter;
  verifications: Counter;
  revocations: Counter;
  logins: Counter;
  dbDuration: Histogram;
  dbTimeouts: Counter;
  auditDropped: Counter;
}

function createInstruments(api: OtelApi): Instruments {
  const meter = api.metrics.getMeter(TELEMETRY_SCOPE);
  const counter = (name: string, unit: string, description: string) =>
    meter.createCounter(name, { unit, description });
  return {
    created: counter('session.created.count', '{session}', 'Sessions created.'),
    refreshes: counter('session.refresh.count', '{refresh}', 'Refreshes by outcome.'),
    verifications: counter(
      'session.verification.count',
      '{verification}',
      'Access-token verifications by verified-token cache result.',
    ),
    revocations: counter('session.revocation.count', '{session}', 'Sessions revoked, by reason.'),
    logins: counter('session.login.attempt.count', '{attempt}', 'Login attempts by strategy and result.'),
    dbDuration: meter.createHistogram('session.db.operation.duration', {
      unit: 's',
      description: 'Duration of session-store calls, timeouts included.',
      advice: {
        explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      },
    }),
    dbTimeouts: counter(
      'session.db.timeout.count',
      '{timeout}',
      'Session-store calls that hit databaseTimeout.',
    ),
    auditDropped: counter(
      'session.audit.dropped.count',
      '{event}',
      'Audit events dropped (queue full, sink failed or slow).',
    ),
  };
}

// Built once: the verification counter is on the cached hot path.
const CACHE_HIT: Attributes = { [TelemetryAttributes.cache]: 'hit' };
const CACHE_MISS: Attributes = { [TelemetryAttributes.cache]: 'miss' };

/** An operation in progress: events published inside it add to its span. */
interface Operation {
  span: Span;
  outcome?: string;
}

/** The outcome a failed operation reports. */
export function outcomeOfError(error: unknown): string {
  if (error instanceof SessionError) {
    switch (error.type) {
      case SessionError.UNAUTHORISED:
        return 'unauthorised';
      case SessionError.UNAUTHORISED_AND_TOKEN_THEFT_DETECTED:
        return 'theft';
      case SessionError.TRY_REFRESH_TOKEN:
        return 'try-refresh';
    }
  }
  return 'error';
}

/** `error.type`: the error's stable `type`, else its class name (never its message). */
export function errorTypeOf(error: unknown): string {
  if (error instanceof SessionError || error instanceof LoginError) return error.type;
  return (error as Error)?.constructor?.name ?? 'Error';
}

/**
 * Spans and metrics through `@opentelemetry/api`, loaded lazily: without the package (or with
 * `telemetry.enabled: false`) every method is a no-op and nothing is imported. Without an SDK
 * registered, the API's own no-op tracer and meter answer. Attributes never carry a token, a secret,
 * a cookie or a raw user id: handles and (opt-in) user ids appear as keyed hashes.
 */
export class SessionTelemetry {
  /** No telemetry at all. */
  static readonly off = new SessionTelemetry(undefined, undefined, false);

  private readonly tracer: Tracer | undefined;
  private readonly instruments: Instruments | undefined;
  private readonly operations = new AsyncLocalStorage<Operation>();
  /** Errors a span has reported: an outer layer seeing them again adds no second span. */
  private readonly reported = new WeakSet<object>();

  private constructor(
    private readonly api: OtelApi | undefined,
    private readonly pseudonymKey: Buffer | undefined,
    private readonly hashUserIds: boolean,
  ) {
    this.tracer = api?.trace.getTracer(TELEMETRY_SCOPE);
    this.instruments = api ? createInstruments(api) : undefined;
  }

  /**
   * Imports `@opentelemetry/api` if it is installed and telemetry is not turned off.
   * @param secret the module's secret: pseudonyms are keyed with a sub-key of it.
   */
  static async load(secret: string, options: SessionTelemetryOptions = {}): Promise<SessionTelemetry> {
    if (options.enabled === false) return SessionTelemetry.off;
    let api: OtelApi;
    try {
      const loaded = (await import('@opentelemetry/api')) as OtelApi & { default?: OtelApi };
      api = loaded.trace ? loaded : loaded.default!;
    } catch {
      return SessionTelemetry.off;
    }
    return new SessionTelemetry(api, subKey(secret, 'telemetry-pseudonyms'), options.hashUserIds === true);
  }

  /** Whether the API is loaded. */
  get enabled(): boolean {
    return this.api !== undefined;
  }

  /**
   * Whether an SDK has registered a tracer provider: until then the API's global proxy has no
   * delegate and every span records nothing.
   */
  get tracing(): boolean {
    const provider = this.api?.trace.getTracerProvider() as
      { getDelegateTracer?: (name: string) => unknown } | undefined;
    if (provider === undefined) return false;
    return (
      typeof provider.getDelegateTracer !== 'function' ||
      provider.getDelegateTracer(TELEMETRY_SCOPE) !== undefined
    );
  }

  /** The meter of the library's scope, when the API is loaded (for the revocation bus's signals). */
  get meter(): Meter | undefined {
    return this.api?.metrics.getMeter(TELEMETRY_SCOPE);
  }

  /** A keyed hash (128 bits, hex) of a handle or user id: correlates without revealing. */
  pseudonym(kind: 'handle' | 'user', value: string): string {
    return createHmac('sha256', this.pseudonymKey!).update(`${kind}:${value}`).digest('hex').slice(0, 32);
  }

  /** The attributes naming a session and (with `hashUserIds`) its user. */
  subjectAttributes(handle: unknown, userId?: unknown): Attributes {
    if (!this.api) return {};
    const attributes: Attributes = {};
    if (typeof handle === 'string')
      attributes[TelemetryAttributes.handleHash] = this.pseudonym('handle', handle);
    if (this.hashUserIds && (typeof userId === 'string' || typeof userId === 'number')) {
      attributes[TelemetryAttributes.userHash] = this.pseudonym('user', String(userId));
    }
    return attributes;
  }

  /**
   * Runs an operation in a `session.<operation>` span (just runs it without the API). `attributes`
   * may be a function: it runs only for a span that records (their hashes cost an HMAC each).
   */
  trace<T>(
    operation: SessionOperation,
    attributes: Attributes | (() => Attributes),
    run: () => Promise<T>,
    finish?: (span: Span, result: T) => void,
  ): Promise<T> {
    const { api, tracer } = this;
    if (!api || !tracer) return run();
    const request = sessionRequestContext.getStore();
    const span = tracer.startSpan(`session.${operation}`, {
      attributes: {
        ...(request?.transport && { [TelemetryAttributes.transport]: request.transport }),
        ...(request?.adapter && { [TelemetryAttributes.adapter]: request.adapter }),
        ...(typeof attributes === 'function' ? undefined : attributes),
      },
    });
    if (typeof attributes === 'function' && span.isRecording()) span.setAttributes(attributes());
    const state: Operation = { span };
    const context = api.trace.setSpan(api.context.active(), span);
    // No AsyncLocalStorage for a span that records nothing (no SDK registered, or sampled out):
    // on Node 20 its first `run` installs promise hooks that make every promise of the app dearer.
    const running = span.isRecording()
      ? api.context.with(context, () => this.operations.run(state, () => Promise.resolve().then(run)))
      : api.context.with(context, () => Promise.resolve().then(run));
    return running.then(
      (result) => {
        finish?.(span, result);
        span.setAttribute(TelemetryAttributes.outcome, state.outcome ?? 'success');
        span.end();
        return result;
      },
      (error: unknown) => {
        this.endFailed(span, error, state.outcome);
        throw error;
      },
    );
  }

  /**
   * Reports a failure that happened without I/O (no span was open) as an ended span, unless a span
   * already reported this error; returns it.
   */
  failed<E>(operation: SessionOperation, error: E, attributes?: Attributes): E {
    if (this.tracer && !(error !== null && typeof error === 'object' && this.reported.has(error))) {
      this.endFailed(this.tracer.startSpan(`session.${operation}`, { attributes }), error, undefined);
    }
    return error;
  }

  /** Sets the outcome (and more attributes) of the operation in progress, if any. */
  annotate(outcome: string | undefined, attributes?: () => Attributes): void {
    const operation = this.operations.getStore();
    if (!operation) return;
    if (outcome !== undefined) operation.outcome = outcome;
    if (attributes) operation.span.setAttributes(attributes());
  }

  /** Counts a verification answered from the verified-token cache (`hit`) or not. */
  verification(hit: boolean): void {
    this.instruments?.verifications.add(1, hit ? CACHE_HIT : CACHE_MISS);
  }

  /** Records one store call's duration (`started` from `performance.now()`) and its timeout. */
  databaseCall(access: string, subject: string, started: number, error: unknown, timedOut: boolean): void {
    const instruments = this.instruments;
    if (!instruments) return;
    const attributes: Attributes = {
      [TelemetryAttributes.dbAccess]: access,
      [TelemetryAttributes.dbSubject]: subject,
    };
    if (error !== undefined)
      attributes[TelemetryAttributes.errorType] = timedOut ? 'timeout' : errorTypeOf(error);
    instruments.dbDuration.record((performance.now() - started) / 1000, attributes);
    if (timedOut) instruments.dbTimeouts.add(1, attributes);
  }

  /** Counts a refresh by outcome: `rotated`, `grace-replay`, `theft`, `unauthorised`. */
  refresh(outcome: 'rotated' | 'grace-replay' | 'theft' | 'unauthorised'): void {
    this.instruments?.refreshes.add(1, { [TelemetryAttributes.refreshOutcome]: outcome });
    this.annotate(outcome);
  }

  created(): void {
    this.instruments?.created.add(1);
  }

  revoked(reason: string, count: number): void {
    this.instruments?.revocations.add(count, { [TelemetryAttributes.revocationReason]: reason });
  }

  /** Counts a login attempt; `strategy` must be a registered name (bounded cardinality). */
  loginAttempt(strategy: string, result: 'success' | 'failure'): void {
    this.instruments?.logins.add(1, {
      [TelemetryAttributes.strategy]: strategy,
      [TelemetryAttributes.loginResult]: result,
    });
  }

  auditDropped(count: number): void {
    this.instruments?.auditDropped.add(count);
  }

  private endFailed(span: Span, error: unknown, outcome: string | undefined): void {
    if (error !== null && typeof error === 'object') this.reported.add(error);
    const type = errorTypeOf(error);
    span.setAttribute(TelemetryAttributes.errorType, type);
    span.setAttribute(TelemetryAttributes.outcome, outcome ?? outcomeOfError(error));
    // The type only: messages of drivers may quote statements.
    span.setStatus({ code: this.api!.SpanStatusCode.ERROR, message: type });
    span.end();
  }
}

import { context, metrics, trace, type Attributes } from '@opentelemetry/api';
import { AsyncHooksContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** A metric reader read on demand (cumulative totals since its provider was registered). */
class OnDemandMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export interface MetricPoint {
  attributes: Attributes;
  value: unknown;
}

export interface CollectedMetric {
  unit: string;
  points: MetricPoint[];
}

/**
 * The OpenTelemetry SDK registered globally, as an app's instrumentation file does before the
 * app starts: in-memory spans, on-demand metrics. `resetMetrics` registers a fresh meter provider
 * (a session module reads the meter when it starts, so call it before booting the next app).
 */
export class OtelTestSdk {
  readonly spans = new InMemorySpanExporter();
  private reader = new OnDemandMetricReader();
  private readonly contextManager = new AsyncHooksContextManager().enable();
  private readonly tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(this.spans)],
  });

  constructor() {
    context.setGlobalContextManager(this.contextManager);
    trace.setGlobalTracerProvider(this.tracerProvider);
    this.resetMetrics();
  }

  resetMetrics(): void {
    metrics.disable();
    this.reader = new OnDemandMetricReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [this.reader] }));
    this.spans.reset();
  }

  finishedSpans(): ReadableSpan[] {
    return this.spans.getFinishedSpans();
  }

  async metrics(): Promise<Map<string, CollectedMetric>> {
    const { resourceMetrics } = await this.reader.collect();
    const found = new Map<string, CollectedMetric>();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        found.set(metric.descriptor.name, {
          unit: metric.descriptor.unit,
          points: metric.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value })),
        });
      }
    }
    return found;
  }

  async shutdown(): Promise<void> {
    await this.tracerProvider.shutdown();
    trace.disable();
    metrics.disable();
    context.disable();
  }
}

/** The sum of a counter's points whose attributes include `where`. */
export function counterSum(
  collected: Map<string, CollectedMetric>,
  name: string,
  where: Attributes = {},
): number {
  const metric = collected.get(name);
  if (!metric) return 0;
  return metric.points
    .filter((point) => Object.entries(where).every(([key, value]) => point.attributes[key] === value))
    .reduce((total, point) => total + Number(point.value), 0);
}

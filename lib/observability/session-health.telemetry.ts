import type { Meter, ObservableCallback } from '@opentelemetry/api';
import type { RevocationStatus } from '../revocation/revocation.monitor.js';
import type { SessionEvents } from '../session.events.js';

/** Attribute names of the revocation-bus signals. */
export const RevocationBusAttributes = {
  /** `redis`, `nats`, `postgres` or `polling`. */
  transport: 'session.revocation.transport',
} as const;

/**
 * Metrics of the revocation bus (nothing without the `revocation` option):
 * - `session.revocation.bus.degraded.count` (`{event}`): times the bus went down or late
 *   (`revocation.degraded`: checks fell back to database reads);
 * - `session.revocation.bus.restored.count` (`{event}`): times it came back (`revocation.restored`);
 * - `session.revocation.bus.lag` (gauge, `s`): the last heartbeat round trip (`revocationStatus().lagMs`;
 *   for `polling`, the age of the last log read), observed at each collection;
 * - `session.revocation.bus.healthy` (gauge, 1 or 0): whether checks are answered from memory now.
 * Returns the function that stops observing (at module destroy).
 */
export function observeRevocationBus(
  meter: Meter,
  events: SessionEvents,
  status: () => RevocationStatus,
): () => void {
  if (status().transport === 'none') return () => undefined;
  const degraded = meter.createCounter('session.revocation.bus.degraded.count', {
    unit: '{event}',
    description: 'Times the revocation bus went down or late (checks read the database meanwhile).',
  });
  const restored = meter.createCounter('session.revocation.bus.restored.count', {
    unit: '{event}',
    description: 'Times the revocation bus became healthy again.',
  });
  const lag = meter.createObservableGauge('session.revocation.bus.lag', {
    unit: 's',
    description: 'Last heartbeat round trip through the revocation bus (polling: age of the last log read).',
  });
  const healthy = meter.createObservableGauge('session.revocation.bus.healthy', {
    unit: '1',
    description: 'Whether revocation checks are answered from memory (1) or read the database (0).',
  });
  const attributes = (report: RevocationStatus) => ({
    [RevocationBusAttributes.transport]: report.transport,
  });
  // Read at collection time: the gauges cost nothing between scrapes.
  const observeLag: ObservableCallback = (result) => {
    const report = status();
    result.observe(report.lagMs / 1000, attributes(report));
  };
  const observeHealthy: ObservableCallback = (result) => {
    const report = status();
    result.observe(report.healthy ? 1 : 0, attributes(report));
  };
  lag.addCallback(observeLag);
  healthy.addCallback(observeHealthy);
  const stop = events.observe((type, payload) => {
    if (type !== 'revocation.degraded' && type !== 'revocation.restored') return;
    const transport = String((payload as { transport?: unknown } | undefined)?.transport);
    (type === 'revocation.degraded' ? degraded : restored).add(1, {
      [RevocationBusAttributes.transport]: transport,
    });
  });
  return () => {
    stop();
    lag.removeCallback(observeLag);
    healthy.removeCallback(observeHealthy);
  };
}

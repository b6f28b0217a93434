import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { SessionEngine } from '../session.engine.js';

/** States of a revocation bus that mean it does not deliver (the instance then reads the database). */
const BUS_DOWN_STATES = new Set(['down', 'disconnected', 'failed', 'lagging', 'replaying']);

/** A revocation bus's report when the engine has one (`SessionEngine.revocationStatus()`), else undefined. */
async function revocationBusStatus(engine: SessionEngine): Promise<Record<string, unknown> | undefined> {
  const status = (engine as { revocationStatus?: () => unknown }).revocationStatus;
  if (typeof status !== 'function') return undefined;
  const report = await status.call(engine);
  return report !== null && typeof report === 'object' ? { ...(report as object) } : { state: report };
}

function busDelivers(report: Record<string, unknown>): boolean {
  return report.healthy !== false && report.connected !== false && !BUS_DOWN_STATES.has(String(report.state));
}

/**
 * A `@nestjs/terminus` health indicator (import it from `nestjs-token-session/terminus`):
 * - `store`: one query within `databaseTimeout`; down when it fails or times out;
 * - `keyRing`: `fresh`, `reloaded` (it was due and this check reloaded it) or `stale` (down);
 * - `revocationBus`, when a revocation bus is configured: its own report; `degraded` (HTTP 200)
 *   while it does not deliver, because the instance then falls back to database reads.
 * @example
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.session.isHealthy('session')]); }
 * ```
 */
@Injectable()
export class SessionHealthIndicator {
  constructor(
    private readonly engine: SessionEngine,
    private readonly indicators: HealthIndicatorService,
  ) {}

  /** The session layer's health under `key` (default `'session'`). Never throws. */
  async isHealthy<const Key extends string = 'session'>(
    key: Key = 'session' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const indicator = this.indicators.check(key);
    const health = await this.engine.checkHealth();
    let bus: Record<string, unknown> | undefined;
    try {
      bus = await revocationBusStatus(this.engine);
    } catch (error) {
      bus = { healthy: false, error: (error as Error)?.message ?? String(error) };
    }
    const data = { store: health.store, keyRing: health.keyRing, ...(bus && { revocationBus: bus }) };
    if (!health.store.up || health.keyRing === 'stale') return indicator.down(data);
    if (bus && !busDelivers(bus)) return indicator.degraded(data);
    return indicator.up(data);
  }
}

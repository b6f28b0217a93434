import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { SessionEngine } from '../session.engine.js';
import { revocationBusHealth } from './session-health.js';

/**
 * A `@nestjs/terminus` health indicator (import it from `nestjs-token-session/terminus`):
 * - `store`: one query within `databaseTimeout`; down when it fails or times out;
 * - `keyRing`: `fresh`, `reloaded` (it was due and this check reloaded it) or `stale` (down);
 * - `revocationBus`, when a revocation bus is configured: `{ transport, healthy, lagMs, lastPosition }`
 *   (see `SessionEngine.revocationStatus()`); `degraded` (HTTP 200) while `healthy` is false (down,
 *   late past its `bound`, or not yet replayed), because the instance then falls back to database reads.
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
    const bus = revocationBusHealth(this.engine.revocationStatus());
    const data = { store: health.store, keyRing: health.keyRing, ...(bus && { revocationBus: bus }) };
    if (!health.store.up || health.keyRing === 'stale') return indicator.down(data);
    // Not healthy: checks read the database (never fail open), so the instance still serves.
    if (bus && !bus.healthy) return indicator.degraded(data);
    return indicator.up(data);
  }
}

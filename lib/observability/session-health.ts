import type { BoundedSessionStore } from '../engine/bounded-store.js';
import type { RevocationStatus } from '../revocation/revocation.monitor.js';
import type { SessionClock } from '../tokens/clock.js';
import type { KeyRing } from '../tokens/key-ring.js';

/** What `SessionEngine.checkHealth()` reports. */
export interface SessionHealth {
  /** The store answered one bounded query (the database's clock) within `databaseTimeout`. */
  store: { up: true; responseTime: number } | { up: false; error: string };
  /**
   * The signing-key ring: `fresh` (loaded within its reload interval, or static keys), `reloaded`
   * (it was due and this check reloaded it), `stale` (due and the reload failed: tokens signed with
   * a key published since cannot be verified here).
   */
  keyRing: 'fresh' | 'reloaded' | 'stale';
}

/**
 * One bounded store query, and a reload of the key ring when it is due (bounded too). Never throws:
 * failures are reported (and logged once by the store wrapper).
 */
export async function checkSessionHealth(
  db: BoundedSessionStore,
  ring: KeyRing,
  clock: SessionClock,
): Promise<SessionHealth> {
  const started = performance.now();
  let store: SessionHealth['store'];
  try {
    await db.ping();
    store = { up: true, responseTime: Math.round(performance.now() - started) };
  } catch (error) {
    store = { up: false, error: (error as Error)?.message ?? String(error) };
  }
  let keyRing: SessionHealth['keyRing'] = 'fresh';
  if (ring.isStale(clock.now())) {
    const reload = ring.reloadIfStale();
    try {
      if (reload) await db.keyRing('read', () => reload);
      keyRing = ring.isStale(clock.now()) ? 'stale' : 'reloaded';
    } catch {
      keyRing = 'stale';
    }
  }
  return { store, keyRing };
}

/**
 * The revocation bus's part of a health report: `SessionEngine.revocationStatus()` as it is
 * (`{ transport, healthy, lagMs, lastPosition }`), or undefined without the `revocation` option
 * (`transport: 'none'`). Not `healthy` means degraded, not down: checks then read the database.
 */
export function revocationBusHealth(status: RevocationStatus): RevocationStatus | undefined {
  return status.transport === 'none' ? undefined : status;
}

import type { Provider } from '@nestjs/common';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import { SESSION_CLOCK, SESSION_RESOLVED_OPTIONS } from '../session.constants.js';
import { SessionEvents } from '../session.events.js';
import { SESSION_REVOCATION_LOG, type RevocationLogReader } from '../storage/revocation-log.port.js';
import type { SessionClock } from '../tokens/clock.js';
import { RevocationMonitor } from './revocation.monitor.js';

const SECOND = 1000;

/** Injection token of the {@link RevocationMonitor}; `null` without the `revocation` option. */
export const SESSION_REVOCATION_MONITOR = Symbol('SESSION_REVOCATION_MONITOR');

/** The monitor, built only when the `revocation` option is set (the engine starts and stops it). */
export const revocationProviders: Provider[] = [
  {
    provide: SESSION_REVOCATION_MONITOR,
    useFactory: (
      options: ResolvedSessionOptions,
      log: RevocationLogReader,
      events: SessionEvents,
      clock: SessionClock,
    ) =>
      options.revocation
        ? new RevocationMonitor(options.revocation, log, events, clock, {
            // The longest an access token naming a revocation can be accepted (per-session
            // validities are at most accessToken.validity).
            lifetime: (options.accessToken.validity + options.accessToken.clockTolerance) * SECOND,
            // A revoking transaction commits within its bounded calls, or fails.
            settle: 2 * options.databaseTimeout * SECOND + SECOND,
          })
        : null,
    inject: [SESSION_RESOLVED_OPTIONS, SESSION_REVOCATION_LOG, SessionEvents, SESSION_CLOCK],
  },
];

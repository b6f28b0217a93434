/** The source of time for expiry and grace periods; replace it in tests to make time jump. */
export interface SessionClock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The wall clock. Instances sharing a database must keep their clocks in sync (NTP). */
export const systemClock: SessionClock = { now: () => Date.now() };

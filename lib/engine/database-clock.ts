/**
 * How long a reading of the database's clock stands in for a new one, in milliseconds. Short, so
 * a stepped database clock or a fail-over to another server moves deadlines for a few seconds at
 * most; a clock running at another rate (NTP slews at most 500 ppm) errs by 2.5 ms, far inside the
 * reply margin.
 */
export const DATABASE_CLOCK_READING_LIFETIME_MS = 5000;

/**
 * The database's clock between readings: the last reading plus the time elapsed since it arrived,
 * measured here on the monotonic clock. Only a duration measured here is added to a time read there
 * (no app clock is compared with the database's), and the estimate is never ahead of the database:
 * the reading was taken before its answer arrived. So a deadline set from it is at most as late as
 * one set from a fresh reading, and a sign-in saves the round trip of reading the clock.
 */
export class DatabaseClockEstimate {
  private reading: { databaseNow: number; arrivedAt: number } | undefined;

  constructor(private readonly lifetimeMs = DATABASE_CLOCK_READING_LIFETIME_MS) {}

  /** The database's clock now (epoch ms on it): estimated from a recent reading, else `read()`. */
  async now(read: () => Promise<number | undefined>): Promise<number | undefined> {
    const reading = this.reading;
    if (reading) {
      const elapsed = performance.now() - reading.arrivedAt;
      if (elapsed < this.lifetimeMs) return reading.databaseNow + elapsed;
    }
    const databaseNow = await read();
    this.observe(databaseNow);
    return databaseNow;
  }

  /** Keeps a reading that just arrived (with a row, say); `undefined` (no clock) is ignored. */
  observe(databaseNow: number | undefined): void {
    if (databaseNow !== undefined) this.reading = { databaseNow, arrivedAt: performance.now() };
  }
}

import type { SessionClock } from '../../lib/index.js';

/** A clock tests move by hand. */
export class FakeClock implements SessionClock {
  constructor(private current = Date.now()) {}

  now(): number {
    return this.current;
  }

  advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}

import { afterEach, describe, expect, it, vi } from 'vitest';
import { DatabaseClockEstimate } from './database-clock.js';

const DATABASE_NOW = 1_800_000_000_000;

describe('DatabaseClockEstimate', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads the clock once, then adds the time elapsed here to that reading', async () => {
    vi.useFakeTimers();
    const clock = new DatabaseClockEstimate(5000);
    const read = vi.fn().mockResolvedValue(DATABASE_NOW);
    expect(await clock.now(read)).toBe(DATABASE_NOW);
    vi.advanceTimersByTime(1200);
    expect(await clock.now(read)).toBe(DATABASE_NOW + 1200);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('reads afresh once a reading is older than its lifetime', async () => {
    vi.useFakeTimers();
    const clock = new DatabaseClockEstimate(5000);
    const read = vi
      .fn()
      .mockResolvedValueOnce(DATABASE_NOW)
      .mockResolvedValueOnce(DATABASE_NOW + 9000);
    await clock.now(read);
    vi.advanceTimersByTime(5000);
    expect(await clock.now(read)).toBe(DATABASE_NOW + 9000);
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('takes a reading that came with a row, and never keeps "no clock"', async () => {
    vi.useFakeTimers();
    const clock = new DatabaseClockEstimate(5000);
    clock.observe(DATABASE_NOW);
    clock.observe(undefined);
    const read = vi.fn().mockResolvedValue(0);
    expect(await clock.now(read)).toBe(DATABASE_NOW);
    expect(read).not.toHaveBeenCalled();
    const embedded = new DatabaseClockEstimate(5000);
    const none = vi.fn().mockResolvedValue(undefined);
    expect(await embedded.now(none)).toBeUndefined();
    expect(await embedded.now(none)).toBeUndefined();
    expect(none).toHaveBeenCalledTimes(2);
  });
});

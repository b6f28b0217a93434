import { describe, expect, it, vi } from 'vitest';
import { withRetry } from './typeorm-values.js';

/** A driver error as TypeORM wraps it. */
function driverError(code: string): Error {
  return Object.assign(new Error(code), { driverError: { code } });
}

describe('withRetry', () => {
  it.each(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', '40P01', '40001', '55P03'])(
    'runs a statement again after %s',
    async (code) => {
      const statement = vi.fn().mockRejectedValueOnce(driverError(code)).mockResolvedValue('done');
      await expect(withRetry(statement)).resolves.toBe('done');
      expect(statement).toHaveBeenCalledTimes(2);
    },
  );

  it('gives up after three attempts', async () => {
    const statement = vi.fn().mockRejectedValue(driverError('ER_LOCK_DEADLOCK'));
    await expect(withRetry(statement)).rejects.toThrow('ER_LOCK_DEADLOCK');
    expect(statement).toHaveBeenCalledTimes(3);
  });

  it('never repeats other failures', async () => {
    const statement = vi.fn().mockRejectedValue(driverError('ECONNREFUSED'));
    await expect(withRetry(statement)).rejects.toThrow('ECONNREFUSED');
    expect(statement).toHaveBeenCalledTimes(1);
  });
});

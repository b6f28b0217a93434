/** Values and retries of the TypeORM store's statements. */

const RETRYABLE_CODES = new Set([
  'ER_LOCK_DEADLOCK', // MySQL/MariaDB deadlock
  'ER_LOCK_WAIT_TIMEOUT',
  '40P01', // PostgreSQL deadlock_detected
  '40001', // serialization_failure
  '55P03', // lock_not_available
]);
const MAX_ATTEMPTS = 3;

export const DATABASE_NOW_MS: Partial<Record<string, string>> = {
  // SYSDATE, unlike NOW, is read when the row is checked: after any lock wait, not at statement start.
  mysql: 'UNIX_TIMESTAMP(SYSDATE(3)) * 1000',
  mariadb: 'UNIX_TIMESTAMP(SYSDATE(3)) * 1000',
  postgres: 'EXTRACT(EPOCH FROM clock_timestamp()) * 1000',
};

function isRetryable(error: unknown): boolean {
  const code =
    (error as { code?: unknown; driverError?: { code?: unknown } })?.driverError?.code ??
    (error as { code?: unknown })?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}

/** Runs a statement again after a deadlock or lock-wait timeout, a bounded number of times. */
export async function withRetry<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error;
    }
  }
}

/**
 * Only primitives of the column's type reach a WHERE clause: TypeORM reads `{ id: undefined }` as
 * "no condition" and an object as an operator, and MariaDB compares a text column with a number
 * numerically, so a stray value could match other rows.
 */
export function text(value: string): string {
  if (typeof value === 'string') return value;
  throw new TypeError(`Refusing a non-string value (${typeof value}) for a text column.`);
}

export function millis(value: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new TypeError(`Refusing a non-finite-number value (${typeof value}) for a time column.`);
}

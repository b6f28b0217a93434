import { expect } from 'vitest';
import { SessionError } from '../../lib/index.js';

/** Awaits a promise that must reject with a `SessionError` of `type`, and returns the error. */
export async function rejectsWith(promise: Promise<unknown>, type: string): Promise<SessionError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected a SessionError ${type}`).toBeInstanceOf(SessionError);
  expect((error as SessionError).type).toBe(type);
  return error as SessionError;
}

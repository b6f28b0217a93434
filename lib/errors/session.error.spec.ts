import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SessionError } from './session.error.js';

describe('SessionError as Node prints it', () => {
  it('shows the type, the message and the stack, without the HTTP body that repeats the message', () => {
    const error = new SessionError(SessionError.GENERAL_ERROR, '`secret` must be at least 32 random bytes.');
    const printed = inspect(error);
    expect(printed.split('\n')[0]).toBe(
      'SessionError [GENERAL_ERROR]: `secret` must be at least 32 random bytes.',
    );
    expect(printed).toMatch(/\n\s+at /);
    expect(printed.match(/32 random bytes/g)).toHaveLength(1);
    expect(printed).not.toMatch(/statusCode|response:|options:/);
  });

  it('keeps the cause, printed as Node prints it', () => {
    const error = new SessionError(SessionError.GENERAL_ERROR, 'The database is unavailable.', {
      cause: new Error('connect ECONNREFUSED 127.0.0.1:3306'),
    });
    expect(inspect(error)).toContain('[cause]: Error: connect ECONNREFUSED 127.0.0.1:3306');
  });

  it('still renders its HTTP body for the client', () => {
    const error = new SessionError(SessionError.UNAUTHORISED, 'Session not found.', { reason: 'signed-out' });
    expect(error.getResponse()).toEqual({
      statusCode: 401,
      type: 'UNAUTHORISED',
      message: 'Session not found.',
      reason: 'signed-out',
    });
  });
});

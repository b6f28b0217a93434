import { describe, expect, it } from 'vitest';
import { SessionError } from '../errors/session.error.js';
import type { SessionModuleOptions } from '../interfaces/session-options.interface.js';
import { resolveSessionOptions } from '../session.options.js';
import { REVOCATION_REASONS, revocationReasonOf } from './revocation-reasons.js';

const secret = 'a-long-random-secret-for-the-reasons-spec-0123456789';

describe('revocationReasonOf', () => {
  it('gives the call default when no reason is passed', () => {
    expect(revocationReasonOf(undefined, REVOCATION_REASONS.revoked)).toBe('revoked');
    expect(revocationReasonOf({}, REVOCATION_REASONS.signedOut)).toBe('signed-out');
    expect(revocationReasonOf({ reason: null as never }, REVOCATION_REASONS.signedOut)).toBe('signed-out');
  });

  it('accepts short printable codes up to 64 characters', () => {
    for (const reason of [
      'password-changed',
      'x',
      'a b',
      'x'.repeat(64),
      ...Object.values(REVOCATION_REASONS),
    ]) {
      expect(revocationReasonOf({ reason }, 'revoked')).toBe(reason);
    }
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(65)],
    ['leading space', ' x'],
    ['trailing space', 'x '],
    ['a control character', 'a\u0000b'],
    ['a line break', 'a\nb'],
    ['non-ASCII', 'révoqué'],
    ['not a string', 42],
  ])('refuses a reason that is %s with GENERAL_ERROR', (_, reason) => {
    const call = () => revocationReasonOf({ reason: reason as string }, 'revoked');
    expect(call).toThrow(SessionError);
    expect(call).toThrow(/printable ASCII/);
  });
});

describe('the revocation, remember-me and cap options', () => {
  const resolve = (options: Partial<SessionModuleOptions>) =>
    resolveSessionOptions({ secret, ...options } as SessionModuleOptions);

  it('defaults to 30 days of reasons, a 1-day browser-session idle window, no cap, revoke-oldest', () => {
    const resolved = resolve({});
    expect(resolved.revocationReasonRetention).toBe(2_592_000);
    expect(resolved.refreshToken.nonPersistentValidity).toBe(86_400);
    expect(resolved.maxSessionsPerUser).toBeUndefined();
    expect(resolved.onSessionLimit).toBe('revoke-oldest');
  });

  it.each([
    [{ maxSessionsPerUser: 0 }, /maxSessionsPerUser must be a positive whole number/],
    [{ maxSessionsPerUser: 2.5 }, /maxSessionsPerUser/],
    [{ onSessionLimit: 'drop' as never }, /onSessionLimit must be one of/],
    [{ revocationReasonRetention: -1 }, /revocationReasonRetention must be a non-negative/],
    [{ refreshToken: { nonPersistentValidity: 0 } }, /refreshToken.nonPersistentValidity must be a positive/],
  ])('refuses %o at start-up', (options, message) => {
    expect(() => resolve(options)).toThrow(message);
  });

  it('takes 0 for revocationReasonRetention (keep no reasons)', () => {
    expect(resolve({ revocationReasonRetention: 0 }).revocationReasonRetention).toBe(0);
  });
});

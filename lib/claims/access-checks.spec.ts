import { describe, expect, it } from 'vitest';
import { SessionError } from '../errors/session.error.js';
import type { AccessTokenClaims } from '../tokens/access-token.js';
import { assertSessionAccess } from './access-checks.js';

const NOW = 1_800_000_000_000;
const claims = (extra: Partial<AccessTokenClaims> = {}): AccessTokenClaims => ({
  userId: 'u',
  handle: 'a'.repeat(32),
  generation: 1,
  jwtPayload: {},
  expiresAt: NOW + 60_000,
  payloadVersion: 1,
  authTime: NOW / 1000 - 300,
  ...extra,
});

function typeOf(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as SessionError).type;
  }
}

describe('route checks of a token’s own claims', () => {
  it('passes a sign-in exactly `fresh` seconds old, refuses one a second older with maxAge', () => {
    expect(typeOf(() => assertSessionAccess(claims(), { fresh: 300 }, NOW))).toBeUndefined();
    let refused: SessionError | undefined;
    try {
      assertSessionAccess(claims({ authTime: NOW / 1000 - 301 }), { fresh: 300 }, NOW);
    } catch (error) {
      refused = error as SessionError;
    }
    expect(refused?.type).toBe('SESSION_NOT_FRESH');
    expect(refused?.getStatus()).toBe(403);
    expect(refused?.getResponse()).toMatchObject({ type: 'SESSION_NOT_FRESH', maxAge: 300 });
  });

  it('never counts a token without auth_time (signed before step-up) as fresh', () => {
    expect(typeOf(() => assertSessionAccess(claims({ authTime: undefined }), { fresh: 3600 }, NOW))).toBe(
      'SESSION_NOT_FRESH',
    );
  });

  it.each([Number.NaN, -1, Infinity, '300' as unknown as number])(
    'refuses fresh: %s as a configuration error instead of turning the check off',
    (fresh) => {
      expect(typeOf(() => assertSessionAccess(claims(), { fresh }, NOW))).toBe('GENERAL_ERROR');
    },
  );

  it('refuses an impersonation only where allowImpersonation is false', () => {
    const acted = claims({ actor: { sub: 'admin' } });
    expect(typeOf(() => assertSessionAccess(acted, {}, NOW))).toBeUndefined();
    expect(typeOf(() => assertSessionAccess(acted, { allowImpersonation: true }, NOW))).toBeUndefined();
    expect(typeOf(() => assertSessionAccess(acted, { allowImpersonation: false }, NOW))).toBe(
      'IMPERSONATION_NOT_ALLOWED',
    );
    expect(typeOf(() => assertSessionAccess(claims(), { allowImpersonation: false }, NOW))).toBeUndefined();
  });
});

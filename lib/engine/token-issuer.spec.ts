import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  CreatedSession,
  IssuedToken,
  RefreshedSession,
  SessionInfo,
} from '../interfaces/session.interface.js';
import { renewed, userIdOf } from './token-issuer.js';

describe('issued tokens', () => {
  it('keeps the public shapes of createNewSession and refreshSession exactly', () => {
    expectTypeOf<CreatedSession>().toEqualTypeOf<{
      session: SessionInfo;
      accessToken: IssuedToken;
      refreshToken: IssuedToken;
      idRefreshToken: IssuedToken;
      antiCsrfToken: string | undefined;
    }>();
    expectTypeOf<RefreshedSession>().toEqualTypeOf<{
      session: SessionInfo;
      newAccessToken: IssuedToken;
      newRefreshToken: IssuedToken;
      newIdRefreshToken: IssuedToken;
      newAntiCsrfToken: string | undefined;
    }>();
  });

  it('renames every issued token for refreshSession, and only those', () => {
    const token = (value: string) => ({ value, expires: 1_700_000_000_000 });
    const issued: CreatedSession = {
      session: { handle: 'h', userId: 7, jwtPayload: { role: 'admin' } },
      accessToken: token('access'),
      refreshToken: token('refresh'),
      idRefreshToken: token('id-refresh'),
      antiCsrfToken: 'anti-csrf',
    };
    expect(renewed(issued)).toStrictEqual({
      session: issued.session,
      newAccessToken: issued.accessToken,
      newRefreshToken: issued.refreshToken,
      newIdRefreshToken: issued.idRefreshToken,
      newAntiCsrfToken: 'anti-csrf',
    });
  });

  it('gives back the user id with the type it was created with', () => {
    expect(userIdOf({ userId: '42', userIdType: 'number' })).toBe(42);
    expect(userIdOf({ userId: '42', userIdType: 'string' })).toBe('42');
  });
});

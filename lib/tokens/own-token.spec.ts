import { SignJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signAccessToken, type AccessTokenKey } from './access-token.js';
import { couldBeOwnToken, type OwnTokenChecks } from './own-token.js';
import { mintRefreshToken, newSessionHandle } from './refresh-token.js';

const OUR_KID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const secret = randomBytes(32);
const key: AccessTokenKey = {
  kid: OUR_KID,
  algorithm: 'HS256',
  key: secret,
  verifyKey: secret,
  verifyUntil: Number.POSITIVE_INFINITY,
  signatureLength: 43,
};
const checks: OwnTokenChecks = {
  algorithm: 'HS256',
  maxLength: 4000,
  couldBeOwnKeyId: (kid) => kid === OUR_KID,
  refreshTokenTag: randomBytes(32),
};
const now = Date.now();

function ourAccessToken(expiresAt = now + 60_000, issuedAt = now): Promise<string> {
  const claims = {
    userId: 'u',
    handle: newSessionHandle(),
    generation: 1,
    jwtPayload: {},
    payloadVersion: 1,
  };
  return signAccessToken(key, claims, issuedAt, expiresAt, {});
}

/** A JWT with our claims but the given protected header, signed with our key. */
function withHeader(header: Record<string, unknown>): Promise<string> {
  return new SignJWT({ sub: 'u', sid: newSessionHandle(), gen: 1 })
    .setProtectedHeader({ alg: 'HS256', ...header } as never)
    .setIssuedAt()
    .setExpirationTime('1m')
    .sign(secret);
}

describe('couldBeOwnToken', () => {
  it('accepts our access tokens, expired ones included (those still answer TRY_REFRESH_TOKEN)', async () => {
    expect(couldBeOwnToken(await ourAccessToken(), 'access', checks)).toBe(true);
    expect(couldBeOwnToken(await ourAccessToken(now - 3_600_000, now - 7_200_000), 'access', checks)).toBe(
      true,
    );
  });

  it.each(['undefined', 'null', '', ' ', '\t', 'Bearer', '[object Object]', 'eyJ', 'a.b.c'])(
    'refuses the non-token %j as either kind',
    (value) => {
      expect(couldBeOwnToken(value, 'access', checks)).toBe(false);
      expect(couldBeOwnToken(value, 'refresh', checks)).toBe(false);
    },
  );

  it('refuses non-strings', () => {
    for (const value of [undefined, null, 42, {}, ['x']]) {
      expect(couldBeOwnToken(value, 'access', checks)).toBe(false);
    }
  });

  it("refuses another issuer's JWTs: other typ, alg or a kid the ring could not have made", async () => {
    const foreign: [string, Record<string, unknown>][] = [
      ['typ JWT', { typ: 'JWT', kid: OUR_KID }],
      ['no typ', { kid: OUR_KID }],
      ['an ID token typ', { typ: 'id+jwt', kid: OUR_KID }],
      ['a foreign kid', { typ: 'at+jwt', kid: 'f'.repeat(32) }],
      ['no kid', { typ: 'at+jwt' }],
      ['an empty kid', { typ: 'at+jwt', kid: '' }],
      ['a numeric kid', { typ: 'at+jwt', kid: 7 }],
    ];
    for (const [label, header] of foreign) {
      expect(couldBeOwnToken(await withHeader(header), 'access', checks), label).toBe(false);
    }
    const otherAlg = await new SignJWT({ sub: 'u' })
      .setProtectedHeader({ alg: 'HS384', typ: 'at+jwt', kid: OUR_KID })
      .sign(randomBytes(48));
    expect(couldBeOwnToken(otherAlg, 'access', checks)).toBe(false);
  });

  it('accepts the application/ form of our typ, as jose does', async () => {
    expect(
      couldBeOwnToken(await withHeader({ typ: 'application/at+jwt', kid: OUR_KID }), 'access', checks),
    ).toBe(true);
  });

  it('refuses an access token where a refresh token is expected, and the other way round', async () => {
    const refresh = mintRefreshToken(checks.refreshTokenTag, newSessionHandle(), 3);
    expect(couldBeOwnToken(refresh, 'refresh', checks)).toBe(true);
    expect(couldBeOwnToken(refresh, 'access', checks)).toBe(false);
    expect(couldBeOwnToken(await ourAccessToken(), 'refresh', checks)).toBe(false);
  });

  it('refuses refresh tokens of another secret or with an altered tag', () => {
    const foreign = mintRefreshToken(randomBytes(32), newSessionHandle(), 1);
    expect(couldBeOwnToken(foreign, 'refresh', checks)).toBe(false);
    const ours = mintRefreshToken(checks.refreshTokenTag, newSessionHandle(), 1);
    const flipped = ours.slice(0, -1) + (ours.endsWith('A') ? 'B' : 'A');
    expect(couldBeOwnToken(flipped, 'refresh', checks)).toBe(false);
  });
});

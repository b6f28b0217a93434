import { serialize } from 'cookie';
import fc from 'fast-check';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AccessTokenAlgorithm } from '../interfaces/session-options.interface.js';
import { MAX_SET_COOKIE_BYTES, maxAccessTokenLength } from '../session.constants.js';
import { accessTokenLength, signAccessToken, verifyAccessToken } from './access-token.js';
import { StaticKeyRing } from './static-key-ring.js';

async function signerOf(algorithm: AccessTokenAlgorithm, modulusLength = 2048) {
  let jwk: JWK;
  if (algorithm === 'HS256') {
    jwk = { kty: 'oct', k: randomBytes(32).toString('base64url') };
  } else if (algorithm === 'RS256') {
    jwk = generateKeyPairSync('rsa', { modulusLength }).privateKey.export({ format: 'jwk' }) as JWK;
  } else {
    jwk = await exportJWK((await generateKeyPair(algorithm, { extractable: true })).privateKey);
  }
  const ring = await StaticKeyRing.create(algorithm, [{ ...jwk, kid: `kid-${algorithm}` }]);
  return ring.signingKey();
}

describe('accessTokenLength', () => {
  it.each([
    ['HS256', 'HS256', 0],
    ['ES256', 'ES256', 0],
    ['EdDSA', 'EdDSA', 0],
    ['RS256 (2048-bit key)', 'RS256', 2048],
    ['RS256 (3072-bit key)', 'RS256', 3072],
  ] as [string, AccessTokenAlgorithm, number][])(
    'is the exact length of the signed %s token for any claims',
    async (_label, algorithm, bits) => {
      const signer = await signerOf(algorithm, bits);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), fc.double({ noNaN: true })),
          fc.jsonValue({ maxDepth: 3 }),
          fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
          async (userId, jwtPayload, generation, issuer) => {
            const id = typeof userId === 'number' && !Number.isFinite(userId) ? 1 : userId;
            const claims = { userId: id, handle: 'a'.repeat(32), generation, jwtPayload, payloadVersion: 1 };
            const now = Date.now();
            const options = { issuer, audience: issuer };
            const token = await signAccessToken(signer, claims, now, now + 60_000, options);
            expect(accessTokenLength(signer, claims, now, now + 60_000, options)).toBe(token.length);
          },
        ),
        { numRuns: 40 },
      );
    },
  );

  it('names the same limit for the verifier: a token one character over it is refused unparsed', async () => {
    const signer = await signerOf('HS256');
    const now = Date.now();
    const claims = { userId: 'u', handle: 'a'.repeat(32), generation: 1, jwtPayload: {}, payloadVersion: 1 };
    const token = await signAccessToken(signer, claims, now, now + 60_000, {});
    const resolve = () => signer;
    const options = { clockTolerance: 0, maxLength: token.length };
    await expect(verifyAccessToken(token, resolve, now, options)).resolves.toBeDefined();
    await expect(
      verifyAccessToken(token, resolve, now, { ...options, maxLength: token.length - 1 }),
    ).resolves.toBeUndefined();
  });
});

describe('signAccessToken with HS256', () => {
  it("signs with node:crypto the exact bytes jose's CompactSign writes, and jose verifies them", async () => {
    const signer = await signerOf('HS256');
    expect(signer.hmacSecret).toBeDefined();
    const viaJose = { ...signer, hmacSecret: undefined };
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        fc.jsonValue({ maxDepth: 3 }),
        fc.option(fc.string({ unit: 'grapheme', maxLength: 20 }), { nil: undefined }),
        async (userId, jwtPayload, issuer) => {
          const claims = { userId, handle: 'a'.repeat(32), generation: 3, jwtPayload, payloadVersion: 1 };
          const now = Date.now();
          const options = { issuer, audience: issuer };
          const token = await signAccessToken(signer, claims, now, now + 60_000, options);
          expect(token).toBe(await signAccessToken(viaJose, claims, now, now + 60_000, options));
          const verified = await verifyAccessToken(token, () => signer, now, {
            ...options,
            clockTolerance: 0,
            maxLength: 1_000_000,
          });
          expect(verified?.claims.userId).toBe(userId);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('maxAccessTokenLength', () => {
  const domains = [undefined, 'example.com', 'a-rather-long-subdomain.of-a-long-registrable-domain.example'];
  const cases = domains.flatMap((domain) =>
    [true, false].flatMap((secure) =>
      (['lax', 'strict', 'none'] as const).map((sameSite) => ({
        domain,
        secure,
        sameSite,
        namePrefix: '' as const,
      })),
    ),
  );

  it.each(cases)('fills a 4096-byte Set-Cookie exactly, with a __Host- prefix: %o', (cookie) => {
    const limit = maxAccessTokenLength(cookie);
    // The longest Expires a session can have (year 9999), the same width as any other.
    const setCookie = serialize('__Host-sAccessToken', 'a'.repeat(limit), {
      ...cookie,
      path: '/',
      httpOnly: true,
      expires: new Date('9999-12-31T23:59:59Z'),
    });
    expect(Buffer.byteLength(setCookie)).toBe(MAX_SET_COOKIE_BYTES);
  });
});

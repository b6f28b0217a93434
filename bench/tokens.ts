import {
  SignJWT,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWTHeaderParameters,
} from 'jose';
import { webcrypto } from 'node:crypto';

/** The HS256 key of the run as a `CryptoKey`, prepared once (what a careful raw jose user does). */
export async function hmacCryptoKey(jwk: JWK, usage: 'sign' | 'verify'): Promise<webcrypto.CryptoKey> {
  const bytes = (await importJWK(jwk, 'HS256')) as Uint8Array;
  return webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

/**
 * Makes distinct, valid access tokens from one the library issued: same header and claims, plus a
 * unique `jti`, signed with the same key. So the benchmark never depends on the claim layout.
 */
export async function tokenVariants(
  issued: string,
  jwk: JWK,
  { distinctSessions = false } = {},
): Promise<(index: number) => Promise<string>> {
  const header = decodeProtectedHeader(issued) as JWTHeaderParameters;
  const claims = decodeJwt(issued);
  const key = await hmacCryptoKey(jwk, 'sign');
  // distinctSessions: each variant names a session of its own (`sid`, 32 hex digits), as a million users would.
  const sid = (index: number) => (distinctSessions ? { sid: index.toString(16).padStart(32, '0') } : {});
  return (index) =>
    new SignJWT({ ...claims, ...sid(index), jti: `bench-${index}` }).setProtectedHeader(header).sign(key);
}

/** Signs `count` variants starting at `from`, a few at a time. */
export async function signVariants(
  variant: (index: number) => Promise<string>,
  from: number,
  count: number,
): Promise<string[]> {
  const tokens: string[] = [];
  const batch = 64;
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    tokens.push(
      ...(await Promise.all(
        Array.from({ length: end - start }, (_, offset) => variant(from + start + offset)),
      )),
    );
  }
  return tokens;
}

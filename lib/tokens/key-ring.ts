import { importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import { createPublicKey, createSecretKey, webcrypto, type KeyObject as SecretKeyObject } from 'node:crypto';
import type { AccessTokenKey } from './access-token.js';

/**
 * The signing keys of one engine instance: a {@link StoredKeyRing} shared by every instance through
 * the database, or a {@link StaticKeyRing} of the configuration's JWKs.
 */
export interface KeyRing {
  /** The key that signs now. */
  signingKey(): Promise<AccessTokenKey>;
  /** The key a token's `kid` names, while it verifies; `undefined` for an unknown or retired one. */
  verificationKey(kid: string): Promise<AccessTokenKey | undefined>;
  /** Synchronous lookup of a cached key; the hot path's first try. */
  cachedKey(kid: string): AccessTokenKey | undefined;
  /**
   * Whether this ring could have made a key id, without storage: a key it holds, or (for a database
   * ring) an id whose HMAC tag checks out.
   */
  couldHaveMadeKeyId(kid: string): boolean;
  /** Public keys that still verify, as a JWKS document (empty for HMAC). */
  jwks(): { keys: JWK[] };
  /**
   * Publishes a new key and retires the current ones; returns the new key's id.
   * @throws SessionError `GENERAL_ERROR` for static keys, which the configuration rotates.
   */
  rotate(options?: { immediately?: boolean }): Promise<string>;
  /** Whether the cached keys are due for a reload before they verify again (`now` in epoch ms). */
  isStale(now?: number): boolean;
  /** Reloads keys that are due ({@link isStale}); `undefined` when none are. */
  reloadIfStale(): Promise<void> | undefined;
}

/**
 * Default reload cadence: every instance sees a new key well before it signs, and a key retired by
 * `rotateSigningKeys({ immediately: true })` on another instance stops verifying here at the first
 * verification after this long (which reloads the ring before it checks the token).
 */
export const DEFAULT_RING_RELOAD_INTERVAL_MS = 60_000;
export const DEFAULT_UNKNOWN_KID_COOLDOWN_MS = 10_000;

/** A key of a ring with its signing window (epoch ms). */
export interface RingKey extends AccessTokenKey {
  usableFrom: number;
  signUntil: number;
  verifyUntil: number;
  /** Public JWK for asymmetric keys. */
  publicJwk?: JWK;
}

const ASYMMETRIC_KTY = new Set(['EC', 'OKP', 'RSA']);

type KeyMaterial = CryptoKey | KeyObject | Uint8Array;

/**
 * Base64url characters of the key's signatures: HMAC-SHA-256 32 bytes, P-256 and Ed25519 64,
 * RSA the modulus length (RFC 7518 §3.2-3.4, RFC 8037 §3.1).
 */
function signatureLengthOf(jwk: JWK): number {
  const bytes =
    jwk.kty === 'RSA' ? Buffer.from(String(jwk.n), 'base64url').length : jwk.kty === 'oct' ? 32 : 64;
  return Math.ceil((bytes * 4) / 3);
}

function publicJwkOf(jwk: JWK, kid: string, algorithm: string): JWK | undefined {
  if (!ASYMMETRIC_KTY.has(String(jwk.kty))) return undefined;
  const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
  return { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: algorithm, use: 'sig' };
}

/** Imports a private (or shared) JWK as a signing key and its verifying counterpart. */
async function importKeyPair(
  jwk: JWK,
  algorithm: string,
): Promise<{ key: KeyMaterial; verifyKey: KeyMaterial; hmacSecret?: SecretKeyObject }> {
  if (jwk.kty === 'oct') {
    // importJWK hands back raw bytes for HMAC, which jose would import again on every call.
    if (algorithm !== 'HS256' || typeof jwk.k !== 'string') throw new TypeError('not an HS256 key');
    const bytes = Buffer.from(jwk.k, 'base64url');
    const key = await webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    // Signing uses the synchronous node:crypto HMAC (same bytes); jose keeps verifying.
    return { key, verifyKey: key, hmacSecret: createSecretKey(bytes) };
  }
  const key = await importJWK({ ...jwk, alg: algorithm }, algorithm);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...publicPart } = jwk;
  return { key, verifyKey: await importJWK({ ...publicPart, alg: algorithm }, algorithm) };
}

/** A ring key of a JWK, signing and verifying in the given window (epoch ms). */
export async function importRingKey(
  jwk: JWK,
  kid: string,
  algorithm: string,
  window: Pick<RingKey, 'usableFrom' | 'signUntil' | 'verifyUntil'>,
): Promise<RingKey> {
  return {
    kid,
    algorithm,
    ...(await importKeyPair(jwk, algorithm)),
    signatureLength: signatureLengthOf(jwk),
    ...window,
    publicJwk: publicJwkOf(jwk, kid, algorithm),
  };
}

/** The public JWKs of the keys that still verify at `now` (epoch ms). */
export function publishedJwks(keys: Iterable<RingKey>, now: number): { keys: JWK[] } {
  const published: JWK[] = [];
  for (const key of keys) {
    if (key.publicJwk && key.verifyUntil > now) published.push(key.publicJwk);
  }
  return { keys: published };
}

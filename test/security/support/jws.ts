import {
  constants,
  createHmac,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import type { JWK } from 'jose';

/** base64url of a JSON value, or of a string's bytes as given. */
export function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** The decoded header and claims of a compact JWS, without verifying anything. */
export function decodeJws(token: string): {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
} {
  const [header, claims] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString()),
  };
}

/** A random HS256 static key with a kid, as `accessToken.signingKey.keys` takes it. */
export function hmacJwk(kid: string): JWK & { kid: string; k: string } {
  return { kty: 'oct', k: randomBytes(32).toString('base64url'), kid };
}

const HMAC_HASH: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/**
 * Signs `header.claims` exactly as given (no library in between that could refuse a hostile header):
 * HMAC with raw secret bytes for HS*, else with a private key.
 */
export function signJws(
  header: Record<string, unknown> | string,
  claims: Record<string, unknown> | string,
  key: Buffer | KeyObject,
  alg = typeof header === 'string' ? 'HS256' : String(header.alg),
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${signature(input, key, alg)}`;
}

function signature(input: string, key: Buffer | KeyObject, alg: string): string {
  const hash = HMAC_HASH[alg.toUpperCase()];
  if (hash)
    return createHmac(hash, key as Buffer)
      .update(input)
      .digest('base64url');
  const data = Buffer.from(input);
  const privateKey = key as KeyObject;
  switch (alg) {
    case 'ES256':
      return sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    case 'ES384':
      // With whatever curve the key has: an ES384 header over our P-256 key is an algorithm swap.
      return sign('sha384', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    case 'RS256':
      return sign('sha256', data, privateKey).toString('base64url');
    case 'PS256':
      return sign('sha256', data, {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      }).toString('base64url');
    case 'EdDSA':
    case 'Ed25519':
      return sign(null, data, privateKey).toString('base64url');
    default:
      return randomBytes(32).toString('base64url');
  }
}

/** The HMAC secrets an attacker would derive from a published public key (the key-confusion attack). */
export function publicKeyAsHmacSecrets(publicJwk: JWK): Buffer[] {
  const { kid: _kid, alg: _alg, use: _use, ...bare } = publicJwk;
  const key = createPublicKey({ key: bare as never, format: 'jwk' });
  return [
    Buffer.from(key.export({ type: 'spki', format: 'pem' }) as string),
    key.export({ type: 'spki', format: 'der' }),
    Buffer.from(JSON.stringify(publicJwk)),
    Buffer.from(JSON.stringify(bare)),
    Buffer.from(String(publicJwk.x ?? publicJwk.n), 'base64url'),
    Buffer.from(String(publicJwk.x ?? publicJwk.n)),
  ];
}

/** A private JWK as a node KeyObject. */
export function privateKeyOf(jwk: JWK): KeyObject {
  const { kid: _kid, alg: _alg, ...bare } = jwk;
  return createPrivateKey({ key: bare as never, format: 'jwk' });
}

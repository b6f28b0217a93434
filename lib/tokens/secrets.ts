import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** One key per purpose, derived from the configured secret so no purpose can stand in for another. */
export interface SubKeys {
  /** Authenticates refresh tokens (their tag). */
  refreshTokenTag: Buffer;
  /** Encrypts signing-key material at rest. */
  keyRing: Buffer;
  /** Seals the live refresh token kept for grace-period replays. */
  liveTokenSeal: Buffer;
  /** Derives the anti-csrf token of a refresh generation. */
  antiCsrf: Buffer;
  /** Derives the idRefreshToken of a refresh generation. */
  idRefreshToken: Buffer;
  /** Authenticates the ids of ring keys. */
  keyId: Buffer;
  /** Keys the HMAC of client IPs kept as `sessionMetadata.ip: 'hashed'`. */
  metadataIp: Buffer;
}

const HKDF_SALT = 'nestjs-token-session/v1';

/** One HKDF-SHA256 sub-key of the secret for `purpose`. */
export function subKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, purpose, 32));
}

/** Derives every sub-key from the secret with HKDF-SHA256. */
export function deriveSubKeys(secret: string): SubKeys {
  return {
    refreshTokenTag: subKey(secret, 'refresh-token-tag'),
    keyRing: subKey(secret, 'key-ring-encryption'),
    liveTokenSeal: subKey(secret, 'live-refresh-token-seal'),
    antiCsrf: subKey(secret, 'anti-csrf'),
    idRefreshToken: subKey(secret, 'id-refresh-token'),
    keyId: subKey(secret, 'key-id'),
    metadataIp: subKey(secret, 'session-metadata-ip'),
  };
}

/** URL-safe random string of `bytes` random bytes. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** Random lowercase hex of `bytes` random bytes. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** HMAC-SHA256 of `data`, base64url. */
export function hmac(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('base64url');
}

/** SHA-256 of `data`, lowercase hex (safe to compare in any SQL collation). */
export function sha256Hex(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Compares two strings in time independent of where they differ (only the length shows). A plain
 * loop: it runs on every state-changing request, and `timingSafeEqual` would need two Buffers.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Encrypts and authenticates `plaintext` (AES-256-GCM), binding it to `context`. */
export function seal(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/** Opens what {@link seal} made under the same key and context; `undefined` if it was altered. */
export function open(key: Buffer, sealed: string, context: string): string | undefined {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return undefined;
  }
}

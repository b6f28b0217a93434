import { SignJWT, decodeProtectedHeader, jwtVerify, type CryptoKey, type KeyObject } from 'jose';
import { SESSION_HANDLE_PATTERN } from './refresh-token.js';

/** What a verified access token says. */
export interface AccessTokenClaims {
  userId: string | number;
  handle: string;
  generation: number;
  jwtPayload: unknown;
  /** Expiry, epoch ms. */
  expiresAt: number;
}

/** A key the ring hands out for signing or verifying. */
export interface AccessTokenKey {
  kid: string;
  algorithm: string;
  /** Signs (the private or shared key). */
  key: CryptoKey | KeyObject | Uint8Array;
  /** Verifies (the public key of an asymmetric pair, else the shared key). */
  verifyKey: CryptoKey | KeyObject | Uint8Array;
  /** Until when the key verifies, epoch ms. */
  verifyUntil: number;
}

/** Verification settings resolved once from the options. */
export interface AccessTokenVerifyOptions {
  issuer?: string;
  audience?: string;
  clockTolerance: number;
}

/** RFC 9068's media type for JWT access tokens; a token of any other `typ` is refused. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
/** Access tokens travel in a cookie, which browsers cap at about 4 KB. */
export const MAX_ACCESS_TOKEN_LENGTH = 4096;
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]+$/;
const MAX_KID_LENGTH = 128;

// Claim names: `sub`, `sid` and `gen` are ours; the app's payload lives under `pld` alone.
interface Claims {
  sub: string;
  uty?: 'n';
  sid: string;
  gen: number;
  pld?: unknown;
}

/** Signs an access token for one refresh generation of a session. */
export async function signAccessToken(
  signer: AccessTokenKey,
  claims: Omit<AccessTokenClaims, 'expiresAt'>,
  issuedAt: number,
  expiresAt: number,
  options: Pick<AccessTokenVerifyOptions, 'issuer' | 'audience'>,
): Promise<string> {
  const body: Claims = {
    sub: String(claims.userId),
    sid: claims.handle,
    gen: claims.generation,
    pld: claims.jwtPayload,
  };
  if (typeof claims.userId === 'number') body.uty = 'n';
  const jwt = new SignJWT(body as unknown as Record<string, unknown>)
    .setProtectedHeader({ alg: signer.algorithm, kid: signer.kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuedAt(Math.floor(issuedAt / 1000))
    .setExpirationTime(Math.floor(expiresAt / 1000));
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(signer.key);
}

/** Finds the key a token's `kid` names (reloading the ring if it must); `undefined` when none. */
export type AccessTokenKeyResolver = (
  kid: string,
) => AccessTokenKey | undefined | Promise<AccessTokenKey | undefined>;

/** A claim set with the key that verified it. */
export interface VerifiedAccessToken {
  claims: AccessTokenClaims;
  key: AccessTokenKey;
}

/** Length and character set of a compact JWS, checked before any parsing. */
export function hasAccessTokenShape(token: unknown): token is string {
  return typeof token === 'string' && token.length <= MAX_ACCESS_TOKEN_LENGTH && JWT_SHAPE.test(token);
}

/**
 * Verifies an access token; `undefined` for any failure. The key is chosen by the header's `kid`
 * (only a short string is ever looked up) and the algorithm pinned to that key's. The key is
 * passed to jose directly: a key-resolver callback costs jose more than decoding the header twice.
 */
export async function verifyAccessToken(
  token: unknown,
  resolveKey: AccessTokenKeyResolver,
  now: number,
  options: AccessTokenVerifyOptions,
): Promise<VerifiedAccessToken | undefined> {
  if (!hasAccessTokenShape(token)) return undefined;
  let kid: unknown;
  try {
    ({ kid } = decodeProtectedHeader(token));
  } catch {
    return undefined;
  }
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) return undefined;
  const found = resolveKey(kid);
  // A failed lookup (the database is down) is not the token's fault: it propagates.
  const key = found instanceof Promise ? await found : found;
  if (key === undefined || key.verifyUntil <= now) return undefined;
  let payload: Record<string, unknown>;
  try {
    // Presence and types of the claims are checked by readClaims below.
    ({ payload } = await jwtVerify(token, key.verifyKey, {
      algorithms: [key.algorithm],
      typ: ACCESS_TOKEN_TYPE,
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.clockTolerance,
      currentDate: new Date(now),
    }));
  } catch {
    return undefined;
  }
  // jose checks `iat` only against a maximum age: a token issued in the future is forged or skewed.
  if (typeof payload.iat !== 'number' || payload.iat * 1000 > now + options.clockTolerance * 1000) {
    return undefined;
  }
  const claims = readClaims(payload);
  return claims && key ? { claims, key } : undefined;
}

function readClaims(payload: Record<string, unknown>): AccessTokenClaims | undefined {
  const { sub, uty, sid, gen, exp } = payload;
  if (typeof sub !== 'string' || sub.length === 0) return undefined;
  if (typeof sid !== 'string' || !SESSION_HANDLE_PATTERN.test(sid)) return undefined;
  if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 1) return undefined;
  if (typeof exp !== 'number') return undefined;
  let userId: string | number = sub;
  if (uty === 'n') {
    userId = Number(sub);
    if (!Number.isFinite(userId) || String(userId) !== sub) return undefined;
  } else if (uty !== undefined) {
    return undefined;
  }
  return { userId, handle: sid, generation: gen, jwtPayload: payload.pld, expiresAt: exp * 1000 };
}

import { CompactSign, decodeProtectedHeader, jwtVerify, type CryptoKey, type KeyObject } from 'jose';
import { createHmac, type KeyObject as SecretKeyObject } from 'node:crypto';
import { SESSION_HANDLE_PATTERN } from './refresh-token.js';

/** What a verified access token says. */
export interface AccessTokenClaims {
  userId: string | number;
  handle: string;
  generation: number;
  jwtPayload: unknown;
  /** Expiry, epoch ms. */
  expiresAt: number;
  /** The session's payload version the token was minted at (`pv`; 1 when absent). */
  payloadVersion: number;
  /** OpenID Connect `auth_time`: when the user last authenticated, epoch **seconds**; absent in older tokens. */
  authTime?: number;
  /** RFC 8693 `act`: who acts as the user (an impersonation). */
  actor?: { sub: string };
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
  /** Length of its signatures in a compact JWS (base64url characters): fixed per key. */
  signatureLength: number;
  /**
   * HS256 only: the shared secret for `node:crypto`'s synchronous HMAC, which signs the same bytes
   * as jose without WebCrypto's asynchronous job (the largest cost of a sign-in).
   */
  hmacSecret?: SecretKeyObject;
}

/** Verification settings resolved once from the options. */
export interface AccessTokenVerifyOptions {
  issuer?: string;
  audience?: string;
  clockTolerance: number;
  /**
   * Longest token accepted, in characters: the same limit the issuer keeps
   * (`maxAccessTokenLength` of the cookie options), checked before any parsing.
   */
  maxLength: number;
}

/** RFC 9068's media type for JWT access tokens; a token of any other `typ` is refused. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]+$/;
const MAX_KID_LENGTH = 128;

// Claim names: `sub`, `sid` and `gen` are ours; the app's payload lives under `pld` alone.
interface Claims {
  sub: string;
  uty?: 'n';
  sid: string;
  gen: number;
  pld?: unknown;
  pv?: number;
  auth_time?: number;
  act?: { sub: string };
}

/** Header and claims of an access token as JSON text, exactly as they are signed. */
function encodeAccessToken(
  signer: Pick<AccessTokenKey, 'kid' | 'algorithm'>,
  claims: Omit<AccessTokenClaims, 'expiresAt'>,
  issuedAt: number,
  expiresAt: number,
  options: Pick<AccessTokenVerifyOptions, 'issuer' | 'audience'>,
): { header: { alg: string; kid: string; typ: string }; payload: string } {
  const body: Claims & Record<string, unknown> = {
    sub: String(claims.userId),
    sid: claims.handle,
    gen: claims.generation,
    pld: claims.jwtPayload,
    pv: claims.payloadVersion,
  };
  if (claims.authTime !== undefined) body.auth_time = claims.authTime;
  if (claims.actor !== undefined) body.act = { sub: claims.actor.sub };
  if (typeof claims.userId === 'number') body.uty = 'n';
  body.iat = Math.floor(issuedAt / 1000);
  body.exp = Math.floor(expiresAt / 1000);
  if (options.issuer !== undefined) body.iss = options.issuer;
  if (options.audience !== undefined) body.aud = options.audience;
  return {
    header: { alg: signer.algorithm, kid: signer.kid, typ: ACCESS_TOKEN_TYPE },
    payload: JSON.stringify(body),
  };
}

/** Characters of unpadded base64url for `bytes` bytes. */
function base64UrlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

/**
 * Length in characters of the token {@link signAccessToken} makes from the same arguments,
 * computed without signing (a compact JWS: header, claims and signature, base64url, dot-joined).
 */
export function accessTokenLength(
  signer: Pick<AccessTokenKey, 'kid' | 'algorithm' | 'signatureLength'>,
  claims: Omit<AccessTokenClaims, 'expiresAt'>,
  issuedAt: number,
  expiresAt: number,
  options: Pick<AccessTokenVerifyOptions, 'issuer' | 'audience'>,
): number {
  const { header, payload } = encodeAccessToken(signer, claims, issuedAt, expiresAt, options);
  return (
    base64UrlLength(Buffer.byteLength(JSON.stringify(header))) +
    base64UrlLength(Buffer.byteLength(payload)) +
    signer.signatureLength +
    2
  );
}

/** Signs an access token for one refresh generation of a session. */
export async function signAccessToken(
  signer: AccessTokenKey,
  claims: Omit<AccessTokenClaims, 'expiresAt'>,
  issuedAt: number,
  expiresAt: number,
  options: Pick<AccessTokenVerifyOptions, 'issuer' | 'audience'>,
): Promise<string> {
  const { header, payload } = encodeAccessToken(signer, claims, issuedAt, expiresAt, options);
  if (signer.hmacSecret !== undefined && signer.algorithm === 'HS256') {
    // The compact JWS exactly as jose's CompactSign writes it (RFC 7515 section 7.1).
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
    return `${input}.${createHmac('sha256', signer.hmacSecret).update(input).digest('base64url')}`;
  }
  return new CompactSign(Buffer.from(payload)).setProtectedHeader(header).sign(signer.key);
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
export function hasAccessTokenShape(token: unknown, maxLength: number): token is string {
  return typeof token === 'string' && token.length <= maxLength && JWT_SHAPE.test(token);
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
  if (!hasAccessTokenShape(token, options.maxLength)) return undefined;
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
  const { sub, uty, sid, gen, exp, pv = 1, auth_time: authTime, act } = payload;
  if (typeof sub !== 'string' || sub.length === 0) return undefined;
  if (typeof sid !== 'string' || !SESSION_HANDLE_PATTERN.test(sid)) return undefined;
  if (typeof gen !== 'number' || !Number.isSafeInteger(gen) || gen < 1) return undefined;
  if (typeof exp !== 'number') return undefined;
  if (typeof pv !== 'number' || !Number.isSafeInteger(pv) || pv < 1) return undefined;
  if (authTime !== undefined && (typeof authTime !== 'number' || !Number.isFinite(authTime)))
    return undefined;
  let actor: { sub: string } | undefined;
  if (act !== undefined) {
    const actorSub = (act as { sub?: unknown } | null)?.sub;
    if (typeof actorSub !== 'string' || actorSub.length === 0) return undefined;
    actor = { sub: actorSub };
  }
  let userId: string | number = sub;
  if (uty === 'n') {
    userId = Number(sub);
    if (!Number.isFinite(userId) || String(userId) !== sub) return undefined;
  } else if (uty !== undefined) {
    return undefined;
  }
  const claims: AccessTokenClaims = {
    userId,
    handle: sid,
    generation: gen,
    jwtPayload: payload.pld,
    expiresAt: exp * 1000,
    payloadVersion: pv,
  };
  if (authTime !== undefined) claims.authTime = authTime;
  if (actor !== undefined) claims.actor = actor;
  return claims;
}

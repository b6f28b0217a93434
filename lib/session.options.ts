import { serialize } from 'cookie';
import type { JWK } from 'jose';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { SessionError } from './errors/session.error.js';
import { DEFAULT_REFRESH_PATH, HOST_ONLY_NAME_PREFIX } from './http/wire.js';
import type {
  AccessTokenAlgorithm,
  ResolvedSessionOptions,
  SessionModuleOptions,
} from './interfaces/session-options.interface.js';
import { NO_TRUSTED_ORIGINS, resolveTrustedOrigins } from './http/trusted-origins.js';
import { resolveRevocationOptions } from './revocation/revocation.options.js';

/** The defaults every option falls back to (durations in seconds). */
export const DEFAULT_SESSION_OPTIONS: Omit<ResolvedSessionOptions, 'secret' | 'databaseTimeout'> = {
  accessToken: {
    validity: 900,
    algorithm: 'HS256',
    blacklisting: false,
    clockTolerance: 5,
    signingKey: { dynamic: true, updateInterval: 604_800 },
  },
  refreshToken: {
    validity: 8_640_000,
    path: DEFAULT_REFRESH_PATH,
    gracePeriod: 10,
    nonPersistentValidity: 86_400,
  },
  cookie: { secure: true, sameSite: 'lax', namePrefix: '' },
  antiCsrf: 'token',
  trustedOrigins: NO_TRUSTED_ORIGINS,
  sessionExpiredStatusCode: 401,
  cleanupInterval: 3600,
  sessionMetadata: { ip: 'truncated' },
  revocationReasonRetention: 2_592_000,
  onSessionLimit: 'revoke-oldest',
  cleanupBatchSize: 1000,
  cleanupBatchPause: 0.1,
};

const MIN_SECRET_BYTES = 32;
const DEFAULT_DATABASE_TIMEOUT = 5;
const MAX_GRACE_PERIOD = 60;
const ALGORITHMS = ['HS256', 'ES256', 'EdDSA', 'RS256'];
const MIN_HMAC_BYTES = 32;
const MIN_RSA_BITS = 2048;
const ASYMMETRIC_KTY = new Set(['EC', 'OKP', 'RSA']);
/** The JWK key type (and curve) each algorithm signs with (RFC 7518 §3.2-3.4, RFC 8037 §3.1). */
const KEY_TYPES: Record<AccessTokenAlgorithm, { kty: string; crv?: string }> = {
  HS256: { kty: 'oct' },
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  RS256: { kty: 'RSA' },
};

/** A configuration mistake: fails start-up with `GENERAL_ERROR` and a message saying how to fix it. */
export function configError(message: string): SessionError {
  return new SessionError(SessionError.GENERAL_ERROR, `nestjs-token-session: ${message}`);
}

function requirePositive(name: string, value: unknown, { allowZero = false } = {}): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && (allowZero ? value >= 0 : value > 0);
  if (!ok) {
    throw configError(
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of seconds, got ${JSON.stringify(value)}.`,
    );
  }
}

function requireOneOf(name: string, value: unknown, allowed: readonly unknown[]): void {
  if (!allowed.includes(value)) {
    throw configError(
      `${name} must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}.`,
    );
  }
}

function isCookiePath(path: unknown): boolean {
  if (typeof path !== 'string' || !path.startsWith('/')) return false;
  try {
    serialize('probe', '', { path });
    return true;
  } catch {
    return false;
  }
}

/** Build-time settings the runtime options must agree with. */
export interface SessionBuildSettings {
  /** Where the refresh route was mounted. */
  refreshPath?: string;
}

/** Applies the defaults to the user's options and validates the result; throws on a bad configuration. */
export function resolveSessionOptions(
  options: SessionModuleOptions,
  build: SessionBuildSettings = {},
): ResolvedSessionOptions {
  if (options === null || typeof options !== 'object') {
    throw configError('SessionModule.forRoot() needs an options object with at least a `secret`.');
  }
  const defaults = DEFAULT_SESSION_OPTIONS;
  const routePath = build.refreshPath ?? defaults.refreshToken.path;
  const resolved: ResolvedSessionOptions = {
    secret: options.secret,
    accessToken: {
      ...defaults.accessToken,
      ...options.accessToken,
      signingKey: { ...defaults.accessToken.signingKey, ...options.accessToken?.signingKey },
    },
    refreshToken: { ...defaults.refreshToken, path: routePath, ...options.refreshToken },
    cookie: { ...defaults.cookie, ...options.cookie },
    antiCsrf: options.antiCsrf ?? defaults.antiCsrf,
    trustedOrigins: resolveTrustedOrigins(options.trustedOrigins, configError),
    sessionExpiredStatusCode: options.sessionExpiredStatusCode ?? defaults.sessionExpiredStatusCode,
    cleanupInterval: options.cleanupInterval ?? defaults.cleanupInterval,
    cleanupBatchSize: options.cleanupBatchSize ?? defaults.cleanupBatchSize,
    cleanupBatchPause: options.cleanupBatchPause ?? defaults.cleanupBatchPause,
    databaseTimeout: 0,
    sessionMetadata:
      options.sessionMetadata === false
        ? false
        : ({
            ...(defaults.sessionMetadata as object),
            ...(options.sessionMetadata as object | undefined),
          } as ResolvedSessionOptions['sessionMetadata']),
    revocationReasonRetention: options.revocationReasonRetention ?? defaults.revocationReasonRetention,
    maxSessionsPerUser: options.maxSessionsPerUser,
    onSessionLimit: options.onSessionLimit ?? defaults.onSessionLimit,
  };
  resolved.databaseTimeout =
    options.databaseTimeout ?? Math.min(DEFAULT_DATABASE_TIMEOUT, resolved.refreshToken.gracePeriod / 2);
  validate(resolved, routePath);
  const revocation = resolveRevocationOptions(options.revocation, configError);
  if (revocation) resolved.revocation = revocation;
  return resolved;
}

function validate(options: ResolvedSessionOptions, routePath: string): void {
  const { secret, accessToken, refreshToken, cookie } = options;
  if (typeof secret !== 'string' || Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw configError(
      `\`secret\` must be a string of at least ${MIN_SECRET_BYTES} random bytes. ` +
        "Generate one with `openssl rand -base64 48` (or `node -e \"console.log(require('crypto').randomBytes(48).toString('base64'))\"`) " +
        'and pass it from an environment variable.',
    );
  }
  if (new Set(secret).size < 8) {
    throw configError(
      '`secret` looks like a placeholder (too few distinct characters). Use `openssl rand -base64 48`.',
    );
  }
  requirePositive('accessToken.validity', accessToken.validity);
  requirePositive('accessToken.clockTolerance', accessToken.clockTolerance, { allowZero: true });
  requireOneOf('accessToken.algorithm', accessToken.algorithm, ALGORITHMS);
  requireOneOf('accessToken.blacklisting', accessToken.blacklisting, [true, false]);
  requirePositive('accessToken.signingKey.updateInterval', accessToken.signingKey.updateInterval);
  requirePositive('refreshToken.validity', refreshToken.validity);
  const grace = refreshToken.gracePeriod;
  if (typeof grace !== 'number' || !(grace >= 1 && grace <= MAX_GRACE_PERIOD)) {
    throw configError(
      `refreshToken.gracePeriod must be between 1 and ${MAX_GRACE_PERIOD} seconds, got ${JSON.stringify(grace)}: ` +
        'a longer window would let a stolen refresh token be replayed unnoticed.',
    );
  }
  if (typeof refreshToken.path !== 'string' || !refreshToken.path.startsWith('/')) {
    throw configError(
      `refreshToken.path must be an absolute path such as '/session/refresh', got ${JSON.stringify(refreshToken.path)}.`,
    );
  }
  if (refreshToken.cookiePath !== undefined && !isCookiePath(refreshToken.cookiePath)) {
    throw configError(
      `refreshToken.cookiePath must be an absolute path such as '/session/refresh', got ${JSON.stringify(refreshToken.cookiePath)}.`,
    );
  }
  if (refreshToken.path !== routePath) {
    throw configError(
      `refreshToken.path is '${refreshToken.path}' but the refresh route was mounted at '${routePath}': ` +
        `with forRootAsync, pass refreshPath: '${refreshToken.path}' next to useFactory so both agree.`,
    );
  }
  if (refreshToken.absoluteLifetime !== undefined) {
    requirePositive('refreshToken.absoluteLifetime', refreshToken.absoluteLifetime);
  }
  if (accessToken.validity > refreshToken.validity) {
    throw configError(
      `accessToken.validity (${accessToken.validity} s) must not exceed refreshToken.validity (${refreshToken.validity} s): ` +
        'an access token would outlive its session.',
    );
  }
  if (accessToken.validity <= accessToken.clockTolerance) {
    throw configError(
      `accessToken.validity (${accessToken.validity} s) must be longer than accessToken.clockTolerance (${accessToken.clockTolerance} s).`,
    );
  }
  requireOneOf('cookie.sameSite', cookie.sameSite, ['lax', 'strict', 'none']);
  if (cookie.domain !== undefined) {
    try {
      if (typeof cookie.domain !== 'string' || cookie.domain === '') throw new Error('empty');
      serialize('probe', '', { domain: cookie.domain });
    } catch {
      throw configError(
        `cookie.domain must be a bare host name such as 'example.com' (no scheme, port, path or attributes), got ${JSON.stringify(cookie.domain)}.`,
      );
    }
  }
  requireOneOf('cookie.secure', cookie.secure, [true, false]);
  requireOneOf('cookie.namePrefix', cookie.namePrefix, ['', HOST_ONLY_NAME_PREFIX]);
  if (cookie.namePrefix === HOST_ONLY_NAME_PREFIX && cookie.domain !== undefined) {
    throw configError(
      `cookie.namePrefix '__Host-' cannot be combined with cookie.domain (${JSON.stringify(cookie.domain)}): ` +
        'browsers refuse __Host- cookies that carry a Domain. Remove cookie.domain (cookies stay on this host), ' +
        'or drop namePrefix to share cookies across subdomains.',
    );
  }
  if (cookie.namePrefix === HOST_ONLY_NAME_PREFIX && !cookie.secure) {
    throw configError(
      "cookie.namePrefix '__Host-' needs cookie.secure: true: browsers refuse __Host- cookies without Secure " +
        '(Chromium accepts Secure cookies from http://localhost, so local development still works).',
    );
  }
  requireOneOf('antiCsrf', options.antiCsrf, ['token', 'custom-header', 'none']);
  if (cookie.sameSite === 'none' && !cookie.secure) {
    throw configError(
      "cookie.sameSite 'none' needs cookie.secure: true (browsers drop such cookies otherwise).",
    );
  }
  if (cookie.sameSite === 'none' && options.antiCsrf === 'none') {
    throw configError(
      "cookie.sameSite 'none' sends cookies on cross-site requests: set antiCsrf to 'token' or 'custom-header'.",
    );
  }
  const { origins, checks } = options.trustedOrigins;
  if (options.antiCsrf === 'none' && origins.length + checks.length > 0) {
    throw configError(
      "trustedOrigins has no effect with antiCsrf 'none', which leaves every origin to the app: remove " +
        "trustedOrigins, or set antiCsrf to 'token' or 'custom-header' so only trusted origins may use the cookies.",
    );
  }
  const status = options.sessionExpiredStatusCode;
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw configError(
      `sessionExpiredStatusCode must be an HTTP error status (401, or 440 for older front ends), got ${JSON.stringify(status)}.`,
    );
  }
  requirePositive('cleanupInterval', options.cleanupInterval, { allowZero: true });
  requirePositive('cleanupBatchPause', options.cleanupBatchPause, { allowZero: true });
  if (
    !Number.isInteger(options.cleanupBatchSize) ||
    options.cleanupBatchSize < 1 ||
    options.cleanupBatchSize > 10_000
  ) {
    throw configError(
      `cleanupBatchSize must be a whole number of rows from 1 to 10000, got ${JSON.stringify(options.cleanupBatchSize)}.`,
    );
  }
  requirePositive('databaseTimeout', options.databaseTimeout);
  if (options.databaseTimeout > grace / 2) {
    throw configError(
      `databaseTimeout (${options.databaseTimeout} s) must be at most half of refreshToken.gracePeriod (${grace} s): ` +
        'a refresh that commits just before timing out must still be recoverable by a retry inside the grace period.',
    );
  }
  if (options.sessionMetadata !== false) {
    requireOneOf('sessionMetadata.ip', options.sessionMetadata.ip, ['full', 'truncated', 'hashed', 'none']);
  }
  requirePositive('refreshToken.nonPersistentValidity', refreshToken.nonPersistentValidity);
  requirePositive('revocationReasonRetention', options.revocationReasonRetention, { allowZero: true });
  const cap = options.maxSessionsPerUser;
  if (cap !== undefined && !(Number.isInteger(cap) && cap >= 1)) {
    throw configError(
      `maxSessionsPerUser must be a positive whole number of sessions, got ${JSON.stringify(cap)}.`,
    );
  }
  requireOneOf('onSessionLimit', options.onSessionLimit, [
    'revoke-oldest',
    'revoke-least-recently-active',
    'refuse',
  ]);
  const staticKeys = accessToken.signingKey.keys;
  if (staticKeys !== undefined) validateStaticKeys(staticKeys, accessToken.algorithm);
}

/** Static JWKs: strong enough, a private key first (it signs), one algorithm, unique ids. */
function validateStaticKeys(keys: unknown, algorithm: AccessTokenAlgorithm): void {
  if (!Array.isArray(keys) || keys.length === 0) {
    throw configError('accessToken.signingKey.keys must be a non-empty array of JWKs.');
  }
  const kids = new Set<string>();
  for (const [index, jwk] of (keys as JWK[]).entries()) {
    validateStaticKey(jwk, index, algorithm);
    if (kids.has(jwk.kid!)) {
      throw configError(`accessToken.signingKey.keys has two keys with kid "${jwk.kid}".`);
    }
    kids.add(jwk.kid!);
  }
}

function validateStaticKey(jwk: JWK, index: number, algorithm: AccessTokenAlgorithm): void {
  const where = `accessToken.signingKey.keys[${index}]`;
  if (!jwk || typeof jwk !== 'object' || typeof jwk.kid !== 'string' || jwk.kid.length === 0) {
    throw configError(`${where} needs a "kid" (a short unique string).`);
  }
  if (jwk.kty === 'oct') {
    const bytes = typeof jwk.k === 'string' ? Buffer.from(jwk.k, 'base64url').length : 0;
    if (bytes < MIN_HMAC_BYTES) {
      throw configError(
        `${where} is an HMAC key of ${bytes} bytes; use at least ${MIN_HMAC_BYTES} random bytes ` +
          '(e.g. `openssl rand -base64 32 | tr "+/" "-_" | tr -d =` as "k").',
      );
    }
  } else if (jwk.kty === 'RSA') {
    const bits = typeof jwk.n === 'string' ? Buffer.from(jwk.n, 'base64url').length * 8 : 0;
    if (bits < MIN_RSA_BITS) {
      throw configError(`${where} is an RSA key of ${bits} bits; use at least ${MIN_RSA_BITS} bits.`);
    }
  }
  if (index === 0 && ASYMMETRIC_KTY.has(String(jwk.kty)) && typeof jwk.d !== 'string') {
    throw configError(
      `${where} is a public key, but the first key signs: put a private JWK (with "d") first; public keys may follow to verify.`,
    );
  }
  const keyAlgorithm = jwk.alg ?? algorithm;
  if (keyAlgorithm !== algorithm) {
    throw configError(
      `${where} has alg "${keyAlgorithm}" but accessToken.algorithm is "${algorithm}"; make them agree.`,
    );
  }
  const unusable = (reason: string) =>
    configError(`${where} is not a usable ${algorithm} private JWK: ${reason}`);
  const { kty, crv } = KEY_TYPES[algorithm];
  if (jwk.kty !== kty || (crv !== undefined && jwk.crv !== crv)) {
    throw unusable(`${algorithm} needs a key with kty "${kty}"${crv ? ` and crv "${crv}"` : ''}.`);
  }
  if (kty === 'oct') return;
  try {
    const key = { key: jwk as never, format: 'jwk' } as const;
    if (typeof jwk.d === 'string') createPrivateKey(key);
    else createPublicKey(key);
  } catch (error) {
    throw unusable((error as Error).message);
  }
}

import { decodeProtectedHeader } from 'jose';
import { ACCESS_TOKEN_TYPE, hasAccessTokenShape } from './access-token.js';
import { parseRefreshToken } from './refresh-token.js';

/** Which of our tokens a value is checked against. */
export type OwnTokenKind = 'access' | 'refresh';

/** What decides whether a value could be one of this deployment's tokens; no I/O. */
export interface OwnTokenChecks {
  /** The algorithm every signing key uses (`accessToken.algorithm`). */
  algorithm: string;
  /** The longest access token this deployment issues (characters; see `maxAccessTokenLength`). */
  maxLength: number;
  /** Whether the key ring could have made a key id (HMAC-tagged ring ids, or a configured static kid). */
  couldBeOwnKeyId(kid: string): boolean;
  /** The sub-key that authenticates refresh-token tags. */
  refreshTokenTag: Buffer;
}

/** `typ` as jose compares it (RFC 7515 section 4.1.9: the `application/` prefix may be omitted). */
function normalisedType(typ: unknown): string | undefined {
  return typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined;
}

/**
 * Whether `value` could be one of our tokens of `kind`, judged without storage or a signature check:
 * an access token needs our compact-JWS shape, our `typ` (`at+jwt`), our algorithm and a `kid` the
 * ring could have made; a refresh token needs our `handle.generation.secret.tag` shape with a valid
 * tag. `undefined`, empty, `"undefined"`, `"null"`, another issuer's JWT and the like are not.
 *
 * Used where a request carries both a Bearer value and session cookies: a value that cannot be ours
 * is ignored in favour of the cookies, while a genuine token of ours that fails verification (say,
 * expired) still decides the answer.
 */
export function couldBeOwnToken(value: unknown, kind: OwnTokenKind, checks: OwnTokenChecks): boolean {
  if (typeof value !== 'string' || value.trim() === '') return false;
  if (kind === 'refresh') return parseRefreshToken(checks.refreshTokenTag, value) !== undefined;
  if (!hasAccessTokenShape(value, checks.maxLength)) return false;
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(value) as Record<string, unknown>;
  } catch {
    return false;
  }
  const { alg, kid, typ } = header;
  return (
    normalisedType(typ) === ACCESS_TOKEN_TYPE &&
    alg === checks.algorithm &&
    typeof kid === 'string' &&
    kid.length > 0 &&
    checks.couldBeOwnKeyId(kid)
  );
}

// Claim validators: pure checks of one key of the user's JWT payload, no Nest, no I/O.
import { SessionError } from '../errors/session.error.js';

/**
 * Where the payload records when each fetched claim was fetched: `{ [claim]: epoch seconds }`. A
 * collision-resistant name (RFC 7519 §4.2), so it cannot meet an app's own keys; reserved.
 */
export const CLAIMS_FETCHED_AT = 'urn:nestjs-token-session:fetched-at';

/** Options every ready validator takes. */
export interface ClaimValidatorOptions {
  /**
   * Seconds a value fetched by the claim's `@ClaimFetcher()` stays good: older (or never fetched,
   * e.g. set at login) and it is fetched again and merged into the payload before the check.
   * @default undefined: the value in the token is used as it is
   */
  maxAge?: number;
}

/**
 * Checks one claim (a key of the user's JWT payload). Build them with {@link SessionClaims}; write
 * your own by implementing this interface.
 */
export interface SessionClaimValidator {
  /** The key of the user's JWT payload, e.g. `'roles'`. */
  readonly claim: string;
  /** Seconds; see {@link ClaimValidatorOptions.maxAge}. */
  readonly maxAge?: number;
  /**
   * `undefined` when `value` (the claim's value, `undefined` when absent) passes; otherwise why not,
   * sent to the client as `reason`.
   */
  validate(value: unknown): string | undefined;
}

/** The claim's value in a payload: an own key of a JSON object, else `undefined`. */
export function claimValue(payload: unknown, claim: string): unknown {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  return Object.hasOwn(payload, claim) ? (payload as Record<string, unknown>)[claim] : undefined;
}

/** Equality of JSON values (key order ignored). */
export function jsonEquals(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every(
    (key) =>
      Object.hasOwn(b, key) &&
      jsonEquals((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

function invalid(message: string): SessionError {
  return new SessionError(SessionError.GENERAL_ERROR, `SessionClaims: ${message}`);
}

function validator(
  claim: string,
  options: ClaimValidatorOptions | undefined,
  validate: (value: unknown) => string | undefined,
): SessionClaimValidator {
  if (typeof claim !== 'string' || claim === '') {
    throw invalid(`a claim is a key of the JWT payload (a non-empty string), got ${JSON.stringify(claim)}.`);
  }
  if (claim === CLAIMS_FETCHED_AT) throw invalid(`'${CLAIMS_FETCHED_AT}' is reserved by the library.`);
  const maxAge = options?.maxAge;
  if (maxAge !== undefined && !(Number.isFinite(maxAge) && maxAge > 0)) {
    throw invalid(
      `maxAge of '${claim}' must be a positive number of seconds, got ${JSON.stringify(maxAge)}.`,
    );
  }
  return Object.freeze({ claim, maxAge, validate });
}

function finiteBound(claim: string, bound: number): number {
  if (typeof bound !== 'number' || !Number.isFinite(bound)) {
    throw invalid(`the bound of '${claim}' must be a finite number, got ${JSON.stringify(bound)}.`);
  }
  return bound;
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const show = (value: unknown) => JSON.stringify(value);

/**
 * Ready validators for `@VerifySession({ claims })` and `SessionService.getSession(..., { claims })`.
 * A claim is a key of the user's JWT payload; a failure answers 403 `INVALID_CLAIM` with
 * `claimValidationErrors: [{ claim, reason }]`.
 * @example
 * ```ts
 * @VerifySession({ claims: [SessionClaims.includes('roles', 'admin', { maxAge: 300 })] })
 * ```
 * @throws SessionError `GENERAL_ERROR` at start-up for a bad argument (empty claim, bad bound or maxAge).
 */
export const SessionClaims = {
  /** The claim equals `expected` (JSON equality: objects and arrays compared by content). */
  equals(claim: string, expected: unknown, options?: ClaimValidatorOptions): SessionClaimValidator {
    return validator(claim, options, (value) =>
      jsonEquals(value, expected) ? undefined : `must equal ${show(expected)}`,
    );
  },

  /** The claim is an array that contains `element` (JSON equality). */
  includes(claim: string, element: unknown, options?: ClaimValidatorOptions): SessionClaimValidator {
    return validator(claim, options, (value) =>
      Array.isArray(value) && value.some((item) => jsonEquals(item, element))
        ? undefined
        : `must include ${show(element)}`,
    );
  },

  /** The claim is present and not `null`. */
  exists(claim: string, options?: ClaimValidatorOptions): SessionClaimValidator {
    return validator(claim, options, (value) =>
      value === undefined || value === null ? 'is missing' : undefined,
    );
  },

  /** The claim is a number `>= min`. */
  atLeast(claim: string, min: number, options?: ClaimValidatorOptions): SessionClaimValidator {
    const bound = finiteBound(claim, min);
    return validator(claim, options, (value) =>
      isNumber(value) && value >= bound ? undefined : `must be a number of at least ${bound}`,
    );
  },

  /** The claim is a number `<= max`. */
  atMost(claim: string, max: number, options?: ClaimValidatorOptions): SessionClaimValidator {
    const bound = finiteBound(claim, max);
    return validator(claim, options, (value) =>
      isNumber(value) && value <= bound ? undefined : `must be a number of at most ${bound}`,
    );
  },

  /**
   * `predicate(value)` is true (`value` is `undefined` when the claim is absent); `reason` is what the
   * client gets otherwise.
   */
  check(
    claim: string,
    predicate: (value: unknown) => boolean,
    reason: string,
    options?: ClaimValidatorOptions,
  ): SessionClaimValidator {
    if (typeof predicate !== 'function') throw invalid(`check('${claim}') needs a predicate function.`);
    return validator(claim, options, (value) => (predicate(value) === true ? undefined : String(reason)));
  },
};

/** The `claims` option of `@VerifySession()` and `SessionService.getSession`. */
export interface ClaimsOption {
  /**
   * Validators the session must pass (all of them), built with {@link SessionClaims}. On a route they
   * add to the controller's. A failure answers 403 `INVALID_CLAIM`; cookies are never cleared. They
   * run on a session: with `sessionRequired: false`, a request carrying none is not checked.
   * @default [] (no claim checked, no extra work)
   */
  claims?: readonly SessionClaimValidator[];
}

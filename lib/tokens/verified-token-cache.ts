import type { AccessTokenClaims, AccessTokenKey } from './access-token.js';

/** A token this instance verified: its claims and how long that verification holds. */
export interface VerifiedToken {
  claims: AccessTokenClaims;
  /** The key that verified it; the entry dies with the key. */
  key: AccessTokenKey;
  /** Epoch ms until which the token passes `exp` (with clock tolerance) and its key verifies. */
  validUntil: number;
  /** The anti-csrf token its session generation expects, derived on first need. */
  antiCsrf?: string;
  /** What `getSession` answers for it: built once, frozen, shared by every request carrying it. */
  result: {
    readonly session: {
      readonly handle: string;
      readonly userId: string | number;
      readonly jwtPayload: unknown;
    };
  };
}

/**
 * Tokens this instance already verified, keyed by the exact token string, so a token costs one
 * signature check and then a map lookup. Only successes are kept (a JWS has several accepted
 * encodings, so a deny list would be unsound), never past `exp` or the key's life; the oldest entry
 * goes first when full. Losing it costs only speed.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(private readonly capacity: number) {}

  get(token: string, now: number): VerifiedToken | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (now >= entry.validUntil) {
      this.entries.delete(token);
      return undefined;
    }
    return entry;
  }

  set(token: string, entry: VerifiedToken): void {
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(token, entry);
  }

  get size(): number {
    return this.entries.size;
  }
}

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
      readonly actor?: { readonly sub: string };
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
  /**
   * Insertion order as a ring of keys: evicting through `entries.keys().next()` would walk the
   * holes earlier deletions leave at the front of the map, on every insert of a full cache.
   */
  private readonly order: (string | undefined)[];
  private next = 0;

  constructor(private readonly capacity: number) {
    this.order = Array.from({ length: capacity }, () => undefined);
  }

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
    const evicted = this.order[this.next];
    if (evicted !== undefined) this.entries.delete(evicted);
    this.order[this.next] = token;
    this.next = (this.next + 1) % this.capacity;
    this.entries.set(token, entry);
  }

  get size(): number {
    return this.entries.size;
  }
}

import type { JWK } from 'jose';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { AccessTokenAlgorithm } from '../interfaces/session-options.interface.js';
import type { AccessTokenKey } from './access-token.js';
import { importRingKey, publishedJwks, type KeyRing, type RingKey } from './key-ring.js';

const ALWAYS = {
  usableFrom: 0,
  signUntil: Number.POSITIVE_INFINITY,
  verifyUntil: Number.POSITIVE_INFINITY,
};

/**
 * The static JWKs of the configuration (`accessToken.signingKey.keys`): the first signs, all
 * verify, for ever. The configuration rotates them, and `resolveSessionOptions` has checked them.
 */
export class StaticKeyRing implements KeyRing {
  private constructor(
    private readonly keys: ReadonlyMap<string, RingKey>,
    private readonly signer: RingKey,
  ) {}

  /** Imports the keys; each has a unique `kid` and the given algorithm (the options checked them). */
  static async create(algorithm: AccessTokenAlgorithm, jwks: readonly JWK[]): Promise<StaticKeyRing> {
    const keys = new Map<string, RingKey>();
    for (const jwk of jwks) {
      const kid = String(jwk.kid);
      keys.set(kid, await importRingKey(jwk, kid, algorithm, ALWAYS));
    }
    return new StaticKeyRing(keys, keys.get(String(jwks[0].kid))!);
  }

  async signingKey(): Promise<AccessTokenKey> {
    return this.signer;
  }

  async verificationKey(kid: string): Promise<AccessTokenKey | undefined> {
    return this.keys.get(kid);
  }

  couldHaveMadeKeyId(kid: string): boolean {
    return this.keys.has(kid);
  }

  cachedKey(kid: string): AccessTokenKey | undefined {
    return this.keys.get(kid);
  }

  jwks(): { keys: JWK[] } {
    return publishedJwks(this.keys.values(), 0);
  }

  async rotate(): Promise<string> {
    throw new SessionError(SessionError.GENERAL_ERROR, Messages.staticKeysNotRotatable);
  }

  isStale(): boolean {
    return false;
  }

  reloadIfStale(): undefined {
    return undefined;
  }
}

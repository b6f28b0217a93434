import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type KeyObject } from 'jose';
import { createHmac, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import type { AccessTokenAlgorithm } from '../interfaces/session-options.interface.js';
import type { AccessTokenKey } from './access-token.js';
import type { SessionClock } from './clock.js';
import { constantTimeEqual, open, randomHex, seal } from './secrets.js';

/** A signing key as the database keeps it: its material sealed under the key-ring sub-key. */
export interface StoredSigningKey {
  kid: string;
  algorithm: string;
  /** The private JWK, sealed (AES-256-GCM) and bound to `kid` and `algorithm`. */
  material: string;
  createdAt: number;
  /** From when it may sign; it is published (verifies) before that. */
  usableFrom: number;
  /** Until when it may sign. */
  signUntil: number;
  /** Until when it verifies: its last token's expiry. */
  verifyUntil: number;
}

/** What the key ring needs from storage. */
export interface SigningKeyStore {
  /** Keys that still verify at `now`. */
  loadSigningKeys(now: number): Promise<StoredSigningKey[]>;
  insertSigningKey(key: StoredSigningKey): Promise<void>;
  /** Ends signing (and bounds verifying) of the given keys. */
  retireSigningKeys(kids: string[], signUntil: number, verifyUntil: number): Promise<void>;
}

/** Timings of the ring, in milliseconds. */
export interface KeyRingTimings {
  /** How long a key signs. */
  updateInterval: number;
  /** How long a token lives after its key stops signing (access validity + clock tolerance). */
  tokenLifetime: number;
  /** Periodic reload of the ring from storage. */
  reloadInterval: number;
  /** Minimum time between reloads caused by an unknown `kid`. */
  unknownKidCooldown: number;
}

/**
 * Default reload cadence: every instance sees a new key well before it signs, and a key retired by
 * `rotateSigningKeys({ immediately: true })` on another instance stops verifying here at the first
 * verification after this long (which reloads the ring before it checks the token).
 */
export const DEFAULT_RING_RELOAD_INTERVAL_MS = 60_000;
export const DEFAULT_UNKNOWN_KID_COOLDOWN_MS = 10_000;

interface RingKey extends AccessTokenKey {
  usableFrom: number;
  signUntil: number;
  verifyUntil: number;
  /** Public JWK for asymmetric keys. */
  publicJwk?: JWK;
}

const ASYMMETRIC_KTY = new Set(['EC', 'OKP', 'RSA']);
const RING_KID = /^[0-9a-f]{32}$/;
const MAX_REMEMBERED_MISSING_KIDS = 1024;
const MIN_HMAC_BYTES = 32;
const MIN_RSA_BITS = 2048;

/** Thrown for unusable static keys, with a message that says how to fix them. */
export class SigningKeyConfigError extends Error {}

async function createKeyMaterial(algorithm: AccessTokenAlgorithm): Promise<JWK> {
  if (algorithm === 'HS256') {
    return { kty: 'oct', k: randomBytes(32).toString('base64url') };
  }
  const options = algorithm === 'RS256' ? { extractable: true, modulusLength: 2048 } : { extractable: true };
  const { privateKey } = await generateKeyPair(algorithm, options);
  return exportJWK(privateKey);
}

function publicJwkOf(jwk: JWK, kid: string, algorithm: string): JWK | undefined {
  if (!ASYMMETRIC_KTY.has(String(jwk.kty))) return undefined;
  const publicKey = createPublicKey({ key: jwk as never, format: 'jwk' });
  return { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: algorithm, use: 'sig' };
}

type KeyMaterial = CryptoKey | KeyObject | Uint8Array;

/**
 * Base64url characters of the key's signatures: HMAC-SHA-256 32 bytes, P-256 and Ed25519 64,
 * RSA the modulus length (RFC 7518 §3.2-3.4, RFC 8037 §3.1).
 */
function signatureLengthOf(jwk: JWK): number {
  const bytes =
    jwk.kty === 'RSA' ? Buffer.from(String(jwk.n), 'base64url').length : jwk.kty === 'oct' ? 32 : 64;
  return Math.ceil((bytes * 4) / 3);
}

/** Imports a private (or shared) JWK as a signing key and its verifying counterpart. */
async function importKeyPair(
  jwk: JWK,
  algorithm: string,
): Promise<{ key: KeyMaterial; verifyKey: KeyMaterial; signatureLength: number }> {
  if (jwk.kty === 'oct') {
    // importJWK hands back raw bytes for HMAC, which jose would import again on every call.
    if (algorithm !== 'HS256' || typeof jwk.k !== 'string') throw new TypeError('not an HS256 key');
    const bytes = Buffer.from(jwk.k, 'base64url');
    const key = await webcrypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ]);
    return { key, verifyKey: key, signatureLength: signatureLengthOf(jwk) };
  }
  const key = await importJWK({ ...jwk, alg: algorithm }, algorithm);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...publicPart } = jwk;
  return {
    key,
    verifyKey: await importJWK({ ...publicPart, alg: algorithm }, algorithm),
    signatureLength: signatureLengthOf(jwk),
  };
}

/**
 * The signing keys of one engine instance: a cache of the database ring (or the static keys of the
 * configuration), reloaded periodically and on an unknown `kid` at most once per cooldown.
 */
export class KeyRing {
  private keys = new Map<string, RingKey>();
  private signer: RingKey | undefined;
  private loadedAt = Number.NEGATIVE_INFINITY;
  /** When a verification next reloads the ring first (a failed reload waits one cooldown). */
  private nextReloadAt = Number.NEGATIVE_INFINITY;
  /** Genuine but missing key ids, and when they may trigger a reload again. */
  private readonly missingKids = new Map<string, number>();
  private reloading: Promise<void> | undefined;

  private constructor(
    private readonly algorithm: AccessTokenAlgorithm,
    private readonly store: SigningKeyStore | undefined,
    private readonly sealKey: Buffer,
    /** Authenticates the ids of ring keys, so a forged `kid` never reaches the database. */
    private readonly kidKey: Buffer,
    private readonly clock: SessionClock,
    private readonly timings: KeyRingTimings,
  ) {}

  /** A ring kept in the database, shared by every instance. */
  static async dynamic(
    algorithm: AccessTokenAlgorithm,
    store: SigningKeyStore,
    keys: { seal: Buffer; kid: Buffer },
    clock: SessionClock,
    timings: KeyRingTimings,
  ): Promise<KeyRing> {
    const ring = new KeyRing(algorithm, store, keys.seal, keys.kid, clock, timings);
    await ring.reload();
    return ring;
  }

  /** A ring of static JWKs from the configuration: the first signs, all verify. */
  static async fromStaticKeys(
    algorithm: AccessTokenAlgorithm,
    jwks: JWK[],
    clock: SessionClock,
    timings: KeyRingTimings,
  ): Promise<KeyRing> {
    const ring = new KeyRing(algorithm, undefined, Buffer.alloc(0), Buffer.alloc(0), clock, timings);
    if (!Array.isArray(jwks) || jwks.length === 0) {
      throw new SigningKeyConfigError('accessToken.signingKey.keys must be a non-empty array of JWKs.');
    }
    for (const [index, jwk] of jwks.entries()) {
      const key = await ring.importStaticKey(jwk, index);
      if (ring.keys.has(key.kid)) {
        throw new SigningKeyConfigError(`accessToken.signingKey.keys has two keys with kid "${key.kid}".`);
      }
      ring.keys.set(key.kid, key);
    }
    ring.signer = ring.keys.values().next().value;
    return ring;
  }

  private async importStaticKey(jwk: JWK, index: number): Promise<RingKey> {
    const where = `accessToken.signingKey.keys[${index}]`;
    if (!jwk || typeof jwk !== 'object' || typeof jwk.kid !== 'string' || jwk.kid.length === 0) {
      throw new SigningKeyConfigError(`${where} needs a "kid" (a short unique string).`);
    }
    const algorithm = jwk.alg ?? this.algorithm;
    if (jwk.kty === 'oct') {
      const bytes = typeof jwk.k === 'string' ? Buffer.from(jwk.k, 'base64url').length : 0;
      if (bytes < MIN_HMAC_BYTES) {
        throw new SigningKeyConfigError(
          `${where} is an HMAC key of ${bytes} bytes; use at least ${MIN_HMAC_BYTES} random bytes ` +
            '(e.g. `openssl rand -base64 32 | tr "+/" "-_" | tr -d =` as "k").',
        );
      }
    } else if (jwk.kty === 'RSA') {
      const bits = typeof jwk.n === 'string' ? Buffer.from(jwk.n, 'base64url').length * 8 : 0;
      if (bits < MIN_RSA_BITS) {
        throw new SigningKeyConfigError(
          `${where} is an RSA key of ${bits} bits; use at least ${MIN_RSA_BITS} bits.`,
        );
      }
    }
    if (index === 0 && ASYMMETRIC_KTY.has(String(jwk.kty)) && typeof jwk.d !== 'string') {
      throw new SigningKeyConfigError(
        `${where} is a public key, but the first key signs: put a private JWK (with "d") first; public keys may follow to verify.`,
      );
    }
    if (algorithm !== this.algorithm) {
      throw new SigningKeyConfigError(
        `${where} has alg "${algorithm}" but accessToken.algorithm is "${this.algorithm}"; make them agree.`,
      );
    }
    let pair: Awaited<ReturnType<typeof importKeyPair>>;
    try {
      pair = await importKeyPair(jwk, algorithm);
    } catch (error) {
      throw new SigningKeyConfigError(
        `${where} is not a usable ${algorithm} private JWK: ${(error as Error).message}`,
      );
    }
    const forever = Number.POSITIVE_INFINITY;
    return {
      kid: jwk.kid,
      algorithm,
      ...pair,
      usableFrom: 0,
      signUntil: forever,
      verifyUntil: forever,
      publicJwk: publicJwkOf(jwk, jwk.kid, algorithm),
    };
  }

  /** The key that signs now, creating or pre-publishing keys in the ring as needed. */
  async signingKey(): Promise<AccessTokenKey> {
    const now = this.clock.now();
    // Signing already waits on the database, so it never signs from a stale view of the ring.
    if (this.store && now - this.loadedAt >= this.timings.reloadInterval) {
      await this.reload().catch(() => undefined);
    }
    if (this.signer && this.signer.usableFrom <= now && now < this.signer.signUntil) {
      if (this.store && this.needsSuccessor(now)) void this.publishSuccessor().catch(() => undefined);
      return this.signer;
    }
    if (!this.store) throw new Error('No static signing key is usable.');
    await this.reload();
    if (!this.signer) {
      await this.insertKey(now, now + this.timings.updateInterval);
      await this.reload();
    }
    if (!this.signer) throw new Error('The signing-key ring has no usable key.');
    return this.signer;
  }

  /**
   * The key a token's `kid` names. An unknown `kid` reloads the ring only if this ring could have
   * made it (its tag checks out), and each such id at most once per cooldown.
   */
  async verificationKey(kid: string): Promise<AccessTokenKey | undefined> {
    const now = this.clock.now();
    const known = this.keys.get(kid);
    if (known) return known.verifyUntil > now ? known : undefined;
    if (!this.store || !this.isRingKeyId(kid)) return undefined;
    const retryAt = this.missingKids.get(kid);
    if (retryAt !== undefined && now < retryAt) return undefined;
    await this.reload();
    const found = this.keys.get(kid);
    if (found) return found.verifyUntil > now ? found : undefined;
    // A genuine id of a key gone from the ring (expired, deleted): remember it for a while.
    if (this.missingKids.size >= MAX_REMEMBERED_MISSING_KIDS) this.missingKids.clear();
    this.missingKids.set(kid, now + this.timings.unknownKidCooldown);
    return undefined;
  }

  /**
   * Whether this ring could have made a key id, without storage: a key it holds, or (for a database
   * ring) an id whose HMAC tag checks out.
   */
  couldHaveMadeKeyId(kid: string): boolean {
    return this.keys.has(kid) || (this.store !== undefined && this.isRingKeyId(kid));
  }

  /** Synchronous lookup of a cached key; the hot path's first try. */
  cachedKey(kid: string): AccessTokenKey | undefined {
    return this.keys.get(kid);
  }

  /** Public keys that still verify, as a JWKS document (empty for HMAC). */
  jwks(): { keys: JWK[] } {
    const now = this.clock.now();
    const keys: JWK[] = [];
    for (const key of this.keys.values()) {
      if (key.publicJwk && key.verifyUntil > now) keys.push(key.publicJwk);
    }
    return { keys };
  }

  /**
   * Publishes a new key and retires the current one. The new key signs after one reload interval,
   * when every instance has seen it, and the old one verifies until its last token has expired.
   * `immediately` is the answer to a leaked key: the new key signs at once and every other key of
   * the ring stops verifying at once here (the verified-token cache with it, as its entries die
   * with their key) and on other instances at their next reload (within one reload interval).
   */
  async rotate({ immediately = false } = {}): Promise<string> {
    if (!this.store) {
      throw new Error('Static signing keys are rotated in the configuration, not with rotateSigningKeys().');
    }
    await this.reload();
    const now = this.clock.now();
    if (immediately) {
      const kid = await this.insertKey(now, now + this.timings.updateInterval);
      // A reload may have run meanwhile: never retire the new key.
      const retired = [...this.keys.values()].filter((key) => key.kid !== kid);
      // Stop trusting them here first, should the writes below fail half-way.
      for (const key of retired) {
        key.signUntil = Math.min(key.signUntil, now);
        key.verifyUntil = now;
        this.keys.delete(key.kid);
      }
      this.signer = undefined;
      if (retired.length > 0) {
        await this.store.retireSigningKeys(
          retired.map((key) => key.kid),
          now,
          now,
        );
      }
      // A read that began before the retirement committed would bring the keys back.
      await this.reloading?.catch(() => undefined);
      await this.reload();
      return kid;
    }
    const usableFrom = now + this.timings.reloadInterval;
    const kid = await this.insertKey(usableFrom, usableFrom + this.timings.updateInterval);
    const current = [...this.keys.values()].filter((key) => key.signUntil > usableFrom).map((key) => key.kid);
    if (current.length > 0) {
      await this.store.retireSigningKeys(current, usableFrom, usableFrom + this.verifyMargin);
    }
    await this.reload();
    return kid;
  }

  /** Reads the ring from storage; concurrent callers share one read. */
  reload(): Promise<void> {
    this.reloading ??= this.readRing().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** Whether the cached ring is due for a reload before it verifies again (a dynamic ring only). */
  isStale(now: number = this.clock.now()): boolean {
    return this.store !== undefined && now >= this.nextReloadAt;
  }

  /**
   * Reloads a ring that is due ({@link isStale}), so a key retired elsewhere stops verifying here
   * within one reload interval; `undefined` when it is not due. A failed reload keeps the cached
   * ring and is retried after the unknown-kid cooldown, so an outage delays one request per
   * cooldown, not every request.
   */
  reloadIfStale(): Promise<void> | undefined {
    const now = this.clock.now();
    if (!this.isStale(now)) return undefined;
    this.nextReloadAt = now + this.timings.unknownKidCooldown;
    return this.reload();
  }

  private async readRing(): Promise<void> {
    if (!this.store) return;
    const now = this.clock.now();
    const rows = await this.store.loadSigningKeys(now);
    const keys = new Map<string, RingKey>();
    for (const row of rows) {
      const key = this.keys.get(row.kid) ?? (await this.openStoredKey(row));
      if (!key) continue;
      key.signUntil = row.signUntil;
      key.verifyUntil = row.verifyUntil;
      keys.set(row.kid, key);
    }
    this.keys = keys;
    this.signer = pickSigner(keys.values(), this.algorithm, now);
    this.loadedAt = now;
    this.nextReloadAt = now + this.timings.reloadInterval;
  }

  private async openStoredKey(row: StoredSigningKey): Promise<RingKey | undefined> {
    const material = open(this.sealKey, row.material, `${row.kid}.${row.algorithm}`);
    // A key sealed under another secret is unusable here: skip it, a new one will be made.
    if (material === undefined) return undefined;
    const jwk = JSON.parse(material) as JWK;
    return {
      kid: row.kid,
      algorithm: row.algorithm,
      ...(await importKeyPair(jwk, row.algorithm)),
      usableFrom: row.usableFrom,
      signUntil: row.signUntil,
      verifyUntil: row.verifyUntil,
      publicJwk: publicJwkOf(jwk, row.kid, row.algorithm),
    };
  }

  /**
   * How long a key verifies after it stops signing: its last token's lifetime, plus one reload
   * interval, since another instance may sign with it until it reloads the ring.
   */
  private get verifyMargin(): number {
    return this.timings.tokenLifetime + this.timings.reloadInterval;
  }

  private needsSuccessor(now: number): boolean {
    const signer = this.signer!;
    const lead = Math.min(2 * this.timings.reloadInterval, this.timings.updateInterval / 2);
    if (signer.signUntil - now > lead) return false;
    for (const key of this.keys.values()) {
      if (key.algorithm === this.algorithm && key.usableFrom >= signer.signUntil) return false;
    }
    return true;
  }

  private async publishSuccessor(): Promise<void> {
    const from = this.signer!.signUntil;
    await this.insertKey(from, from + this.timings.updateInterval);
    await this.reload();
  }

  /** `random.tag` as 32 hex characters: 64 random bits and a 64-bit HMAC of them. */
  private newKeyId(): string {
    const random = randomHex(8);
    return random + this.kidTag(random);
  }

  private kidTag(random: string): string {
    return createHmac('sha256', this.kidKey).update(random).digest('hex').slice(0, 16);
  }

  private isRingKeyId(kid: string): boolean {
    return RING_KID.test(kid) && constantTimeEqual(this.kidTag(kid.slice(0, 16)), kid.slice(16));
  }

  private async insertKey(usableFrom: number, signUntil: number): Promise<string> {
    const kid = this.newKeyId();
    const material = await createKeyMaterial(this.algorithm);
    await this.store!.insertSigningKey({
      kid,
      algorithm: this.algorithm,
      material: seal(this.sealKey, JSON.stringify(material), `${kid}.${this.algorithm}`),
      createdAt: this.clock.now(),
      usableFrom,
      signUntil,
      verifyUntil: signUntil + this.verifyMargin,
    });
    return kid;
  }
}

/** Every instance picks the same signer: the usable key that became usable last (ties by kid). */
function pickSigner(keys: Iterable<RingKey>, algorithm: string, now: number): RingKey | undefined {
  let best: RingKey | undefined;
  for (const key of keys) {
    if (key.algorithm !== algorithm || key.usableFrom > now || now >= key.signUntil) continue;
    if (
      !best ||
      key.usableFrom > best.usableFrom ||
      (key.usableFrom === best.usableFrom && key.kid > best.kid)
    ) {
      best = key;
    }
  }
  return best;
}

import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createHmac, randomBytes } from 'node:crypto';
import type { AccessTokenAlgorithm } from '../interfaces/session-options.interface.js';
import type { SigningKeyStore, StoredSigningKey } from '../storage/signing-key-store.js';
import type { AccessTokenKey } from './access-token.js';
import type { SessionClock } from './clock.js';
import { importRingKey, publishedJwks, type KeyRing, type RingKey } from './key-ring.js';
import { constantTimeEqual, open, randomHex, seal } from './secrets.js';

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

const RING_KID = /^[0-9a-f]{32}$/;
const MAX_REMEMBERED_MISSING_KIDS = 1024;

async function createKeyMaterial(algorithm: AccessTokenAlgorithm): Promise<JWK> {
  if (algorithm === 'HS256') {
    return { kty: 'oct', k: randomBytes(32).toString('base64url') };
  }
  const options = algorithm === 'RS256' ? { extractable: true, modulusLength: 2048 } : { extractable: true };
  const { privateKey } = await generateKeyPair(algorithm, options);
  return exportJWK(privateKey);
}

/** Epoch 0 (ms): a time every instance's clock has passed, whatever its offset. */
const EPOCH = 0;

/**
 * The signing keys kept in the database, shared by every instance: a cache of the ring, reloaded
 * periodically and on an unknown `kid` at most once per cooldown.
 */
export class StoredKeyRing implements KeyRing {
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
    private readonly store: SigningKeyStore,
    private readonly sealKey: Buffer,
    /** Authenticates the ids of ring keys, so a forged `kid` never reaches the database. */
    private readonly kidKey: Buffer,
    private readonly clock: SessionClock,
    private readonly timings: KeyRingTimings,
  ) {}

  /** Loads the ring, creating its first key when it has none that signs. */
  static async open(
    algorithm: AccessTokenAlgorithm,
    store: SigningKeyStore,
    keys: { seal: Buffer; kid: Buffer },
    clock: SessionClock,
    timings: KeyRingTimings,
  ): Promise<StoredKeyRing> {
    const ring = new StoredKeyRing(algorithm, store, keys.seal, keys.kid, clock, timings);
    await ring.reload();
    await ring.signingKey();
    return ring;
  }

  /** The key that signs now, creating or pre-publishing keys in the ring as needed. */
  async signingKey(): Promise<AccessTokenKey> {
    const now = this.clock.now();
    // Signing already waits on the database, so it never signs from a stale view of the ring.
    if (now - this.loadedAt >= this.timings.reloadInterval) {
      await this.reload().catch(() => undefined);
    }
    if (this.signer && this.signer.usableFrom <= now && now < this.signer.signUntil) {
      if (this.needsSuccessor(now)) void this.publishSuccessor().catch(() => undefined);
      return this.signer;
    }
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
    if (!this.isRingKeyId(kid)) return undefined;
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

  couldHaveMadeKeyId(kid: string): boolean {
    return this.keys.has(kid) || this.isRingKeyId(kid);
  }

  cachedKey(kid: string): AccessTokenKey | undefined {
    return this.keys.get(kid);
  }

  jwks(): { keys: JWK[] } {
    return publishedJwks(this.keys.values(), this.clock.now());
  }

  /**
   * Publishes a new key and retires the current one. The new key signs after one reload interval,
   * when every instance has seen it, and the old one verifies until its last token has expired.
   * `immediately` is the answer to a leaked key: the new key signs at once and every other key of
   * the ring stops verifying at once here (the verified-token cache with it, as its entries die
   * with their key) and on other instances at their next reload (within one reload interval).
   */
  async rotate({ immediately = false } = {}): Promise<string> {
    await this.reload();
    const now = this.clock.now();
    if (immediately) {
      // Usable and retired as of epoch 0, not as of this host's clock: an instance whose clock lags
      // ours must neither keep the leaked keys nor wait to sign with the new one.
      const kid = await this.insertKey(EPOCH, now + this.timings.updateInterval);
      // A reload may have run meanwhile: never retire the new key.
      const retired = [...this.keys.values()].filter((key) => key.kid !== kid);
      // Stop trusting them here first, should the writes below fail half-way.
      for (const key of retired) {
        key.signUntil = EPOCH;
        key.verifyUntil = EPOCH;
        this.keys.delete(key.kid);
      }
      this.signer = undefined;
      if (retired.length > 0) {
        await this.store.retireSigningKeys(
          retired.map((key) => key.kid),
          EPOCH,
          EPOCH,
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

  isStale(now: number = this.clock.now()): boolean {
    return now >= this.nextReloadAt;
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
    return importRingKey(JSON.parse(material) as JWK, row.kid, row.algorithm, {
      usableFrom: row.usableFrom,
      signUntil: row.signUntil,
      verifyUntil: row.verifyUntil,
    });
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
    await this.store.insertSigningKey({
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

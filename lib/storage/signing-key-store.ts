/** A signing key as the database keeps it: its material sealed under the key-ring sub-key. */
export interface StoredSigningKey {
  kid: string;
  algorithm: string;
  /** The private JWK, sealed (AES-256-GCM) and bound to `kid` and `algorithm`. */
  material: string;
  /** Epoch ms. */
  createdAt: number;
  /** From when it may sign, epoch ms; it is published (verifies) before that. */
  usableFrom: number;
  /** Until when it may sign, epoch ms. */
  signUntil: number;
  /** Until when it verifies, epoch ms: its last token's expiry. */
  verifyUntil: number;
}

/** The storage port of the database key ring; `TypeOrmSessionStore` implements it. */
export interface SigningKeyStore {
  /** Keys that still verify at `now` (epoch ms). */
  loadSigningKeys(now: number): Promise<StoredSigningKey[]>;
  insertSigningKey(key: StoredSigningKey): Promise<void>;
  /** Ends signing (and bounds verifying) of the given keys; times in epoch ms. */
  retireSigningKeys(kids: string[], signUntil: number, verifyUntil: number): Promise<void>;
}

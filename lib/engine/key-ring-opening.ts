import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import type { SigningKeyStore } from '../storage/signing-key-store.js';
import type { SessionClock } from '../tokens/clock.js';
import {
  DEFAULT_RING_RELOAD_INTERVAL_MS,
  DEFAULT_UNKNOWN_KID_COOLDOWN_MS,
  type KeyRing,
} from '../tokens/key-ring.js';
import type { SubKeys } from '../tokens/secrets.js';
import { StaticKeyRing } from '../tokens/static-key-ring.js';
import { StoredKeyRing } from '../tokens/stored-key-ring.js';

const SECOND = 1000;

/**
 * The engine's key ring: the static keys of the options (checked at start-up), or the ring stored in
 * the database, loaded (or made) now. Each store call of a stored ring is bounded on its own (a load
 * says "loaded", an insert "updated").
 */
export async function openKeyRing(
  accessToken: ResolvedSessionOptions['accessToken'],
  signingKeys: SigningKeyStore,
  keys: Pick<SubKeys, 'keyRing' | 'keyId'>,
  clock: SessionClock,
): Promise<KeyRing> {
  if (accessToken.signingKey.keys) {
    return StaticKeyRing.create(accessToken.algorithm, accessToken.signingKey.keys);
  }
  return StoredKeyRing.open(
    accessToken.algorithm,
    signingKeys,
    { seal: keys.keyRing, kid: keys.keyId },
    clock,
    {
      updateInterval: accessToken.signingKey.updateInterval * SECOND,
      tokenLifetime: (accessToken.validity + accessToken.clockTolerance) * SECOND,
      reloadInterval: DEFAULT_RING_RELOAD_INTERVAL_MS,
      unknownKidCooldown: DEFAULT_UNKNOWN_KID_COOLDOWN_MS,
    },
  );
}

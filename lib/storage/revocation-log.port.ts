/**
 * What a revocation-log entry revokes:
 * - `session`: the session `subject` (a handle) is gone (any revoke, theft, a session limit);
 * - `generation`: access tokens of session `subject` older than refresh generation `value` are stale;
 * - `payload-version`: access tokens of session `subject` minted with a payload version below
 *   `value` are stale (a claims change; they must refresh);
 * - `key`: the signing key `subject` (a `kid`) stopped verifying (`rotateSigningKeys({ immediately })`).
 */
export type RevocationKind = 'session' | 'generation' | 'payload-version' | 'key';

/** One row of the revocation log (times in epoch ms on the revoking instance's clock). */
export interface RevocationEntry {
  /** Position in the log (auto-increment); `undefined` before the insert. */
  id?: number;
  kind: RevocationKind;
  /** A session handle, or a key id for `key`. */
  subject: string;
  /** The user key of the session, when known. */
  userKey: string | null;
  /** The minimum generation or payload version (`generation`, `payload-version`); else `null`. */
  value: number | null;
  /** What revoked it, as the `session.revoked` event names it (`revoke`, `revoke-all`, `theft`…). */
  cause: string;
  /** The app's own words (e.g. `'password-changed'`), when given. */
  reason: string | null;
  createdAt: number;
}

/** Receives the entries of each committed revocation, to publish them. */
export type RevocationSink = (entries: RevocationEntry[]) => void;

/**
 * The revocation log as the revocation bus reads it; `TypeOrmRevocationLog` implements it. Writes
 * happen inside the session store's revoking transactions (see {@link TypeOrmRevocationLog.activate}).
 */
export interface RevocationLogReader {
  /** Entries with `id > afterId` and `createdAt > since` (epoch ms), in id order, at most `limit`. */
  read(afterId: number, since: number, limit: number): Promise<RevocationEntry[]>;
  /** Connection settings of the data source (for a LISTEN/NOTIFY connection of its own). */
  connectionSettings(): Record<string, unknown> & { type: string };
  /** Starts writing the log in every revoking transaction; `retention` in ms bounds cleanup. */
  activate(sink: RevocationSink, retention: number): void;
}

/** Injection token of the {@link RevocationLogReader}. */
export const SESSION_REVOCATION_LOG = Symbol('SESSION_REVOCATION_LOG');

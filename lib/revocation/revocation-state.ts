import type { RevocationEntry } from '../storage/revocation-log.js';
import { isRevocationReason } from './revocation-reasons.js';

/** What memory says of an access token (see {@link RevocationState.verdict}). */
export type RevocationVerdict = 'live' | 'revoked' | 'stale' | 'old-payload' | 'retired-key';

/** What the state needs of a verified access token. */
export interface RevocationProbe {
  /** `sid`: the session handle. */
  handle: string;
  /** The refresh generation the token was minted at. */
  generation: number;
  /** The payload version the token was minted with, when tokens carry one. */
  payloadVersion?: number;
  /** The `kid` that signed it. */
  kid: string;
}

interface Remembered {
  /** Until when it is kept, epoch ms on this instance's clock. */
  until: number;
  value: number;
  /** A revoked session's reason, when the revocation kept one (`revocationReasonRetention`). */
  reason?: string;
}

/**
 * The revocations an instance keeps in memory: revoked session handles, per-session minimum
 * generations and payload versions, and retired key ids. Each is kept for `lifetime` ms after this
 * instance learnt of it (the longest an access token that names it can still be accepted), so the
 * memory is bounded by the revocations of one access-token lifetime. Applying an entry twice is a
 * no-op, so replays may overlap.
 */
export class RevocationState {
  private readonly sessions = new Map<string, Remembered>();
  private readonly generations = new Map<string, Remembered>();
  private readonly payloadVersions = new Map<string, Remembered>();
  private readonly keys = new Map<string, Remembered>();
  private nextSweep = 0;

  constructor(
    /** How long an entry is kept, in ms: access-token validity plus clock tolerance. */
    private readonly lifetime: number,
  ) {}

  /** Remembers an entry as of `now` (epoch ms, this instance's clock). */
  apply(entry: RevocationEntry, now: number): void {
    const until = now + this.lifetime;
    const value = entry.value ?? 0;
    // A non-number would turn the kept minimum into NaN, which every token passes.
    if (typeof value !== 'number' || Number.isNaN(value)) return;
    const map =
      entry.kind === 'session'
        ? this.sessions
        : entry.kind === 'generation'
          ? this.generations
          : entry.kind === 'payload-version'
            ? this.payloadVersions
            : entry.kind === 'key'
              ? this.keys
              : undefined;
    if (map === undefined) return; // An entry kind of a newer version: the database read covers it.
    const known = map.get(entry.subject);
    // The first revocation of a session is the one its holder is told of, as the database keeps it.
    const reason = known ? known.reason : isRevocationReason(entry.reason) ? entry.reason : undefined;
    map.set(entry.subject, {
      until: Math.max(until, known?.until ?? 0),
      value: Math.max(value, known?.value ?? 0),
      ...(reason !== undefined && { reason }),
    });
    this.sweep(now);
  }

  /** The reason a remembered revoked session was given, if it kept one. */
  revokedReason(handle: string, now: number): string | undefined {
    return this.kept(this.sessions, handle, now)?.reason;
  }

  /** Whether the token's key, session, generation or payload version was revoked. */
  verdict(probe: RevocationProbe, now: number): RevocationVerdict {
    if (this.kept(this.keys, probe.kid, now)) return 'retired-key';
    if (this.kept(this.sessions, probe.handle, now)) return 'revoked';
    const generation = this.kept(this.generations, probe.handle, now);
    if (generation && probe.generation < generation.value) return 'stale';
    const version = this.kept(this.payloadVersions, probe.handle, now);
    // A token minted before payload versions existed counts as version 0.
    if (version && (probe.payloadVersion ?? 0) < version.value) return 'old-payload';
    return 'live';
  }

  /** Whether the key is retired (a cheap check for every route, not only `checkDatabase` ones). */
  isRetiredKey(kid: string, now: number): boolean {
    return this.kept(this.keys, kid, now) !== undefined;
  }

  /** Entries held (for status and capacity figures). */
  get size(): number {
    return this.sessions.size + this.generations.size + this.payloadVersions.size + this.keys.size;
  }

  private kept(map: Map<string, Remembered>, key: string, now: number): Remembered | undefined {
    const entry = map.get(key);
    return entry !== undefined && entry.until > now ? entry : undefined;
  }

  /** Drops expired entries, at most once per tenth of a lifetime (amortised over applies). */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + Math.max(1000, this.lifetime / 10);
    for (const map of [this.sessions, this.generations, this.payloadVersions, this.keys]) {
      for (const [key, entry] of map) if (entry.until <= now) map.delete(key);
    }
  }
}

import { SessionError } from '../errors/session.error.js';
import type {
  SessionIpPrivacy,
  SessionMetadata,
  SessionMetadataInput,
  SessionMetadataOptions,
} from '../interfaces/session-metadata.interface.js';
import type { SessionListEntry } from '../interfaces/session.interface.js';
import type { SessionActivity, SessionRecord, SessionSummary } from '../storage/session-store.js';
import { METADATA_PROPERTIES } from '../storage/session-row.js';
import { hmac } from '../tokens/secrets.js';
import { normalizeIp, truncateIp } from './ip-address.js';
import { parseDevice } from './user-agent.js';

/** `lastActiveAt` is written by `checkDatabase` requests at most this often, in ms. */
export const LAST_ACTIVE_INTERVAL_MS = 60_000;
export const MAX_USER_AGENT_LENGTH = 512;
export const MAX_LABEL_LENGTH = 128;
export const MAX_LOGIN_METHOD_LENGTH = 64;

/** The metadata columns of a session row. */
export type MetadataColumns = Pick<SessionRecord, (typeof METADATA_PROPERTIES)[number]>;

const NO_METADATA = Object.fromEntries(
  METADATA_PROPERTIES.map((property) => [property, null]),
) as MetadataColumns;

/** At most `max` characters (code points: never half an emoji). */
function clip(value: string, max: number): string {
  return value.length <= max ? value : Array.from(value).slice(0, max).join('');
}

function optionalText(name: string, value: unknown, max: number, cut: boolean): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || (!cut && Array.from(value).length > max)) {
    throw new SessionError(
      SessionError.GENERAL_ERROR,
      `metadata.${name} must be a string of at most ${max} characters.`,
    );
  }
  return value === '' ? null : clip(value, max);
}

/**
 * Turns what the caller knows about a client into the metadata columns of its session, as the
 * `sessionMetadata` option says (`false`: nothing is kept). Framework-free: the engine calls it.
 */
export class SessionMetadataCapture {
  private readonly ipPrivacy: SessionIpPrivacy;
  /** The last user agent parsed: a refresh retried after a lost race, or a busy client, parses once. */
  private lastParsed: { userAgent: string; device: ReturnType<typeof parseDevice> } | undefined;

  constructor(
    private readonly options: false | Required<SessionMetadataOptions>,
    /** The HKDF sub-key of the `'hashed'` IPs. */
    private readonly ipKey: Buffer,
  ) {
    this.ipPrivacy = options ? options.ip : 'none';
  }

  /** Whether any metadata is captured. */
  get enabled(): boolean {
    return this.options !== false;
  }

  /**
   * The metadata columns of a new session.
   * @throws SessionError `GENERAL_ERROR` for a `label` or `loginMethod` that is not a string, or a
   * `label` longer than 128 characters.
   */
  async atCreate(input: SessionMetadataInput = {}, now: number): Promise<MetadataColumns> {
    if (!this.enabled) return NO_METADATA;
    const label = optionalText('label', input.label, MAX_LABEL_LENGTH, false);
    const loginMethod =
      optionalText('loginMethod', input.loginMethod, MAX_LOGIN_METHOD_LENGTH, true) ?? 'direct';
    return { ...(await this.activity(input, undefined, now)), loginMethod, label } as MetadataColumns;
  }

  /**
   * What a refresh updates: IP, user agent (parsed again only when it changed) and `lastActiveAt`;
   * nothing when capture is off.
   */
  async atRefresh(
    input: SessionMetadataInput = {},
    stored: Pick<SessionRecord, 'userAgent'>,
    now: number,
  ): Promise<SessionActivity> {
    if (!this.enabled) return {};
    return this.activity(input, stored.userAgent, now);
  }

  /** Whether a `checkDatabase` request should record activity (at most once a minute). */
  touchDue(lastActiveAt: number | null, now: number): boolean {
    return this.enabled && (lastActiveAt === null || now - lastActiveAt >= LAST_ACTIVE_INTERVAL_MS);
  }

  private async activity(
    input: SessionMetadataInput,
    storedUserAgent: string | null | undefined,
    now: number,
  ): Promise<Required<SessionActivity>> {
    const userAgent =
      typeof input.userAgent === 'string' && input.userAgent !== ''
        ? clip(input.userAgent, MAX_USER_AGENT_LENGTH)
        : null;
    const device =
      userAgent === null || userAgent === storedUserAgent ? undefined : await this.parse(userAgent);
    // A part a new user agent does not tell is stored as '' (read back as null): a refresh's null
    // would keep the previous device's part.
    const part = (value: string | null | undefined) => (device === undefined ? null : (value ?? ''));
    return {
      ip: this.keptIp(input.ip),
      userAgent,
      deviceBrowser: part(device?.browser),
      deviceOs: part(device?.os),
      deviceType: part(device?.type),
      lastActiveAt: now,
    };
  }

  private parse(userAgent: string): ReturnType<typeof parseDevice> {
    if (this.lastParsed?.userAgent !== userAgent) {
      this.lastParsed = { userAgent, device: parseDevice(userAgent) };
    }
    return this.lastParsed.device;
  }

  private keptIp(value: unknown): string | null {
    if (this.ipPrivacy === 'none') return null;
    const address = normalizeIp(value);
    if (address === undefined) return null;
    if (this.ipPrivacy === 'truncated') return truncateIp(address);
    if (this.ipPrivacy === 'hashed') return hmac(this.ipKey, address);
    return address;
  }
}

/** The public metadata of a row (or a listed summary). */
export function sessionMetadataOf(row: MetadataColumns): SessionMetadata {
  const known = (value: string | null) => (value === '' ? null : value);
  const [deviceBrowser, deviceOs, deviceType] = [row.deviceBrowser, row.deviceOs, row.deviceType].map(known);
  const device =
    row.userAgent === null && deviceBrowser === null && deviceOs === null && deviceType === null
      ? null
      : { browser: deviceBrowser, os: deviceOs, type: deviceType };
  return {
    ip: row.ip,
    userAgent: row.userAgent,
    device,
    lastActiveAt: row.lastActiveAt,
    loginMethod: row.loginMethod,
    label: row.label,
  };
}

/** A row's metadata after a refresh wrote `activity` (a `null` there kept the stored value). */
export function withActivity<T extends MetadataColumns>(row: T, activity: SessionActivity): T {
  const merged = { ...row };
  for (const [key, value] of Object.entries(activity)) {
    if (value !== null && value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}

/** A listed session as `listSessionsForUser` answers it; `current: true` on `currentHandle`'s. */
export function sessionListEntry(summary: SessionSummary, currentHandle?: string): SessionListEntry {
  const entry: SessionListEntry = {
    handle: summary.handle,
    createdAt: summary.createdAt,
    lastRefreshedAt: summary.lastRefreshedAt,
    expiresAt: summary.expiresAt,
    ...sessionMetadataOf(summary),
  };
  if (currentHandle !== undefined && summary.handle === currentHandle) entry.current = true;
  return entry;
}

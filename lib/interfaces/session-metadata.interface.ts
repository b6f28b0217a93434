/**
 * How the client's IP is kept with a session:
 * - `'full'`: the address as the request gives it;
 * - `'truncated'`: its network only, IPv4 /24 (`203.0.113.0`) and IPv6 /48 (`2001:db8:85a3::`), enough
 *   to tell "home" from "abroad" but not a household;
 * - `'hashed'`: an HMAC-SHA256 of the full address (base64url, 43 characters) under a key derived
 *   from `secret`, so equal addresses compare equal yet a database dump cannot reverse them;
 * - `'none'`: not kept.
 */
export type SessionIpPrivacy = 'full' | 'truncated' | 'hashed' | 'none';

/** What session metadata to capture (the `sessionMetadata` option). */
export interface SessionMetadataOptions {
  /**
   * How the client's IP is kept (see {@link SessionIpPrivacy}).
   * @default 'truncated'
   */
  ip?: SessionIpPrivacy;
}

/** The device a session was last used from, parsed from its user agent (each part `null` if unknown). */
export interface SessionDevice {
  /** Browser name and major version, e.g. `'Chrome 131'`, `'Safari 17'`. */
  browser: string | null;
  /** Operating system, e.g. `'Windows 10'`, `'macOS'`, `'Android 14'`, `'iOS 17.5'`. */
  os: string | null;
  /** `'desktop'`, `'mobile'`, `'tablet'`, `'tv'` or `'bot'`. */
  type: string | null;
}

/**
 * What a session records about where it is used. Set at creation, updated at each refresh (IP,
 * user agent, device, `lastActiveAt`); every field is `null` when not captured (`sessionMetadata:
 * false`, a session created before the metadata existed, or a request without the header).
 */
export interface SessionMetadata {
  /** The client's IP as `sessionMetadata.ip` keeps it. */
  ip: string | null;
  /** The `User-Agent` header, at most 512 characters. */
  userAgent: string | null;
  /** Parsed from `userAgent`; `null` without one. */
  device: SessionDevice | null;
  /**
   * Last refresh, or last `checkDatabase` request (written at most once a minute), epoch ms.
   * Requests checked statelessly do not update it.
   */
  lastActiveAt: number | null;
  /** How the session began: the login strategy's name, `'direct'` for `createNewSession`, or `'impersonation'`. */
  loginMethod: string | null;
  /** A name given at login (`LoginOptions.label`), e.g. `'Work laptop'`. */
  label: string | null;
}

/**
 * What the caller knows about the client, for `SessionEngine.createNewSession` (in
 * `options.metadata`) and `SessionEngine.refreshSession`. `SessionService` fills it from the request.
 */
export interface SessionMetadataInput {
  /** The client's IP as seen by the app (after trust-proxy handling); kept as `sessionMetadata.ip` says. */
  ip?: string;
  /** The `User-Agent` header; longer ones are cut to 512 characters. */
  userAgent?: string;
  /**
   * How the session began, at most 64 characters.
   * @default 'direct'
   */
  loginMethod?: string;
  /** A name for the session, at most 128 characters. */
  label?: string;
}

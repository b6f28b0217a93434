import type {
  ResolvedTrustedOrigins,
  TrustedOriginCheck,
  TrustedOrigins,
} from '../interfaces/session-options.interface.js';
import type { HttpRequestLike } from './http-adapter.js';
import { bareOrigin } from './wire.js';

// Which page origins may open a connection authenticated by the session cookies: the server's own,
// and those the app lists in `trustedOrigins`. One rule for socket.io, `ws` and graphql-ws upgrades.

/** No origin trusted besides the server's own. */
export const NO_TRUSTED_ORIGINS: ResolvedTrustedOrigins = Object.freeze({
  origins: Object.freeze([]) as readonly string[],
  checks: Object.freeze([]) as readonly TrustedOriginCheck[],
});

/**
 * Checks the `trustedOrigins` option and normalises its exact origins.
 * @throws what `configError` makes (a `GENERAL_ERROR` at start-up), saying how to fix the entry.
 */
export function resolveTrustedOrigins(
  option: TrustedOrigins | undefined,
  configError: (message: string) => Error,
): ResolvedTrustedOrigins {
  if (option === undefined) return NO_TRUSTED_ORIGINS;
  if (typeof option === 'function') return { origins: [], checks: [option] };
  if (!Array.isArray(option)) {
    throw configError(
      `trustedOrigins must be an array of origins such as ['https://app.example.com'] (or a function ` +
        `(origin) => boolean), got ${shown(option)}.`,
    );
  }
  const origins = new Set<string>();
  const checks: TrustedOriginCheck[] = [];
  for (const [index, entry] of (option as unknown[]).entries()) {
    if (typeof entry === 'function') {
      checks.push(entry as TrustedOriginCheck);
      continue;
    }
    const origin = bareOrigin(entry);
    if (origin === undefined) throw configError(badEntry(`trustedOrigins[${index}]`, entry));
    origins.add(origin);
  }
  return { origins: [...origins], checks };
}

function badEntry(where: string, entry: unknown): string {
  if (typeof entry === 'string' && entry.trim() === '*') {
    return (
      `${where} is '*': trusting every origin would let any web page open a connection with the ` +
      "user's session cookies (cross-site WebSocket hijacking, RFC 6455 §10.2). List the origins of " +
      "your front ends (e.g. 'https://app.example.com'), or pass a function (origin) => boolean for a pattern."
    );
  }
  if (typeof entry === 'string' && entry.includes('*')) {
    return (
      `${where} is ${shown(entry)}: wildcards are not supported in a string. Pass a function ` +
      'instead, e.g. (origin) => /^https:\\/\\/[a-z0-9-]+\\.example\\.com$/.test(origin).'
    );
  }
  return (
    `${where} must be an origin: 'http://' or 'https://', a host and an optional port, with no path, ` +
    `query or user info (e.g. 'https://app.example.com' or 'http://localhost:5173'), got ${shown(entry)}.`
  );
}

function shown(value: unknown): string {
  return typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value));
}

/**
 * Whether a connection authenticated by the session cookies may be opened from the page its
 * `Origin` header names: no `Origin` (not a browser, unless its Fetch Metadata names another
 * site or a `<script>`), the server's own origin (its host and port
 * are the request's `Host`), or a trusted one. An `Origin` that is not an http(s) origin, among
 * them `null` (sandboxed frames, `file:` pages, some redirects), is never trusted: every such page
 * shares that value, so trusting it would trust them all.
 */
export function isAllowedUpgradeOrigin(
  headers: HttpRequestLike['headers'],
  trusted: ResolvedTrustedOrigins,
  httpsOnly = false,
): boolean {
  const origin = first(headers.origin);
  if (origin === undefined) return isOwnFetchWithoutOrigin(headers);
  if (isSameOriginUpgrade(headers, httpsOnly)) return true;
  const normalised = bareOrigin(origin);
  if (normalised === undefined) return false;
  return trusted.origins.includes(normalised) || trusted.checks.some((check) => check(normalised) === true);
}

/**
 * Whether an upgrade carrying cookies comes from the server's own origin: no `Origin` (not a
 * browser) or an `Origin` whose host (and port) is the request's `Host`. `httpsOnly` (`Secure`
 * cookies: the server is reached over TLS, even behind a proxy): an `http:` page on the same host
 * is another origin, one a network attacker can write into; loopback hosts (development) excepted.
 */
export function isSameOriginUpgrade(headers: HttpRequestLike['headers'], httpsOnly = false): boolean {
  const origin = first(headers.origin);
  if (origin === undefined) return true;
  const host = first(headers.host);
  if (typeof origin !== 'string' || typeof host !== 'string') return false;
  try {
    const url = new URL(origin);
    const schemes = httpsOnly && !LOOPBACK.has(url.hostname) ? ['https:'] : ['http:', 'https:'];
    return schemes.includes(url.protocol) && url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * A request without `Origin`: a client that is not a browser, or a browser's own-origin fetch, but
 * also any page's `<script src>` (Engine.IO's JSONP polling). Where the browser sends Fetch Metadata
 * (https://www.w3.org/TR/fetch-metadata/), only its own origin's fetches and upgrades count.
 */
function isOwnFetchWithoutOrigin(headers: HttpRequestLike['headers']): boolean {
  const site = first(headers['sec-fetch-site']);
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const destination = first(headers['sec-fetch-dest']);
  return destination === undefined || destination === 'empty' || destination === 'websocket';
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function first(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

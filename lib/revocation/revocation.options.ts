/** How revocations travel between instances. */
export type RevocationTransportName = 'redis' | 'postgres' | 'nats' | 'polling';

/**
 * The revocation bus (`SessionModule.forRoot({ revocation })`): `checkDatabase` routes and
 * `blacklisting` are answered from memory while the bus is healthy, and from the database (as
 * without it) while it is not. See README, "Running many instances".
 */
export interface RevocationOptions {
  /**
   * `'redis'` (Redis or Valkey pub/sub through `ioredis`), `'postgres'` (LISTEN/NOTIFY on a
   * connection of its own built from the TypeORM data source's settings), `'nats'` (core NATS
   * through `nats`), or `'polling'` (reads the revocation log every `interval`; any database).
   */
  transport: RevocationTransportName;
  /** `redis`/`nats`: the server URL, e.g. `'redis://127.0.0.1:6379'` or `'nats://127.0.0.1:4222'`. */
  url?: string;
  /** `redis`: an existing `ioredis` client to copy the settings of (`duplicate()`), instead of `url`. */
  client?: unknown;
  /**
   * Name of the channel (Redis), subject (NATS) or LISTEN channel (PostgreSQL; letters, digits and
   * `_`); instances of one deployment share it.
   * @default 'session_revocations'
   */
  channel?: string;
  /**
   * The propagation bound, in ms: a bus whose own heartbeat takes longer to come back is treated
   * as down (the instance reads the database per request until it recovers).
   * @default 1000
   */
  bound?: number;
  /**
   * `polling`: how often the log is read, in ms; for the other transports, how often the log is
   * read anyway to catch a revocation whose message was lost.
   * @default 500 for polling, 5000 otherwise
   */
  interval?: number;
}

/** The options with defaults applied. */
export interface ResolvedRevocationOptions {
  transport: RevocationTransportName;
  url: string | undefined;
  client: unknown;
  channel: string;
  bound: number;
  interval: number;
}

const TRANSPORTS: RevocationTransportName[] = ['redis', 'postgres', 'nats', 'polling'];

/**
 * Applies defaults and checks the `revocation` option; `undefined` when it is not set.
 * @throws what `configError` makes (a `GENERAL_ERROR` at start-up), saying what to fix.
 */
export function resolveRevocationOptions(
  options: RevocationOptions | undefined,
  configError: (message: string) => Error,
): ResolvedRevocationOptions | undefined {
  if (options === undefined) return undefined;
  const fail = (message: string) => configError(`revocation.${message}`);
  if (options === null || typeof options !== 'object' || !TRANSPORTS.includes(options.transport)) {
    throw fail(
      `transport must be one of ${TRANSPORTS.map((name) => `'${name}'`).join(', ')}, got ${JSON.stringify(options?.transport)}.`,
    );
  }
  const resolved: ResolvedRevocationOptions = {
    transport: options.transport,
    url: options.url,
    client: options.client,
    channel: options.channel ?? 'session_revocations',
    bound: options.bound ?? 1000,
    interval: options.interval ?? (options.transport === 'polling' ? 500 : 5000),
  };
  if (!/^[A-Za-z_][A-Za-z0-9_.:-]{0,40}$/.test(resolved.channel)) {
    throw fail(
      `channel must be 1 to 41 letters, digits, '_', '.', ':' or '-', got ${JSON.stringify(resolved.channel)}.`,
    );
  }
  if (resolved.transport === 'postgres' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(resolved.channel)) {
    throw fail(`channel must be letters, digits and '_' for the postgres transport (a LISTEN channel).`);
  }
  for (const name of ['bound', 'interval'] as const) {
    const value = resolved[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 50) {
      throw fail(`${name} must be a number of milliseconds of at least 50, got ${JSON.stringify(value)}.`);
    }
  }
  if (
    (resolved.transport === 'redis' && resolved.url === undefined && resolved.client === undefined) ||
    (resolved.transport === 'nats' && resolved.url === undefined)
  ) {
    throw fail(
      `url is required for the ${resolved.transport} transport (e.g. '${resolved.transport}://127.0.0.1:${resolved.transport === 'redis' ? 6379 : 4222}').`,
    );
  }
  return resolved;
}

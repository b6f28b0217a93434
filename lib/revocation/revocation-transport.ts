import type { ResolvedRevocationOptions } from './revocation.options.js';

/** What a transport reports to the monitor. */
export interface TransportHandlers {
  /** A message on the shared channel (revocations of any instance). */
  message(text: string): void;
  /** A heartbeat back on this instance's own channel. */
  echo(text: string): void;
  /** (Re)subscribed: messages sent while away may be lost, so the log must be replayed. */
  up(): void;
  /** The connection is gone. */
  down(cause: string): void;
}

/**
 * A pub/sub connection: one shared channel for revocations, one channel per instance for its
 * heartbeats (a round trip through the broker, so a cut, paused or lagging bus shows as a late echo).
 * Implementations reconnect by themselves and call `up` after each (re)subscription.
 */
export interface RevocationTransport {
  /** Connects in the background; never throws (failures go to `down`). */
  start(handlers: TransportHandlers): void;
  /** @throws when the message cannot be handed to the broker now (the monitor retries). */
  publish(text: string): Promise<void>;
  /** Sends a heartbeat to this instance's own channel. */
  ping(text: string): Promise<void>;
  close(): Promise<void>;
}

/** Settings every transport gets. */
export interface TransportSettings {
  options: ResolvedRevocationOptions;
  /** This instance's id (its heartbeat channel). */
  instanceId: string;
  /** The TypeORM data source options, for the PostgreSQL transport's own connection. */
  database: Record<string, unknown> & { type: string };
}

/**
 * Loads the configured transport's client library only now (dynamic import), so an app without a
 * bus (or with another one) never loads `ioredis`, `nats` or `pg`.
 */
export async function createTransport(settings: TransportSettings): Promise<RevocationTransport> {
  switch (settings.options.transport) {
    case 'redis':
      return new (await import('./transports/redis.transport.js')).RedisTransport(settings);
    case 'nats':
      return new (await import('./transports/nats.transport.js')).NatsTransport(settings);
    case 'postgres':
      return new (await import('./transports/postgres.transport.js')).PostgresTransport(settings);
    default:
      throw new Error(`No transport for ${settings.options.transport}.`);
  }
}

/** A delay that lets the process exit. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

import { Redis } from 'ioredis';
import type { RevocationTransport, TransportHandlers, TransportSettings } from '../revocation-transport.js';

/** Redis or Valkey pub/sub through `ioredis` (loaded only with `transport: 'redis'`). */
export class RedisTransport implements RevocationTransport {
  private readonly subscriber: Redis;
  private readonly publisher: Redis;
  private readonly channel: string;
  private readonly echoChannel: string;

  constructor({ options, instanceId }: TransportSettings) {
    this.channel = options.channel;
    this.echoChannel = `${options.channel}:echo:${instanceId}`;
    // Commands fail at once while disconnected (no offline queue): a failed publish is retried by
    // the monitor, and a lost heartbeat is exactly what marks the bus down.
    const settings = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.bound,
      retryStrategy: (attempt: number) => Math.min(50 * attempt, 1000),
    };
    const existing = options.client as Redis | undefined;
    this.subscriber = existing ? existing.duplicate(settings) : new Redis(options.url!, settings);
    this.publisher = existing ? existing.duplicate(settings) : new Redis(options.url!, settings);
  }

  start(handlers: TransportHandlers): void {
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.channel) handlers.message(text);
      else if (channel === this.echoChannel) handlers.echo(text);
    });
    this.subscriber.on('ready', () => {
      // ioredis re-subscribes on reconnect; subscribing again is harmless and tells us when it is done.
      this.subscriber.subscribe(this.channel, this.echoChannel).then(
        () => handlers.up(),
        (error: Error) => handlers.down(error.message),
      );
    });
    for (const client of [this.subscriber, this.publisher]) {
      // A listener keeps ioredis from printing every reconnection failure.
      client.on('error', (error: Error) => handlers.down(error.message));
      client.on('close', () => handlers.down('connection closed'));
      client.connect().catch((error: Error) => handlers.down(error.message));
    }
  }

  async publish(text: string): Promise<void> {
    await this.publisher.publish(this.channel, text);
  }

  async ping(text: string): Promise<void> {
    await this.publisher.publish(this.echoChannel, text);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }
}

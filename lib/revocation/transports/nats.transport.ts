import { connect, type NatsConnection } from 'nats';
import type { RevocationTransport, TransportHandlers, TransportSettings } from '../revocation-transport.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Core NATS through `nats` (loaded only with `transport: 'nats'`). */
export class NatsTransport implements RevocationTransport {
  private connection: NatsConnection | undefined;
  private closed = false;
  private readonly subject: string;
  private readonly echoSubject: string;

  constructor(private readonly settings: TransportSettings) {
    this.subject = settings.options.channel;
    this.echoSubject = `${settings.options.channel}.echo.${settings.instanceId}`;
  }

  start(handlers: TransportHandlers): void {
    void this.run(handlers);
  }

  private async run(handlers: TransportHandlers): Promise<void> {
    const { options } = this.settings;
    try {
      const connection = await connect({
        servers: options.url,
        name: `nestjs-token-session ${this.settings.instanceId}`,
        waitOnFirstConnect: true,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 100,
        timeout: options.bound,
        pingInterval: Math.max(options.bound, 1000),
      });
      if (this.closed) {
        await connection.close();
        return;
      }
      this.connection = connection;
      connection.subscribe(this.subject, {
        callback: (_, message) => handlers.message(decoder.decode(message.data)),
      });
      connection.subscribe(this.echoSubject, {
        callback: (_, message) => handlers.echo(decoder.decode(message.data)),
      });
      await connection.flush();
      handlers.up();
      for await (const status of connection.status()) {
        if (status.type === 'disconnect' || status.type === 'staleConnection')
          handlers.down(String(status.type));
        // Subscriptions are restored on reconnect; messages published meanwhile may be lost.
        if (status.type === 'reconnect') handlers.up();
      }
    } catch (error) {
      if (!this.closed) handlers.down((error as Error).message);
    }
  }

  async publish(text: string): Promise<void> {
    if (!this.connection || this.connection.isClosed()) throw new Error('NATS is not connected');
    this.connection.publish(this.subject, encoder.encode(text));
  }

  async ping(text: string): Promise<void> {
    this.connection?.publish(this.echoSubject, encoder.encode(text));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connection?.close().catch(() => undefined);
  }
}

import pg from 'pg';
import {
  pause,
  type RevocationTransport,
  type TransportHandlers,
  type TransportSettings,
} from '../revocation-transport.js';

/**
 * PostgreSQL LISTEN/NOTIFY on a connection of its own (loaded only with `transport: 'postgres'`),
 * built from the TypeORM data source's settings; it reconnects after any failure.
 */
export class PostgresTransport implements RevocationTransport {
  private client: pg.Client | undefined;
  private closed = false;
  private readonly channel: string;
  private readonly echoChannel: string;

  constructor(private readonly settings: TransportSettings) {
    this.channel = settings.options.channel;
    // LISTEN channels are identifiers of at most 63 bytes.
    this.echoChannel =
      `${settings.options.channel}_echo_${settings.instanceId.replace(/[^A-Za-z0-9]/g, '')}`.slice(0, 63);
  }

  start(handlers: TransportHandlers): void {
    void this.run(handlers);
  }

  private async run(handlers: TransportHandlers): Promise<void> {
    while (!this.closed) {
      const client = new pg.Client(this.clientConfig());
      try {
        const ended = new Promise<string>((resolve) => {
          client.on('error', (error: Error) => resolve(error.message));
          client.on('end', () => resolve('connection closed'));
        });
        client.on('notification', (notification) => {
          const text = notification.payload ?? '';
          if (notification.channel === this.channel) handlers.message(text);
          else if (notification.channel === this.echoChannel) handlers.echo(text);
        });
        await client.connect();
        await client.query(`LISTEN "${this.channel}"`);
        await client.query(`LISTEN "${this.echoChannel}"`);
        if (this.closed) break;
        this.client = client;
        handlers.up();
        handlers.down(await ended);
      } catch (error) {
        handlers.down((error as Error).message);
      } finally {
        this.client = undefined;
        await client.end().catch(() => undefined);
      }
      if (!this.closed) await pause(200);
    }
  }

  private clientConfig(): pg.ClientConfig {
    const { database: source, options } = this.settings;
    const url = source.url as string | undefined;
    return {
      ...(url ? { connectionString: url } : {}),
      host: source.host as string | undefined,
      port: source.port as number | undefined,
      user: source.username as string | undefined,
      password: source.password as string | undefined,
      database: source.database as string | undefined,
      ssl: source.ssl as pg.ClientConfig['ssl'],
      connectionTimeoutMillis: Math.max(options.bound, 1000),
      keepAlive: true,
    };
  }

  async publish(text: string): Promise<void> {
    if (!this.client) throw new Error('PostgreSQL LISTEN connection is down');
    await this.client.query('SELECT pg_notify($1, $2)', [this.channel, text]);
  }

  async ping(text: string): Promise<void> {
    await this.client?.query('SELECT pg_notify($1, $2)', [this.echoChannel, text]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }
}

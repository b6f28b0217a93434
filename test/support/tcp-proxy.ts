import net from 'node:net';

/**
 * A TCP proxy between the app and a database that a test can cut and restore, to simulate an
 * outage without stopping the shared server.
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private mode: 'open' | 'cut' | 'paused' = 'open';
  /** Bytes held back while paused, delivered in order on restore. */
  private held: [net.Socket, Buffer][] = [];
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Drops every open connection and refuses new ones. */
  cut(): void {
    this.mode = 'cut';
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Keeps connections open (and accepts new ones) but lets no byte through: a database that hangs. */
  pause(): void {
    this.mode = 'paused';
  }

  restore(): void {
    this.mode = 'open';
    for (const [destination, chunk] of this.held.splice(0)) {
      if (!destination.destroyed) destination.write(chunk);
    }
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode === 'cut') {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    for (const [source, destination] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(source);
      source.on('close', () => {
        this.sockets.delete(source);
        destination.destroy();
      });
      source.on('error', () => undefined);
      source.on('data', (chunk: Buffer) => {
        if (this.mode === 'paused') this.held.push([destination, chunk]);
        else destination.write(chunk);
      });
    }
  }
}

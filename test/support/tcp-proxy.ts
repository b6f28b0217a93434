import net from 'node:net';

/** What the proxy does to the traffic between the app and the database. */
export type ProxyMode =
  | { kind: 'open' }
  /** Drops every connection and refuses new ones: the database is down. */
  | { kind: 'cut' }
  /** Keeps connections (and accepts new ones) but lets no byte through: the database hangs. */
  | { kind: 'paused' }
  /** Lets every chunk through `ms` late: the database (or the network to it) is slow. */
  | { kind: 'delayed'; ms: number };

/** One direction of one proxied connection: chunks leave strictly in the order they came. */
class Pipe {
  private readonly queue: { due: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly destination: net.Socket) {}

  push(chunk: Buffer, mode: ProxyMode): void {
    const now = Date.now();
    const last = this.queue.at(-1)?.due ?? 0;
    const due =
      mode.kind === 'paused'
        ? Number.POSITIVE_INFINITY
        : Math.max(now + (mode.kind === 'delayed' ? mode.ms : 0), last);
    this.queue.push({ due, chunk });
    this.pump();
  }

  /** Lets held chunks go now (still behind anything queued before them). */
  release(): void {
    const now = Date.now();
    for (const entry of this.queue) if (entry.due === Number.POSITIVE_INFINITY) entry.due = now;
    this.pump();
  }

  drop(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 && this.queue[0].due <= Date.now()) {
      const { chunk } = this.queue.shift()!;
      if (!this.destination.destroyed) this.destination.write(chunk);
    }
    const next = this.queue[0]?.due;
    if (next !== undefined && Number.isFinite(next)) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, next - Date.now()));
    }
  }
}

/**
 * A TCP proxy between an app and its database that a test can cut, pause and slow down, to
 * simulate outages without stopping the shared server. Bytes of each direction stay in order in
 * every mode (a reordered MySQL packet would be a protocol error, not slowness).
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly pipes = new Set<Pipe>();
  private mode: ProxyMode = { kind: 'open' };
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
    this.mode = { kind: 'cut' };
    for (const pipe of this.pipes) pipe.drop();
    for (const socket of this.sockets) socket.destroy();
  }

  /** Holds every byte (connections stay open); `restore` delivers them in order. */
  pause(): void {
    this.mode = { kind: 'paused' };
  }

  /** Delivers every byte `ms` late, from now on. */
  delay(ms: number): void {
    this.restore();
    this.mode = { kind: 'delayed', ms };
  }

  restore(): void {
    this.mode = { kind: 'open' };
    for (const pipe of this.pipes) pipe.release();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.mode.kind === 'cut') {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    for (const [source, destination] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      const pipe = new Pipe(destination);
      this.pipes.add(pipe);
      this.sockets.add(source);
      source.on('close', () => {
        this.sockets.delete(source);
        this.pipes.delete(pipe);
        pipe.drop();
        destination.destroy();
      });
      source.on('error', () => undefined);
      source.on('data', (chunk: Buffer) => pipe.push(chunk, this.mode));
    }
  }
}

import { io } from 'socket.io-client';
import WebSocket from 'ws';

/** How a live connection ended: the close code and reason (socket.io: the `session.closed` event). */
export interface Closed {
  code: number | undefined;
  reason: string | undefined;
}

/** One real client connection, socket.io or `ws`, driven the same way by the tests. */
export interface TestSocket {
  /** Resolves once connected; rejects with `{ type }` (socket.io `connect_error`) when refused. */
  opened: Promise<void>;
  /** Resolves when the server closes the connection. */
  closed: Promise<Closed>;
  /** Sends an event and resolves with the answer or the `exception` payload. */
  request(event: string, data?: unknown): Promise<any>;
  isOpen(): boolean;
  close(): void;
}

export type SocketKind = 'socket.io' | 'ws';

export interface Credentials {
  accessToken?: string;
  headers?: Record<string, string>;
}

/** Connects a real client to the app's gateway at `/ws`. */
export function connect(kind: SocketKind, port: number, credentials: Credentials = {}): TestSocket {
  return kind === 'socket.io' ? socketIo(port, credentials) : webSocket(port, credentials);
}

function socketIo(port: number, { accessToken, headers }: Credentials): TestSocket {
  const socket = io(`http://127.0.0.1:${port}`, {
    path: '/ws',
    transports: ['websocket'],
    reconnection: false,
    auth: accessToken === undefined ? {} : { accessToken },
    extraHeaders: headers,
  });
  let lastClose: { code?: number; reason?: string } = {};
  socket.on('session.closed', (payload: { code: number; reason: string }) => (lastClose = payload));
  return {
    opened: new Promise((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error: Error & { data?: unknown }) => reject(error.data ?? error));
    }),
    closed: new Promise((resolve) =>
      socket.once('disconnect', () => resolve({ code: lastClose.code, reason: lastClose.reason })),
    ),
    request: (event, data = {}) =>
      new Promise((resolve) => {
        socket.once('exception', resolve);
        socket.emit(event, data, (answer: { event?: string; data?: unknown }) => {
          socket.off('exception', resolve);
          // A gateway handler's `{ event, data }` comes back whole in the ack.
          resolve(answer?.event !== undefined && 'data' in answer ? answer.data : answer);
        });
      }),
    isOpen: () => socket.connected,
    close: () => socket.close(),
  };
}

function webSocket(port: number, { accessToken, headers }: Credentials): TestSocket {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
    headers: { ...headers, ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }) },
  });
  const waiting = new Map<string, (data: unknown) => void>();
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as { event?: string; data?: unknown };
    // A handler's plain return value arrives as it is; events as `{ event, data }`.
    const named = typeof message.event === 'string';
    const waiter = named ? waiting.get(message.event!) : [...waiting.values()][0];
    waiting.clear();
    waiter?.(named ? message.data : message);
  });
  return {
    opened: new Promise((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    closed: new Promise((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    ),
    request: (event, data = {}) =>
      new Promise((resolve) => {
        waiting.set(event === 'session.refresh' ? 'session.refreshed' : event, resolve);
        waiting.set('exception', resolve);
        socket.send(JSON.stringify({ event, data }));
      }),
    isOpen: () => socket.readyState === WebSocket.OPEN,
    close: () => socket.close(),
  };
}

/** Waits `ms` milliseconds (to let a deadline pass; never to assert a duration). */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

import { SessionError } from '../errors/session.error.js';
import { sessionFailure } from './context-errors.js';

// The three kinds of live connection, read structurally (no import of socket.io, ws or graphql-ws):
// how each carries its handshake credentials, the `session.refresh` message, and its close.

/**
 * The message that sends a refreshed access token over a live connection, data `{ accessToken }`.
 * socket.io: `socket.emit('session.refresh', { accessToken }, ack)`; `ws`: the JSON text
 * `{ "event": "session.refresh", "data": { "accessToken": "..." } }`. Answered by
 * `session.refreshed` `{ expiresAt }` (epoch ms; socket.io: the ack) or `exception`
 * `{ status: 'error', type, message, statusCode }`.
 */
export const SESSION_REFRESH_EVENT = 'session.refresh';
/** The answer to an accepted {@link SESSION_REFRESH_EVENT}: `{ expiresAt }`, epoch ms. */
export const SESSION_REFRESHED_EVENT = 'session.refreshed';
/** socket.io: the event `{ code, reason }` sent before the server disconnects a socket whose session ended. */
export const SESSION_CLOSED_EVENT = 'session.closed';

/** The parts of a socket.io `Socket` used here. */
export interface SocketIoSocketLike {
  handshake?: {
    auth?: Record<string, unknown>;
    headers?: Record<string, unknown>;
    query?: Record<string, unknown>;
  };
  disconnected?: boolean;
  /** The Engine.IO connection under the socket. */
  conn?: { readyState?: string };
  emit(event: string, ...args: unknown[]): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  disconnect(close?: boolean): unknown;
}

/** The parts of a `ws` WebSocket used here. */
interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** graphql-ws's server `Context` as its `ws` integration builds it. */
export interface GraphqlWsContextLike {
  connectionParams?: Record<string, unknown>;
  extra: {
    socket: WebSocketLike;
    request?: { headers?: Record<string, unknown> };
    /** Mercurius: read `ping` messages for `{ accessToken }` here (it has no `onPing` hook). */
    refreshOnPing?: boolean;
  };
}

/** One live connection as the service drives it. */
export interface ConnectionTransport {
  /** A token the handshake named explicitly (socket.io `auth: { accessToken }`). */
  handshakeToken: string | undefined;
  /** The upgrade request's headers (Bearer header, cookies). */
  headers: Record<string, unknown> | undefined;
  /** A `ws` connection may authenticate with its first `session.refresh` message. */
  waitsForFirstMessage: boolean;
  close(code: number, reason: string): void;
  closed(): boolean;
}

/** Verifies a refreshed token sent over the connection; resolves to its expiry (epoch ms). */
export type RefreshOver = (accessToken: unknown) => Promise<number>;

const WS_CLOSING = 2;
/** A `session.refresh` message is small; a larger one is not looked at. */
const MAX_REFRESH_MESSAGE_BYTES = 16 * 1024;

function failureOf(error: unknown) {
  return sessionFailure(
    error instanceof SessionError ? error : new SessionError(SessionError.GENERAL_ERROR, 'Refresh failed.'),
  );
}

/**
 * Wires a connection: its close, its `session.refresh` messages, and `onClose` when it ends.
 * @param client a socket.io `Socket`, a `ws` WebSocket, or graphql-ws `extra` (`{ socket, request }`).
 */
export function bindTransport(
  client: object,
  request: { headers?: Record<string, unknown> } | undefined,
  refresh: RefreshOver,
  onClose: () => void,
): ConnectionTransport {
  if ('handshake' in client) return socketIo(client as SocketIoSocketLike, refresh, onClose);
  const socket =
    'socket' in client ? (client as GraphqlWsContextLike['extra']).socket : (client as WebSocketLike);
  const graphqlWs = socket !== client;
  socket.on('close', onClose);
  if (graphqlWs && (client as GraphqlWsContextLike['extra']).refreshOnPing === true) {
    socket.on('message', (data: Buffer | string) => {
      const message = smallJson(data, '"ping"') as { type?: unknown; payload?: { accessToken?: unknown } };
      if (message?.type === 'ping' && typeof message.payload?.accessToken === 'string') {
        refresh(message.payload.accessToken).catch(() => undefined);
      }
    });
  }
  if (!graphqlWs) {
    socket.on('message', (data: Buffer | string) => {
      const message = smallJson(data, SESSION_REFRESH_EVENT) as
        { event?: unknown; data?: { accessToken?: unknown } } | undefined;
      if (message?.event !== SESSION_REFRESH_EVENT) return;
      refresh(message.data?.accessToken).then(
        (expiresAt) => send(socket, SESSION_REFRESHED_EVENT, { expiresAt }),
        (error: unknown) => send(socket, 'exception', failureOf(error)),
      );
    });
  }
  return {
    handshakeToken: undefined,
    headers: (request ?? (graphqlWs ? (client as GraphqlWsContextLike['extra']).request : undefined))
      ?.headers,
    waitsForFirstMessage: !graphqlWs,
    close: (code, reason) => socket.close(code, reason),
    closed: () => socket.readyState >= WS_CLOSING,
  };
}

function socketIo(
  socket: SocketIoSocketLike,
  refresh: RefreshOver,
  onClose: () => void,
): ConnectionTransport {
  let ended = false;
  socket.on('disconnect', () => {
    ended = true;
    onClose();
  });
  socket.on(SESSION_REFRESH_EVENT, (data: { accessToken?: unknown } | undefined, ack?: unknown) => {
    const answer = (event: string, payload: object) =>
      typeof ack === 'function' ? ack(payload) : socket.emit(event, payload);
    refresh(data?.accessToken).then(
      (expiresAt) => answer(SESSION_REFRESHED_EVENT, { expiresAt }),
      (error: unknown) => answer('exception', failureOf(error)),
    );
  });
  const auth = socket.handshake?.auth?.accessToken;
  return {
    handshakeToken: typeof auth === 'string' ? auth : undefined,
    headers: socketIoHeaders(socket),
    waitsForFirstMessage: false,
    close: (code, reason) => {
      socket.emit(SESSION_CLOSED_EVENT, { code, reason });
      socket.disconnect();
    },
    // `disconnected` is also true while a middleware checks the handshake (not connected yet): the
    // socket ended only once it emitted `disconnect` or its Engine.IO connection is gone.
    closed: () => ended || (socket.disconnected === true && socket.conn?.readyState !== 'open'),
  };
}

/**
 * The headers a socket.io handshake is judged by. Engine.IO's JSONP polling (`j` in the query) is a
 * `<script src>` fetch any page can make, without `Origin`: its cookies count as an opaque origin's.
 */
export function socketIoHeaders(socket: SocketIoSocketLike): Record<string, unknown> | undefined {
  const { headers, query } = socket.handshake ?? {};
  return headers !== undefined && query?.j !== undefined ? { ...headers, origin: 'null' } : headers;
}

/** A small JSON message that mentions `marker`, parsed; else `undefined` (not looked at). */
function smallJson(data: Buffer | string, marker: string): unknown {
  // Every message of the connection passes here: a large one is not copied into a string.
  if (data.length > MAX_REFRESH_MESSAGE_BYTES) return undefined;
  const text = String(data);
  if (!text.includes(marker)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function send(socket: WebSocketLike, event: string, data: object): void {
  if (socket.readyState < WS_CLOSING) socket.send(JSON.stringify({ event, data }));
}

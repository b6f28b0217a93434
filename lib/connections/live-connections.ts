/**
 * Close codes of a live connection (WebSocket, socket.io, graphql-ws subscription) whose session
 * ends. In the private range of RFC 6455 §7.4.2 (4000-4999), mirroring HTTP 401 and 403.
 */
export const SESSION_CLOSE_CODES = {
  /** The access token the connection holds expired and no refreshed one was sent over it. */
  TRY_REFRESH_TOKEN: 4401,
  /** The session was revoked (sign-out, "sign out everywhere", an admin, theft detection). */
  UNAUTHORISED: 4403,
} as const;

/** Which sessions' connections to close: by handle, or every session of a user (but one). */
export interface CloseSessionsTarget {
  /** Session handles whose connections close. */
  handles?: readonly string[];
  /** A user whose every connection closes (`userKeyOf` form, see `SessionConnections`). */
  userKey?: string;
  /** With `userKey`: the session whose connections stay open ("sign out everywhere else"). */
  exceptHandle?: string;
  /** Why, sent as the close reason after `UNAUTHORISED: ` (e.g. `revoke-all`). */
  reason: string;
}

/** How a transport closes one connection (a WebSocket close frame, a socket.io event + disconnect). */
export type CloseConnection = (code: number, reason: string) => void;

/** One live connection bound to a session. */
export interface LiveConnection {
  readonly handle: string;
  readonly userKey: string;
  /** When the access token held by the connection expires, epoch ms. */
  expiresAt: number;
  close: CloseConnection;
  timer: NodeJS.Timeout | undefined;
}

/** The longest close reason a WebSocket close frame carries (RFC 6455 §5.5: 125 bytes minus the code). */
const MAX_CLOSE_REASON_BYTES = 123;

/** A close reason cut to what a close frame can carry (never inside a UTF-8 sequence). */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= MAX_CLOSE_REASON_BYTES) return text;
  let cut = text.slice(0, MAX_CLOSE_REASON_BYTES);
  while (Buffer.byteLength(cut) > MAX_CLOSE_REASON_BYTES) cut = cut.slice(0, -1);
  return cut;
}

/**
 * The live connections of one instance, by session handle. Each holds one timer (unref'd, so it
 * never keeps the process alive) that fires when its access token expires: nothing runs per message.
 */
export class LiveConnectionRegistry {
  private readonly byHandle = new Map<string, Set<LiveConnection>>();

  constructor(private readonly now: () => number) {}

  /** How many connections are open. */
  get size(): number {
    let count = 0;
    for (const set of this.byHandle.values()) count += set.size;
    return count;
  }

  /** Binds a connection to its session until it closes or {@link remove} is called. */
  add(handle: string, userKey: string, expiresAt: number, close: CloseConnection): LiveConnection {
    const connection: LiveConnection = { handle, userKey, expiresAt, close, timer: undefined };
    let set = this.byHandle.get(handle);
    if (set === undefined) this.byHandle.set(handle, (set = new Set()));
    set.add(connection);
    this.arm(connection, expiresAt);
    return connection;
  }

  /** A refreshed access token was sent over the connection: its expiry moves. */
  extend(connection: LiveConnection, expiresAt: number): void {
    if (this.byHandle.get(connection.handle)?.has(connection)) this.arm(connection, expiresAt);
  }

  /** Forgets a connection (it closed); stops its timer. */
  remove(connection: LiveConnection): void {
    clearTimeout(connection.timer);
    connection.timer = undefined;
    const set = this.byHandle.get(connection.handle);
    if (set?.delete(connection) && set.size === 0) this.byHandle.delete(connection.handle);
  }

  /** Closes the target's connections with `4403 UNAUTHORISED: <reason>`; returns how many. */
  closeSessions(target: CloseSessionsTarget): number {
    const closing: LiveConnection[] = [];
    for (const handle of target.handles ?? []) closing.push(...(this.byHandle.get(handle) ?? []));
    if (target.userKey !== undefined) {
      for (const [handle, set] of this.byHandle) {
        if (handle === target.exceptHandle) continue;
        for (const connection of set) if (connection.userKey === target.userKey) closing.push(connection);
      }
    }
    const reason = closeReason(`UNAUTHORISED: ${target.reason}`);
    for (const connection of closing) this.end(connection, SESSION_CLOSE_CODES.UNAUTHORISED, reason);
    return closing.length;
  }

  /** Stops every timer (module shutdown); the transports close their own sockets. */
  clear(): void {
    for (const set of this.byHandle.values()) for (const connection of set) clearTimeout(connection.timer);
    this.byHandle.clear();
  }

  private arm(connection: LiveConnection, expiresAt: number): void {
    clearTimeout(connection.timer);
    connection.expiresAt = expiresAt;
    // setTimeout holds at most 2^31-1 ms; a token that lives longer is re-armed when that fires.
    const delay = Math.min(Math.max(expiresAt - this.now(), 0), 2 ** 31 - 1);
    connection.timer = setTimeout(() => {
      if (this.now() < connection.expiresAt && delay === 2 ** 31 - 1)
        this.arm(connection, connection.expiresAt);
      else this.end(connection, SESSION_CLOSE_CODES.TRY_REFRESH_TOKEN, 'TRY_REFRESH_TOKEN');
    }, delay);
    connection.timer.unref();
  }

  private end(connection: LiveConnection, code: number, reason: string): void {
    this.remove(connection);
    try {
      connection.close(code, reason);
    } catch {
      // A socket that is already gone needs no closing.
    }
  }
}

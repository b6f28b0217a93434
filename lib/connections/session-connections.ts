import {
  Inject,
  Injectable,
  type ExecutionContext,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import { graphqlConnectionOf, graphqlContextOf, graphqlHttpOf } from '../http/execution-context.js';
import { setRequestSession } from '../http/request-session.js';
import type { Session } from '../http/session.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import { userKeyOf, type UserId } from '../session.arguments.js';
import { SESSION_CLOCK, SESSION_RESOLVED_OPTIONS } from '../session.constants.js';
import { SessionEngine } from '../session.engine.js';
import { SessionEvents, type SessionRevokedEvent, type TokenTheftEvent } from '../session.events.js';
import { SessionService, type VerifyRequestOptions } from '../session.service.js';
import type { SessionClock } from '../tokens/clock.js';
import { ClaimValidation } from '../claim-validation/claim-validation.js';
import { connectError, contextError, refuse } from './context-errors.js';
import { ConnectionCredentials, needsTokenCheck } from './connection-credentials.js';
import { messageAccessToken } from './connection-tokens.js';
import { LiveConnectionRegistry, SESSION_CLOSE_CODES, type LiveConnection } from './live-connections.js';
import {
  bindTransport,
  socketIoHeaders,
  type ConnectionTransport,
  type GraphqlWsContextLike,
  type SocketIoSocketLike,
} from './connection-transports.js';

/** Which live connections {@link SessionConnections.closeSessions} closes, and why. */
export interface CloseSessionsOptions {
  /** Sessions (by handle) whose connections close. */
  handles?: readonly string[];
  /** A user whose connections all close (with `exceptHandle`: all but that session's). */
  userId?: UserId;
  /** With `userId`: the session whose connections stay open ("sign out everywhere else"). */
  exceptHandle?: string;
  /** The revoke reason, sent in the close reason as `UNAUTHORISED: <reason>`. */
  reason: string;
}

/** A connection's state: its session once authenticated, and the binding that closes it. */
interface Binding {
  client: object;
  transport?: ConnectionTransport;
  session?: Session;
  connection?: LiveConnection;
  /** The access token last verified for the connection (for `checkDatabase` handlers). */
  token?: string;
  /** The authentication in flight (a handshake or the first `session.refresh` message). */
  pending?: Promise<unknown>;
  /** Ends the wait for a first `session.refresh` message. */
  firstMessage?: () => void;
}

const SECOND = 1000;
/** How long a `ws` connection without credentials in its upgrade may wait for `session.refresh`. */
const FIRST_MESSAGE_TIMEOUT_MS = 10 * SECOND;

/**
 * Binds long-lived connections (gateway sockets, graphql-ws subscriptions) to their sessions, and
 * verifies sessions in GraphQL, WebSocket and microservice contexts for `SessionGuard`.
 * A bound connection closes with `4403` and `UNAUTHORISED: <reason>` when its session is revoked on
 * this instance (sign-out, revoke by handle, "sign out everywhere", theft), and with `4401
 * TRY_REFRESH_TOKEN` when its access token expires unless the client sent a refreshed one over it
 * (the `session.refresh` message, `{ accessToken }`). One unref'd timer per connection; nothing runs
 * per message.
 */
@Injectable()
export class SessionConnections implements OnModuleInit, OnModuleDestroy {
  private readonly registry: LiveConnectionRegistry;
  private readonly bindings = new WeakMap<object, Binding>();
  private readonly credentials: ConnectionCredentials;
  private readonly onRevoked = (event: SessionRevokedEvent) => this.closeRevoked(event);
  private readonly onTheft = (event: TokenTheftEvent) =>
    this.closeSessions({ handles: [event.sessionHandle], reason: 'theft' });

  constructor(
    private readonly engine: SessionEngine,
    private readonly sessions: SessionService,
    private readonly events: SessionEvents,
    @Inject(SESSION_RESOLVED_OPTIONS) options: ResolvedSessionOptions,
    @Inject(SESSION_CLOCK) private readonly clock: SessionClock,
    private readonly claimValidation: ClaimValidation,
  ) {
    this.registry = new LiveConnectionRegistry(() => this.clock.now());
    this.credentials = new ConnectionCredentials(engine, options);
  }

  onModuleInit(): void {
    this.events.on('session.revoked', this.onRevoked);
    this.events.on('session.theft-detected', this.onTheft);
  }

  onModuleDestroy(): void {
    this.events.off('session.revoked', this.onRevoked);
    this.events.off('session.theft-detected', this.onTheft);
    this.registry.clear();
  }

  /** How many live connections are bound to a session on this instance. */
  get size(): number {
    return this.registry.size;
  }

  /**
   * Closes the live connections of revoked sessions on this instance with `4403` and
   * `UNAUTHORISED: <reason>`; returns how many. The library calls it for its own revocations; a
   * cross-instance revocation bus calls it for revocations made elsewhere.
   */
  closeSessions(target: CloseSessionsOptions): number {
    return this.registry.closeSessions({
      handles: target.handles,
      userKey: target.userId === undefined ? undefined : userKeyOf(target.userId),
      exceptHandle: target.exceptHandle,
      reason: target.reason,
    });
  }

  /**
   * Authenticates a gateway connection at its handshake and binds it to its session; call it from
   * `handleConnection(client, request)`. socket.io: `auth: { accessToken }`, else `Authorization:
   * Bearer` or the session cookies of the handshake. `ws`: `Authorization: Bearer` or the cookies
   * of the upgrade request, else a first `session.refresh` message within 10 s. A refused
   * connection closes (`4401`/`4403` with the error type; socket.io: a `session.closed` event
   * `{ code, reason }`, then disconnect). Resolves to the session, or `undefined` when refused or
   * when a `ws` connection waits for its first message.
   */
  async accept(
    client: object,
    request?: { headers?: Record<string, unknown> },
  ): Promise<Session | undefined> {
    const existing = this.bindings.get(client);
    if (existing) {
      await existing.pending;
      return existing.session;
    }
    const binding: Binding = { client };
    this.bindings.set(client, binding);
    const transport = this.transportOf(binding, request);
    const authenticate = async () => {
      const token = transport.handshakeToken ?? this.credentials.headerToken(transport.headers);
      if (token === undefined && transport.waitsForFirstMessage) {
        // Not awaited: messages before it are refused, not held.
        void this.awaitFirstMessage(binding);
        return;
      }
      if (token === undefined) throw this.credentials.noSession();
      const { session, expiresAt } = await this.credentials.verify(token);
      this.attach(binding, session, expiresAt, token);
    };
    binding.pending = authenticate().catch((error: unknown) => refuse(transport, error));
    await binding.pending;
    return binding.session;
  }

  /**
   * Binds a one-way stream (Server-Sent Events, a long poll) to its session: `ended` resolves with
   * `{ code: 4403, reason: 'UNAUTHORISED: <reason>' }` when the session is revoked, or with
   * `{ code: 4401, reason: 'TRY_REFRESH_TOKEN' }` at `expiresAt` (epoch ms; default: never); end
   * the stream then. Call `release()` when the stream ends first.
   */
  watch(
    session: Session,
    expiresAt = Number.POSITIVE_INFINITY,
  ): {
    ended: Promise<{ code: number; reason: string }>;
    release(): void;
  } {
    let connection: LiveConnection | undefined;
    const ended = new Promise<{ code: number; reason: string }>((resolve) => {
      connection = this.registry.add(
        session.getHandle(),
        userKeyOf(session.getUserId()),
        expiresAt,
        (code, reason) => resolve({ code, reason }),
      );
    });
    return { ended, release: () => this.registry.remove(connection!) };
  }

  /**
   * A socket.io middleware (`server.use(...)` in `afterInit`) that refuses an unauthenticated
   * handshake with a `connect_error` whose `data` is `{ type, message, statusCode }`, and binds
   * the accepted socket to its session.
   */
  socketIoMiddleware(): (socket: SocketIoSocketLike, next: (error?: Error) => void) => void {
    return (socket, next) => {
      const token = (): string | undefined =>
        typeof socket.handshake?.auth?.accessToken === 'string'
          ? socket.handshake.auth.accessToken
          : this.credentials.headerToken(socketIoHeaders(socket));
      let accessToken: string | undefined;
      try {
        accessToken = token();
      } catch (error) {
        next(connectError(error));
        return;
      }
      if (accessToken === undefined) {
        next(connectError(this.credentials.noSession()));
        return;
      }
      this.credentials.verify(accessToken).then(
        ({ session, expiresAt }) => {
          const binding: Binding = { client: socket };
          this.bindings.set(socket, binding);
          this.transportOf(binding, undefined);
          this.attach(binding, session, expiresAt, accessToken);
          next();
        },
        (error: unknown) => next(connectError(error)),
      );
    };
  }

  /**
   * graphql-ws server hooks (`subscriptions: { 'graphql-ws': connections.graphqlWs() }`): the
   * connection is authenticated at `connection_init` (payload `{ accessToken }`, else the upgrade's
   * Bearer header or cookies) and bound to its session; a `ping` whose payload is `{ accessToken }`
   * refreshes it. `@Session()` works in subscription resolvers guarded by `SessionGuard`.
   */
  graphqlWs(): {
    onConnect: (ctx: {
      connectionParams?: Readonly<Record<string, unknown>>;
      extra: unknown;
    }) => Promise<boolean>;
    onPing: (ctx: { extra: unknown }, payload?: Readonly<Record<string, unknown>>) => Promise<void>;
  } {
    return {
      onConnect: async (ctx) => {
        const session = await this.acceptGraphqlWs((ctx as GraphqlWsContextLike).extra, ctx.connectionParams);
        return session !== undefined;
      },
      onPing: async (ctx, payload) => {
        const binding = this.bindings.get(ctx.extra as object);
        if (binding && typeof payload?.accessToken === 'string') {
          await this.refreshOver(binding, payload.accessToken).catch(() => undefined);
        }
      },
    };
  }

  /**
   * Mercurius subscription hooks (`subscription: connections.mercurius()` in the `MercuriusDriver`
   * config): the connection is authenticated by its `connection_init` payload `{ accessToken }`,
   * else the upgrade's Bearer header or cookies, at its first subscription guarded by
   * `SessionGuard`, and bound to its session (refused: closed with `4401`/`4403`); a `ping` whose
   * payload is `{ accessToken }` refreshes it. Spread it to add your own `onConnect`.
   */
  mercurius(): {
    context: (socket: object, request: { headers?: Record<string, unknown> }) => { extra: object };
  } {
    return { context: (socket, request) => ({ extra: { socket, request, refreshOnPing: true } }) };
  }

  /** A graphql-ws connection (`extra`) authenticated by its `connection_init` payload or upgrade. */
  private acceptGraphqlWs(
    extra: GraphqlWsContextLike['extra'],
    params: Readonly<Record<string, unknown>> | undefined,
  ): Promise<Session | undefined> {
    const token = params?.accessToken;
    return this.accept(extra, {
      headers: {
        ...extra.request?.headers,
        ...(typeof token === 'string' ? { authorization: `Bearer ${token}` } : {}),
      },
    });
  }

  /**
   * `SessionGuard` for a GraphQL, WebSocket or RPC context: verifies and attaches the session.
   * @throws the context's own error carrying `{ type }`: `GraphQLError` (`extensions.code`),
   * `WsException`, `RpcException`.
   */
  async verifyContext(
    context: ExecutionContext,
    options: VerifyRequestOptions,
  ): Promise<Session | undefined> {
    const type = context.getType<string>();
    try {
      if (type === 'graphql') return await this.verifyGraphql(context, options);
      if (type === 'ws') return await this.verifySocket(context.switchToWs().getClient<object>(), options);
      if (type === 'rpc') return await this.verifyMessage(context, options);
      throw new SessionError(SessionError.GENERAL_ERROR, `SessionGuard cannot guard a '${type}' context.`);
    } catch (error) {
      throw await contextError(type, error);
    }
  }

  private async verifyGraphql(context: ExecutionContext, options: VerifyRequestOptions) {
    const gql = graphqlContextOf(context);
    const connection = graphqlConnectionOf(gql);
    // Mercurius (or graphql-ws without the `graphqlWs()` hooks): bound at its first guarded subscription.
    if (connection !== undefined && !this.bindings.has(connection) && 'socket' in connection) {
      await this.acceptGraphqlWs(connection as GraphqlWsContextLike['extra'], gql._connectionInit);
    }
    const session =
      connection !== undefined && this.bindings.has(connection)
        ? await this.verifySocket(connection, options)
        : await this.verifyHttp(gql, options);
    setRequestSession(gql, session);
    return session;
  }

  private async verifyHttp(gql: ReturnType<typeof graphqlContextOf>, options: VerifyRequestOptions) {
    const http = graphqlHttpOf(gql);
    if (!http) {
      throw new SessionError(
        SessionError.GENERAL_ERROR,
        'The GraphQL context has no request: return { req, res } (Apollo) or keep { reply } (Mercurius) from the context function.',
      );
    }
    const session = await this.sessions.verifyRequest(http.request, http.response, options);
    setRequestSession(http.request, session);
    return session;
  }

  private async verifySocket(client: object, options: VerifyRequestOptions) {
    let binding = this.bindings.get(client);
    // socket.io keeps its handshake on the socket: a gateway that did not call accept() still works.
    if (binding === undefined && 'handshake' in client) {
      await this.accept(client);
      binding = this.bindings.get(client);
    }
    await binding?.pending;
    const session = binding?.session;
    if (session === undefined || binding?.connection === undefined) {
      if (options.sessionRequired === false) return undefined;
      throw this.credentials.noSession();
    }
    // A `ws` peer that never answers the close frame of an ended session still delivers messages.
    if (binding.transport?.closed()) throw this.credentials.noSession();
    if (binding.connection.expiresAt <= this.clock.now()) throw this.credentials.tryRefresh();
    // The route's own checks hold over a connection too: revoked, stale, impersonated, claims.
    if (needsTokenCheck(options, this.credentials.blacklisting)) {
      await this.credentials.verify(binding.token, options);
    }
    const checked = await this.withClaims(session, options);
    setRequestSession(client, checked);
    return checked;
  }

  private async verifyMessage(context: ExecutionContext, options: VerifyRequestOptions) {
    const rpc = context.switchToRpc();
    const token = messageAccessToken(rpc.getContext<object>(), rpc.getData<unknown>());
    if (token === undefined && options.sessionRequired === false) return undefined;
    const { session: verified } = await this.credentials.verify(token, options);
    const session = await this.withClaims(verified, options);
    const holder = rpc.getContext<object | undefined>();
    if (holder) setRequestSession(holder, session);
    return session;
  }

  private transportOf(binding: Binding, request: { headers?: Record<string, unknown> } | undefined) {
    const { client } = binding;
    binding.transport = bindTransport(
      client,
      request,
      // The binding later messages read is the one replaced, before the answer is sent.
      (accessToken) => this.refreshOver(this.bindings.get(client) ?? binding, accessToken),
      () => this.unbind(binding),
    );
    return binding.transport;
  }

  /** A `ws` connection without credentials in its upgrade: its first `session.refresh` authenticates it. */
  private awaitFirstMessage(binding: Binding): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        binding.transport?.close(SESSION_CLOSE_CODES.TRY_REFRESH_TOKEN, 'TRY_REFRESH_TOKEN');
        resolve();
      }, FIRST_MESSAGE_TIMEOUT_MS);
      timer.unref();
      binding.firstMessage = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private attach(binding: Binding, session: Session, expiresAt: number, token: string): void {
    binding.session = session;
    binding.token = token;
    const transport = binding.transport!;
    binding.connection = this.registry.add(
      session.getHandle(),
      userKeyOf(session.getUserId()),
      expiresAt,
      (code, reason) => transport.close(code, reason),
    );
    setRequestSession(binding.client, session);
    if (transport.closed()) this.unbind(binding);
  }

  /** A `session.refresh` message: a fresh access token of the same session moves the expiry. */
  private async refreshOver(binding: Binding, accessToken: unknown): Promise<number> {
    if (typeof accessToken !== 'string') throw this.credentials.tryRefresh();
    const { session, expiresAt } = await this.credentials.verify(accessToken);
    const { connection } = binding;
    if (connection === undefined) {
      if (binding.firstMessage === undefined)
        throw new SessionError(SessionError.UNAUTHORISED, Messages.sessionMissing);
      // The first message of a `ws` connection without credentials in its upgrade.
      this.attach(binding, session, expiresAt, accessToken);
      binding.firstMessage();
      binding.firstMessage = undefined;
      return expiresAt;
    }
    if (session.getHandle() !== connection.handle) {
      throw new SessionError(SessionError.UNAUTHORISED, 'The access token belongs to another session.');
    }
    this.registry.extend(connection, expiresAt);
    binding.token = accessToken;
    // The new token's claims (payload, auth_time) are what later messages are checked against.
    binding.session = session;
    setRequestSession(binding.client, session);
    return expiresAt;
  }

  /** Claim validators of the route; no response to carry a refetched claim (see README). */
  private withClaims(session: Session, { claims }: VerifyRequestOptions): Session | Promise<Session> {
    return claims?.length ? this.claimValidation.enforce(session, claims) : session;
  }

  private unbind(binding: Binding): void {
    if (binding.connection) this.registry.remove(binding.connection);
    binding.firstMessage = undefined;
    this.bindings.delete(binding.client);
  }

  private closeRevoked(event: SessionRevokedEvent): void {
    const { reason } = event;
    if (event.sessionHandle !== undefined) this.closeSessions({ handles: [event.sessionHandle], reason });
    if (
      event.userId !== undefined &&
      (event.operation === 'revoke-all' || event.operation === 'revoke-others')
    ) {
      const kept = event.keptSessionHandle;
      this.closeSessions({ userId: event.userId, exceptHandle: kept, reason });
    }
  }
}

import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { contextSession, responseOfContext } from './http/execution-context.js';
import { getRequestSession } from './http/request-session.js';
import type { Session as RequestBoundSession } from './http/session.js';
import type { VerifyRequestOptions } from './session.service.js';

/** Metadata key of {@link VerifySession}. */
export const VERIFY_SESSION_METADATA = 'nestjs-token-session:verify-session';
/** Metadata key of {@link PublicAccess}. */
export const PUBLIC_ACCESS_METADATA = 'nestjs-token-session:public-access';

/** Options of {@link VerifySession}. */
export type VerifySessionOptions = VerifyRequestOptions;

/**
 * Tunes `SessionGuard` for a route or controller.
 * @example
 * ```ts
 * @VerifySession({ checkDatabase: true })          // refuse revoked sessions at once
 * @VerifySession({ sessionRequired: false })        // @Session() is undefined without a session
 * @VerifySession({ claims: [SessionClaims.includes('roles', 'admin')] }) // else 403 INVALID_CLAIM
 * ```
 * A route's options replace its controller's, except `claims`, which add to the controller's.
 */
export const VerifySession = (options: VerifySessionOptions = {}) =>
  SetMetadata(VERIFY_SESSION_METADATA, options);

/**
 * Lets a route or controller through a global `SessionGuard` without a session.
 * @example
 * ```ts
 * @PublicAccess()
 * @Post('login')
 * login() {}
 * ```
 */
export const PublicAccess = () => SetMetadata(PUBLIC_ACCESS_METADATA, true);

/** One field of the session, for `@Session(field)`. */
export type SessionField = 'userId' | 'handle' | 'jwtPayload';

/**
 * The current request's session (set by `SessionGuard`), or one field of it. This is this
 * package's decorator, not the `@Session()` of `@nestjs/common` (which reads express-session).
 * Works the same in GraphQL resolvers (queries, mutations, subscriptions), gateway message handlers
 * and microservice handlers behind `SessionGuard`.
 * @example
 * ```ts
 * @UseGuards(SessionGuard)
 * @Get('me')
 * me(@Session() session: Session, @Session('userId') userId: string) {}
 * ```
 */
export const Session = createParamDecorator((field: SessionField | undefined, context: ExecutionContext) => {
  const session =
    context.getType() === 'http'
      ? getRequestSession(context.switchToHttp().getRequest<object>())
      : contextSession(context);
  if (!field || !session) return session;
  if (field === 'userId') return session.getUserId();
  if (field === 'handle') return session.getHandle();
  return session.getJWTPayload();
});

/** What `@Session()` gives a handler. */
export type Session = RequestBoundSession;

/**
 * The HTTP response behind the current request, for `SessionService` calls that set or clear
 * cookies: the Express `Response` or Fastify reply of a route, or the one behind a GraphQL
 * operation (Apollo's `res` or `req.res`, Mercurius's `reply`; on Fastify the reply's Node response, `reply.raw`).
 * `undefined` elsewhere (sockets,
 * microservices: no cookies there).
 * @example
 * ```ts
 * @Mutation(() => Boolean)
 * async login(@Args('userId') userId: string, @SessionResponse() response: object) {
 *   await this.sessions.createNewSession(response, userId);
 *   return true;
 * }
 * ```
 */
export const SessionResponse = createParamDecorator((_: unknown, context: ExecutionContext) => {
  const response = responseOfContext(context) as { raw?: object; then?: unknown } | undefined;
  // A Fastify reply is thenable (it resolves when sent): Nest would await it, so hand out its Node
  // response, which the session service accepts as well.
  return typeof response?.then === 'function' && response.raw ? response.raw : response;
});

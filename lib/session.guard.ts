import { Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { HttpRequestLike, HttpResponseLike } from './http/http-adapter.js';
import type { Session } from './http/session.js';
import { setRequestSession } from './http/request-session.js';
import {
  PUBLIC_ACCESS_METADATA,
  VERIFY_SESSION_METADATA,
  type VerifySessionOptions,
} from './session.decorators.js';
import { SessionService } from './session.service.js';
import { mergeVerifyOptions } from './claim-validation/route-claims.js';
import { SessionConnections } from './connections/session-connections.js';

interface RouteSettings {
  isPublic: boolean;
  verifyOptions: VerifySessionOptions;
}

/**
 * Verifies the request's session and puts it on the request for `@Session()`. Use it per route or
 * controller (`@UseGuards(SessionGuard)`) or globally (`APP_GUARD`, with `@PublicAccess()` routes).
 * Failures throw a `SessionError` (never `false`, which Nest would answer with 403). Override the
 * `protected` steps in a subclass. GraphQL resolvers, gateway message handlers and microservice
 * handlers are guarded too (see `SessionConnections`); failures there are the context's own errors
 * (`GraphQLError` with `extensions.code`, `WsException`, `RpcException`) carrying the `type`.
 */
@Injectable()
export class SessionGuard implements CanActivate {
  /** Route metadata read once per handler: the reflector walk is the guard's biggest fixed cost. */
  private readonly routeSettings = new WeakMap<object, WeakMap<object, RouteSettings>>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly sessionService: SessionService,
    @Optional() protected readonly connections?: SessionConnections,
  ) {}

  /**
   * `true` at once when the session could be verified without waiting (a token this instance
   * verified before: no promise for Nest to await), else a promise; a failure always rejects.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    try {
      const settings = this.settingsOf(context);
      if (this.isPublic(context, settings)) return true;
      // HTTP first and unchanged: the other contexts cost HTTP one string comparison.
      if (context.getType() !== 'http') return this.canActivateContext(context);
      const request = this.getRequest(context);
      const session = this.sessionService.verifyRequestNow(
        request,
        this.getResponse(context),
        this.getVerifyOptions(context, settings),
      );
      if (session instanceof Promise) return session.then((verified) => this.attached(request, verified));
      return this.attached(request, session);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  private attached(request: HttpRequestLike, session: Session | undefined): true {
    this.attachSession(request, session);
    return true;
  }

  /** GraphQL, WebSocket and RPC contexts: `SessionConnections` verifies and attaches the session. */
  protected async canActivateContext(context: ExecutionContext): Promise<boolean> {
    if (!this.connections) {
      throw new TypeError('SessionGuard needs SessionConnections for non-HTTP contexts: pass it to super().');
    }
    await this.connections.verifyContext(context, this.getVerifyOptions(context));
    return true;
  }

  /** Whether `@PublicAccess()` marks the route or controller. */
  protected isPublic(context: ExecutionContext, settings = this.settingsOf(context)): boolean {
    return settings.isPublic;
  }

  /** `@VerifySession()` options of the route, else of the controller. */
  protected getVerifyOptions(
    context: ExecutionContext,
    settings = this.settingsOf(context),
  ): VerifySessionOptions {
    return settings.verifyOptions;
  }

  private settingsOf(context: ExecutionContext): RouteSettings {
    const controller = context.getClass();
    const handler = context.getHandler();
    let byHandler = this.routeSettings.get(controller);
    if (byHandler === undefined) this.routeSettings.set(controller, (byHandler = new WeakMap()));
    let settings = byHandler.get(handler);
    if (settings === undefined) {
      const targets = [handler, controller];
      settings = {
        isPublic: this.reflector.getAllAndOverride<boolean>(PUBLIC_ACCESS_METADATA, targets) === true,
        verifyOptions: mergeVerifyOptions(
          this.reflector.getAllAndOverride<VerifySessionOptions>(VERIFY_SESSION_METADATA, targets) ?? {},
          this.reflector.get<VerifySessionOptions | undefined>(VERIFY_SESSION_METADATA, controller),
        ),
      };
      byHandler.set(handler, settings);
    }
    return settings;
  }

  protected getRequest(context: ExecutionContext): HttpRequestLike {
    return context.switchToHttp().getRequest<HttpRequestLike>();
  }

  protected getResponse(context: ExecutionContext): HttpResponseLike {
    return context.switchToHttp().getResponse<HttpResponseLike>();
  }

  /** Puts the session where `@Session()` reads it. */
  protected attachSession(request: HttpRequestLike, session: Session | undefined): void {
    setRequestSession(request, session);
  }
}

import { createRequire } from 'node:module';
import { Inject, Injectable, RequestMethod, SetMetadata, type Type } from '@nestjs/common';
import { ApplicationConfig, HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import { SESSION_BODYLESS_CONTROLLERS } from '../session.constants.js';
import { servedRoutePaths } from './refresh-route-path.js';

/** What Nest's Fastify adapter copies into a route's `config` (the key `@RouteConfig()` sets). */
const FASTIFY_ROUTE_CONFIG_METADATA = '__fastify_route_config__';
const BODYLESS_ROUTE = 'nestjsTokenSessionBodyless';

/**
 * Marks a library route that reads no request body (refresh, JWKS), so that no body parser refuses
 * a request to it for its body or content type, on either adapter.
 */
export const BodylessRoute = (): MethodDecorator =>
  SetMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { [BODYLESS_ROUTE]: true });

/** A controller of the library and the method of its body-less route. */
export interface BodylessController {
  controller: Type;
  method: RequestMethod;
}

interface ExpressLike {
  enabled(setting: string): boolean;
}

interface FastifyRequestLike {
  routeOptions?: { config?: Record<string, unknown> };
  headers: Record<string, unknown>;
}

interface FastifyLike {
  addHook(
    name: 'onRequest',
    hook: (request: FastifyRequestLike, reply: unknown, done: () => void) => void,
  ): void;
}

interface NodeRequestLike {
  method?: string;
  url?: string;
  headers: Record<string, unknown>;
}

/**
 * The pathname Express routes a request by: `parseurl(req).pathname`, Express's own dependency, not
 * ours, so used only when it resolves. Otherwise the same result: an origin-form target up to `?` or
 * `#`, as it is (not normalised: `//x/a` stays, unlike WHATWG parsing), and the path of an absolute-form
 * target (`POST http://host/session/refresh`, RFC 9112 §3.2.2).
 */
const routedPathname: (request: NodeRequestLike) => string = (() => {
  try {
    const parseurl = createRequire(import.meta.url)('parseurl') as (
      request: NodeRequestLike,
    ) => { pathname?: string | null } | undefined;
    return (request: NodeRequestLike) => parseurl(request)?.pathname ?? '';
  } catch {
    return (request: NodeRequestLike) => targetPathname(request.url ?? '');
  }
})();

/** `parseurl`'s pathname of a request target, without `parseurl` (see `routedPathname`). */
export function targetPathname(url: string): string {
  if (url.startsWith('/')) return /^[^?#]*/.exec(url)![0];
  try {
    return new URL(url).pathname;
  } catch {
    return '';
  }
}

/** Headers that make a parser read the body: hidden on body-less routes, which ignore it anyway. */
const BODY_HEADERS = {
  'content-type': undefined,
  'content-length': undefined,
  'transfer-encoding': undefined,
};

/**
 * Keeps the app's body parsers off the library's body-less routes. Express parses bodies in
 * app-wide middleware and Fastify before the route handler, so a bodyless `POST` with
 * `Content-Type: application/json` (400 on Fastify), a malformed JSON body or an unknown media type
 * (400/415) would never reach the refresh route; every other route keeps the app's parsing.
 * Installed when the HTTP adapter is attached, before `app.init()` registers the parsers.
 */
@Injectable()
export class SessionBodylessRoutes {
  private matcher: ((method: string, path: string) => boolean) | undefined;

  constructor(
    adapterHost: HttpAdapterHost,
    private readonly modules: ModulesContainer,
    private readonly config: ApplicationConfig,
    @Inject(SESSION_BODYLESS_CONTROLLERS) private readonly controllers: BodylessController[],
  ) {
    adapterHost.init$.subscribe(() => {
      const adapter = adapterHost.httpAdapter;
      const type = adapter?.getType();
      if (type === 'fastify') this.installFastify(adapter.getInstance<FastifyLike>());
      if (type === 'express') this.installExpress(adapter, adapter.getInstance<ExpressLike>());
    });
  }

  private installFastify(fastify: FastifyLike): void {
    // Route-scoped through the route's config: a request to any other route is left as it is.
    fastify.addHook('onRequest', (request, _reply, done) => {
      if (request.routeOptions?.config?.[BODYLESS_ROUTE] === true) request.headers = BODY_HEADERS;
      done();
    });
  }

  private installExpress(adapter: { use(handler: unknown): unknown }, express: ExpressLike): void {
    // Registered ahead of the body parsers `app.init()` adds, which skip a request without a type.
    adapter.use((request: NodeRequestLike, _response: unknown, next: () => void) => {
      this.matcher ??= this.createMatcher(express);
      if (this.matcher(request.method ?? 'GET', routedPathname(request)))
        delete request.headers['content-type'];
      next();
    });
  }

  /** Matches requests as Express routes them (case and trailing slash per the app's settings). */
  private createMatcher(express: ExpressLike): (method: string, path: string) => boolean {
    const caseSensitive = express.enabled('case sensitive routing');
    const strict = express.enabled('strict routing');
    const fold = (path: string) => {
      const trimmed = !strict && path.length > 1 ? path.replace(/\/$/, '') : path;
      return caseSensitive ? trimmed : trimmed.toLowerCase();
    };
    const routes = this.controllers.flatMap(({ controller, method }) =>
      servedRoutePaths(controller, method, this.modules, this.config).map((path) => ({
        methods: method === RequestMethod.GET ? ['GET', 'HEAD'] : [RequestMethod[method]],
        segments: fold(path).split('/'),
      })),
    );
    return (method, path) => {
      const segments = fold(path).split('/');
      return routes.some(
        (route) =>
          route.methods.includes(method) &&
          route.segments.length === segments.length &&
          route.segments.every((segment, i) => segmentMatches(segment, segments[i])),
      );
    };
  }
}

/** A literal segment, or a named parameter (`:tenant`); other patterns are never matched here. */
function segmentMatches(pattern: string, segment: string): boolean {
  if (/^:\w+$/.test(pattern)) return segment !== '';
  return !/[:*?{}()+\\]/.test(pattern) && pattern === segment;
}

import { RequestMethod, type Type } from '@nestjs/common';
import { MODULE_PATH, PATH_METADATA, VERSION_METADATA, addLeadingSlash } from '@nestjs/common/internal';
import { MetadataScanner, type ApplicationConfig, type ModulesContainer } from '@nestjs/core';
// Nest's own route-path logic (global prefix with its exclusions, URI versioning, RouterModule
// paths), so the cookie path can never drift from where the route is really registered.
import { PathsExplorer } from '@nestjs/core/router/paths-explorer.js';
import { RoutePathFactory } from '@nestjs/core/router/route-path-factory.js';
import { RefreshRouteMessages } from '../errors/session-error.messages.js';
import { configError } from '../session.options.js';

/** A path segment a cookie path cannot stand for: route parameters, wildcards, optional groups. */
const DYNAMIC_SEGMENT = /[:*?{}()+\\]/;

/**
 * Every path at which Nest serves `method` of `controller`, computed the way `RoutesResolver` and
 * `RouterExplorer` compute them at `app.init()`.
 */
export function servedRoutePaths(
  controller: Type,
  method: RequestMethod,
  modules: ModulesContainer,
  config: ApplicationConfig,
): string[] {
  const host = [...modules.values()].find((module) => module.controllers.has(controller));
  const modulePath: string | undefined = host
    ? (Reflect.getMetadata(MODULE_PATH + modules.applicationId, host.metatype) ??
      Reflect.getMetadata(MODULE_PATH, host.metatype))
    : undefined;
  const versioningOptions = config.getVersioning();
  const controllerVersion = versioningOptions
    ? (Reflect.getMetadata(VERSION_METADATA, controller) ?? versioningOptions.defaultVersion)
    : undefined;
  const ctrlPaths: string | string[] = Reflect.getMetadata(PATH_METADATA, controller) ?? '/';
  const factory = new RoutePathFactory(config);
  const routes = new PathsExplorer(new MetadataScanner())
    .scanForPaths(Object.create(controller.prototype), controller.prototype)
    .filter((route) => route.requestMethod === method);
  const paths = [ctrlPaths].flat().flatMap((ctrlPath) =>
    routes.flatMap((route) =>
      route.path.flatMap((methodPath) =>
        factory.create(
          {
            ctrlPath: addLeadingSlash(ctrlPath),
            methodPath,
            modulePath,
            globalPrefix: addLeadingSlash(config.getGlobalPrefix()),
            controllerVersion,
            methodVersion: route.version,
            versioningOptions,
          },
          RequestMethod.POST,
        ),
      ),
    ),
  );
  return [...new Set(paths)];
}

/**
 * Whether a cookie with Path `cookiePath` reaches `routePath` (RFC 6265 §5.1.4 path-match, segment by
 * segment); a route parameter in the matched part can take any value, so it never matches.
 */
export function cookiePathCovers(cookiePath: string, routePath: string): boolean {
  const cookie = cookiePath.split('/').filter(Boolean);
  const route = routePath.split('/').filter(Boolean);
  if (cookie.length > route.length) return false;
  return cookie.every((segment, i) => !DYNAMIC_SEGMENT.test(route[i]) && route[i] === segment);
}

/**
 * The `Path` of the `sRefreshToken` cookie: the one literal path the refresh route is served at, or
 * the configured `refreshToken.cookiePath` when it covers every served path.
 * @throws SessionError `GENERAL_ERROR` when no single cookie path fits: several served paths (a
 * version array), a route parameter (a parameterised global prefix), or a `cookiePath` that misses one.
 */
export function refreshCookiePath(served: readonly string[], cookiePath: string | undefined): string {
  if (cookiePath !== undefined) {
    const missed = served.find((path) => !cookiePathCovers(cookiePath, path));
    if (missed !== undefined) throw configError(RefreshRouteMessages.cookiePathMisses(cookiePath, missed));
    return cookiePath;
  }
  if (served.length !== 1) throw configError(RefreshRouteMessages.severalPaths(served));
  const [path] = served;
  if (DYNAMIC_SEGMENT.test(path)) throw configError(RefreshRouteMessages.dynamicPath(path));
  return path;
}

/**
 * The `sRefreshToken` cookie path: where Nest serves the mounted refresh controller (see
 * {@link refreshCookiePath}); when the app serves refresh itself (`refreshRoute: false`),
 * `refreshToken.cookiePath`, else `refreshToken.path` under the global prefix.
 * @throws SessionError `GENERAL_ERROR` when no single cookie path fits the served route.
 */
export function resolveRefreshCookiePath(
  refreshToken: { path: string; cookiePath?: string },
  refreshController: Type | null,
  modules: ModulesContainer,
  applicationConfig: ApplicationConfig,
): string {
  const { path, cookiePath } = refreshToken;
  if (refreshController) {
    const served = servedRoutePaths(refreshController, RequestMethod.POST, modules, applicationConfig);
    return refreshCookiePath(served, cookiePath);
  }
  if (cookiePath !== undefined) return cookiePath;
  // The app serves refresh itself: assume the global prefix applies.
  const prefix = applicationConfig.getGlobalPrefix().replace(/^\/*/, '/').replace(/\/+$/, '');
  return `${prefix}${path}`;
}

import { RequestMethod, VersioningType, type Type } from '@nestjs/common';
import { MODULE_PATH, PATH_METADATA, VERSION_METADATA, addLeadingSlash } from '@nestjs/common/internal';
import { MetadataScanner, type ApplicationConfig, type ModulesContainer } from '@nestjs/core';
// Nest's own route-path logic (global prefix with its exclusions, URI versioning, RouterModule
// paths), so the cookie path can never drift from where the route is really registered.
import { PathsExplorer } from '@nestjs/core/router/paths-explorer.js';
import { RoutePathFactory } from '@nestjs/core/router/route-path-factory.js';
import { serialize } from 'cookie';
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
 * Checks that `path` can be a cookie Path that equals the request path browsers send for it: the
 * `cookie` package accepts it (RFC 6265 §4.1.1 path-value) and WHATWG URL parsing leaves it as it is (no
 * character browsers percent-encode, such as a space or non-ASCII, no dot segment or backslash).
 * @throws SessionError `GENERAL_ERROR` naming the option to change; `cookiePath` says whether `path`
 * is the configured `refreshToken.cookiePath` rather than a served route path.
 */
export function assertBrowserPath(path: string, cookiePath: boolean): string {
  let cookieAccepts = true;
  try {
    serialize('probe', '', { path });
  } catch {
    cookieAccepts = false;
  }
  const sentAs = new URL(`http://x${path}`).pathname;
  if (sentAs === path && cookieAccepts) return path;
  throw configError(
    RefreshRouteMessages.notBrowserForm(path, sentAs === path ? undefined : sentAs, cookiePath),
  );
}

/**
 * The `Path` of the `sRefreshToken` cookie when the app serves refresh itself (`refreshRoute: false`):
 * `refreshToken.cookiePath` when set, else the global prefix + `refreshToken.path`, the only rule that
 * holds without seeing the app's route.
 * @throws SessionError `GENERAL_ERROR` naming `refreshToken.cookiePath` when URI versioning, a global
 * prefix `exclude` list, a route parameter in the prefix or `RouterModule` paths can move the route, or
 * when the path is not what browsers send (see `assertBrowserPath`).
 */
export function ownRefreshRoutePath(
  path: string,
  cookiePath: string | undefined,
  modules: ModulesContainer,
  config: ApplicationConfig,
): string {
  if (cookiePath !== undefined) return assertBrowserPath(cookiePath, true);
  const prefix = config.getGlobalPrefix().replace(/^\/*/, '/').replace(/\/+$/, '');
  const reasons: string[] = [];
  if (config.getVersioning()?.type === VersioningType.URI) reasons.push('URI versioning');
  if (prefix && (config.getGlobalPrefixOptions().exclude?.length ?? 0) > 0) {
    reasons.push("the global prefix's exclude list");
  }
  if (DYNAMIC_SEGMENT.test(prefix)) reasons.push('a route parameter in the global prefix');
  const routed = [...modules.values()].some(
    (module) =>
      Reflect.getMetadata(MODULE_PATH + modules.applicationId, module.metatype) !== undefined ||
      Reflect.getMetadata(MODULE_PATH, module.metatype) !== undefined,
  );
  if (routed) reasons.push('RouterModule paths');
  if (reasons.length > 0) throw configError(RefreshRouteMessages.ownRouteUnknown(reasons));
  return assertBrowserPath(`${prefix}${path}`, false);
}

/**
 * The `Path` of the `sRefreshToken` cookie: the one literal path the refresh route is served at, or
 * the configured `refreshToken.cookiePath` when it covers every served path.
 * @throws SessionError `GENERAL_ERROR` when no single cookie path fits: several served paths (a
 * version array), a route parameter (a parameterised global prefix), a `cookiePath` that misses one, or
 * a path browsers send otherwise (see `assertBrowserPath`).
 */
export function refreshCookiePath(served: readonly string[], cookiePath: string | undefined): string {
  if (cookiePath !== undefined) {
    assertBrowserPath(cookiePath, true);
    const missed = served.find((path) => !cookiePathCovers(cookiePath, path));
    if (missed !== undefined) throw configError(RefreshRouteMessages.cookiePathMisses(cookiePath, missed));
    return cookiePath;
  }
  if (served.length !== 1) throw configError(RefreshRouteMessages.severalPaths(served));
  const [path] = served;
  if (DYNAMIC_SEGMENT.test(path)) throw configError(RefreshRouteMessages.dynamicPath(path));
  return assertBrowserPath(path, false);
}

/**
 * The `sRefreshToken` cookie path: where Nest serves the mounted refresh controller (see
 * {@link refreshCookiePath}); when the app serves refresh itself (`refreshRoute: false`), see
 * {@link ownRefreshRoutePath}.
 * @throws SessionError `GENERAL_ERROR` when no single cookie path fits the served route, or the
 * path of the app's own route cannot be known.
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
  return ownRefreshRoutePath(path, cookiePath, modules, applicationConfig);
}

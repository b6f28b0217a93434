import type { VerifySessionOptions } from '../session.decorators.js';

/**
 * A route's `@VerifySession()` options over its controller's, key by key: what the route sets wins,
 * what it leaves out comes from the controller (a route's `checkDatabase` never drops the
 * controller's `allowImpersonation: false` or `fresh`), and the controller's claims are kept
 * before the route's own.
 */
export function mergeVerifyOptions(
  route: VerifySessionOptions,
  controller: VerifySessionOptions | undefined,
): VerifySessionOptions {
  if (!controller || route === controller) return route;
  const claims = [...(controller.claims ?? []), ...(route.claims ?? [])];
  return { ...controller, ...route, ...(claims.length > 0 && { claims }) };
}

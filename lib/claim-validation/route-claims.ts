import type { VerifySessionOptions } from '../session.decorators.js';

/**
 * A route's `@VerifySession()` options (the route's, else the controller's) with the controller's
 * claims added: a route's own options never drop a claim its controller requires.
 */
export function withControllerClaims(
  route: VerifySessionOptions,
  controller: VerifySessionOptions | undefined,
): VerifySessionOptions {
  const inherited = controller?.claims;
  if (!inherited?.length || route === controller) return route;
  return { ...route, claims: [...inherited, ...(route.claims ?? [])] };
}

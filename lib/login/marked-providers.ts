import type { DiscoveryService, Reflector } from '@nestjs/core';

/**
 * The app's provider instances whose class carries `metadataKey` (set by a class decorator such as
 * `@LoginStrategy(name)` or `@ClaimFetcher(claim)`), with the decorator's value.
 */
export function markedProviders<T>(
  discovery: DiscoveryService,
  reflector: Reflector,
  metadataKey: string,
): [name: string, instance: T][] {
  const found: [string, T][] = [];
  for (const wrapper of discovery.getProviders()) {
    const type = wrapper.metatype;
    if (!type || !wrapper.instance) continue;
    const name = reflector.get<string | undefined>(metadataKey, type);
    if (name !== undefined) found.push([name, wrapper.instance as T]);
  }
  return found;
}

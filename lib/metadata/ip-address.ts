import { isIPv4, isIPv6 } from 'node:net';

/**
 * The address in one canonical spelling: lower case, without an IPv6 zone (`%eth0`), and an
 * IPv4-mapped IPv6 address (`::ffff:203.0.113.9`, as Node reports IPv4 clients of a dual-stack
 * socket) as plain IPv4; `undefined` for anything that is not an IP address.
 */
export function normalizeIp(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const address = value.trim().toLowerCase().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1];
  if (isIPv4(address)) return address;
  if (isIPv6(address))
    return expandIpv6(address)
      .map((group) => group.toString(16))
      .join(':');
  return undefined;
}

/** The network of an address: IPv4 /24 (`203.0.113.0`), IPv6 /48 (`2001:db8:85a3::`). */
export function truncateIp(address: string): string {
  if (isIPv4(address)) return address.replace(/\.\d+$/, '.0');
  const groups = expandIpv6(address).slice(0, 3);
  return `${groups.map((group) => group.toString(16)).join(':')}::`;
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail counts as two). */
function expandIpv6(address: string): number[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const parse = (part: string | undefined) =>
    !part
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number);
          return [(a! << 8) | b!, (c! << 8) | d!];
        });
  const first = parse(head);
  const last = parse(tail);
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - first.length - last.length }, () => 0);
  return [...first, ...zeros, ...last];
}

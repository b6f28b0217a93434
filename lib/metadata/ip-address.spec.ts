import { describe, expect, it } from 'vitest';
import { normalizeIp, truncateIp } from './ip-address.js';

describe('client IP addresses', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['::FFFF:203.0.113.9', '203.0.113.9'],
    ['2001:DB8::1', '2001:db8:0:0:0:0:0:1'],
    ['fe80::1%eth0', 'fe80:0:0:0:0:0:0:1'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0:0:0:0:c000:221'],
  ])('spells %s one way: %s', (raw, normal) => {
    expect(normalizeIp(raw)).toBe(normal);
  });

  it.each([undefined, '', 'unknown', '203.0.113.9, 10.0.0.1', '999.1.1.1', 42, 'x'.repeat(100)])(
    'refuses %s',
    (raw) => {
      expect(normalizeIp(raw)).toBeUndefined();
    },
  );

  it.each([
    ['203.0.113.9', '203.0.113.0'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::'],
    ['2001:db8:0:0:0:0:0:1', '2001:db8:0::'],
    ['0:0:0:0:0:0:0:1', '0:0:0::'],
  ])('keeps only the network of %s: %s', (address, network) => {
    expect(truncateIp(address)).toBe(network);
  });
});

import { describe, expect, it } from 'vitest';
import type { VerifiedToken } from './verified-token-cache.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

const entry = (validUntil: number) => ({ validUntil }) as VerifiedToken;

describe('VerifiedTokenCache', () => {
  it('keeps at most its capacity, dropping the oldest first', () => {
    const cache = new VerifiedTokenCache(2);
    cache.set('a', entry(100));
    cache.set('b', entry(100));
    cache.set('c', entry(100));
    expect(cache.get('a', 0)).toBeUndefined();
    expect(cache.get('b', 0)).toBeDefined();
    expect(cache.get('c', 0)).toBeDefined();
    for (let i = 0; i < 1000; i++) cache.set(`t${i}`, entry(100));
    expect(cache.size).toBe(2);
  });

  it('never answers an entry at or past its validity', () => {
    const cache = new VerifiedTokenCache(4);
    cache.set('a', entry(100));
    expect(cache.get('a', 99)).toBeDefined();
    expect(cache.get('a', 100)).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashRefreshToken, mintRefreshToken, newSessionHandle, parseRefreshToken } from './refresh-token.js';

const tagKey = randomBytes(32);

describe('refresh tokens', () => {
  it('round-trips the handle and generation of an authentic token', () => {
    const handle = newSessionHandle();
    const token = mintRefreshToken(tagKey, handle, 7);
    expect(parseRefreshToken(tagKey, token)).toEqual({ handle, generation: 7 });
  });

  it('carries 256 random bits: two tokens of one generation differ', () => {
    const handle = newSessionHandle();
    const first = mintRefreshToken(tagKey, handle, 1);
    const second = mintRefreshToken(tagKey, handle, 1);
    expect(first).not.toBe(second);
    expect(Buffer.from(first.split('.')[2], 'base64url')).toHaveLength(32);
  });

  it('refuses a token whose tag does not authenticate it', () => {
    const token = mintRefreshToken(tagKey, newSessionHandle(), 1);
    expect(parseRefreshToken(randomBytes(32), token)).toBeUndefined();
    const [handle, , secret, tag] = token.split('.');
    expect(parseRefreshToken(tagKey, `${handle}.2.${secret}.${tag}`)).toBeUndefined();
    expect(parseRefreshToken(tagKey, `${newSessionHandle()}.1.${secret}.${tag}`)).toBeUndefined();
  });

  it.each([
    undefined,
    null,
    42,
    '',
    'a.b.c.d',
    `${'A'.repeat(32)}.1.${'a'.repeat(43)}.${'a'.repeat(43)}`,
    'x'.repeat(10_000),
  ])('refuses the malformed token %j', (token) => {
    expect(parseRefreshToken(tagKey, token)).toBeUndefined();
  });

  it('stores a hash, never the token', () => {
    const token = mintRefreshToken(tagKey, newSessionHandle(), 1);
    expect(hashRefreshToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRefreshToken(token)).not.toContain(token.split('.')[2]);
  });
});

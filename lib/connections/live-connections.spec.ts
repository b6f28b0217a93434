import { describe, expect, it } from 'vitest';
import { closeReason, LiveConnectionRegistry, SESSION_CLOSE_CODES } from './live-connections.js';
import { accessTokenExpiry, messageAccessToken } from './connection-tokens.js';

const HOUR = 3_600_000;

function registry() {
  const closed: [string, number, string][] = [];
  const live = new LiveConnectionRegistry(() => Date.now());
  const open = (name: string, handle: string, userKey: string, expiresAt = Date.now() + HOUR) =>
    live.add(handle, userKey, expiresAt, (code, reason) => closed.push([name, code, reason]));
  return { live, open, closed };
}

describe('LiveConnectionRegistry', () => {
  it('closes the connections of the named sessions with 4403 and the reason, and forgets them', () => {
    const { live, open, closed } = registry();
    open('a1', 'a', 'alice');
    open('a2', 'a', 'alice');
    open('b1', 'b', 'alice');
    expect(live.closeSessions({ handles: ['a'], reason: 'revoke' })).toBe(2);
    expect(closed).toEqual([
      ['a1', 4403, 'UNAUTHORISED: revoke'],
      ['a2', 4403, 'UNAUTHORISED: revoke'],
    ]);
    expect(live.size).toBe(1);
    expect(live.closeSessions({ handles: ['a'], reason: 'revoke' })).toBe(0);
    live.clear();
  });

  it("closes a user's connections except the kept session's", () => {
    const { live, open, closed } = registry();
    open('kept', 'k', 'alice');
    open('other', 'o', 'alice');
    open('bob', 'b', 'bob');
    expect(live.closeSessions({ userKey: 'alice', exceptHandle: 'k', reason: 'revoke-others' })).toBe(1);
    expect(closed.map(([name]) => name)).toEqual(['other']);
    live.clear();
  });

  it('closes with 4401 TRY_REFRESH_TOKEN when the token expires, unless extended or removed', async () => {
    const { live, open, closed } = registry();
    open('expires', 'e', 'u', Date.now() + 20);
    const extended = open('extended', 'x', 'u', Date.now() + 20);
    live.extend(extended, Date.now() + HOUR);
    live.remove(open('removed', 'r', 'u', Date.now() + 20));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(closed).toEqual([['expires', SESSION_CLOSE_CODES.TRY_REFRESH_TOKEN, 'TRY_REFRESH_TOKEN']]);
    expect(live.size).toBe(1);
    live.clear();
  });

  it('keeps a connection whose close throws out of the way of the others', () => {
    const live = new LiveConnectionRegistry(() => Date.now());
    const closed: string[] = [];
    live.add('h', 'u', Date.now() + HOUR, () => {
      throw new Error('gone');
    });
    live.add('h', 'u', Date.now() + HOUR, () => closed.push('second'));
    expect(live.closeSessions({ handles: ['h'], reason: 'revoke' })).toBe(2);
    expect(closed).toEqual(['second']);
  });
});

describe('connection helpers', () => {
  it('cuts a close reason to the 123 bytes a close frame carries, never inside a character', () => {
    expect(closeReason('short')).toBe('short');
    const cut = closeReason(`UNAUTHORISED: ${'é'.repeat(100)}`);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(123);
    expect(cut).not.toContain('\uFFFD');
  });

  it("reads a token's exp in epoch ms", () => {
    const payload = Buffer.from(JSON.stringify({ exp: 1_700_000_000 })).toString('base64url');
    expect(accessTokenExpiry(`e30.${payload}.sig`)).toBe(1_700_000_000_000);
  });

  it('reads a message token from Bearer headers (NATS-style get or plain) first, else the payload', () => {
    const nats = {
      getHeaders: () => ({ get: (name: string) => (name === 'authorization' ? 'Bearer abc' : '') }),
    };
    expect(messageAccessToken(nats, { accessToken: 'payload' })).toBe('abc');
    expect(messageAccessToken({ getHeaders: () => ({ authorization: 'bearer xyz' }) }, {})).toBe('xyz');
    expect(messageAccessToken(undefined, { accessToken: 'payload' })).toBe('payload');
    expect(messageAccessToken({}, { accessToken: 42 })).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import type { RevocationEntry } from '../storage/revocation-log.port.js';
import { RevocationState } from './revocation-state.js';
import { resolveRevocationOptions } from './revocation.options.js';

const LIFETIME = 905_000;
const entry = (
  kind: RevocationEntry['kind'],
  subject: string,
  value: number | null = null,
): RevocationEntry => ({
  kind,
  subject,
  value,
  userKey: null,
  cause: 'revoke',
  reason: null,
  createdAt: 0,
});
const token = { handle: 'h1', generation: 3, kid: 'k1' };

describe('RevocationState', () => {
  it('refuses a revoked session and nothing else', () => {
    const state = new RevocationState(LIFETIME);
    state.apply(entry('session', 'h1'), 1000);
    expect(state.verdict(token, 1000)).toBe('revoked');
    expect(state.verdict({ ...token, handle: 'h2' }, 1000)).toBe('live');
  });

  it("keeps a revoked session's first well-formed reason, and no reason a revocation did not keep", () => {
    const state = new RevocationState(LIFETIME);
    state.apply({ ...entry('session', 'h1'), reason: 'password-changed' }, 1000);
    state.apply({ ...entry('session', 'h1'), reason: 'signed-out-everywhere' }, 1001);
    state.apply({ ...entry('session', 'h2'), reason: '<script>alert(1)</script>\n' }, 1000);
    state.apply(entry('session', 'h3'), 1000);
    expect(state.revokedReason('h1', 1002)).toBe('password-changed');
    expect(state.revokedReason('h2', 1002)).toBeUndefined();
    expect(state.verdict({ ...token, handle: 'h2' }, 1002)).toBe('revoked');
    expect(state.revokedReason('h3', 1002)).toBeUndefined();
    expect(state.revokedReason('h1', 1001 + LIFETIME)).toBeUndefined();
  });

  it('forgets an entry once no token naming it can still be accepted', () => {
    const state = new RevocationState(LIFETIME);
    state.apply(entry('session', 'h1'), 1000);
    expect(state.verdict(token, 1000 + LIFETIME - 1)).toBe('revoked');
    expect(state.verdict(token, 1000 + LIFETIME)).toBe('live');
    state.apply(entry('session', 'other'), 1000 + 2 * LIFETIME);
    expect(state.size).toBe(1);
  });

  it('marks older generations stale and older payload versions old-payload, newer ones live', () => {
    const state = new RevocationState(LIFETIME);
    state.apply(entry('generation', 'h1', 4), 0);
    expect(state.verdict(token, 1)).toBe('stale');
    expect(state.verdict({ ...token, generation: 4 }, 1)).toBe('live');
    state.apply(entry('payload-version', 'h1', 2), 0);
    // Told apart from a stale generation, so the client is told which it is.
    expect(state.verdict({ ...token, generation: 4, payloadVersion: 1 }, 1)).toBe('old-payload');
    // A token minted before payload versions existed counts as version 0.
    expect(state.verdict({ ...token, generation: 4 }, 1)).toBe('old-payload');
    expect(state.verdict({ ...token, generation: 4, payloadVersion: 2 }, 1)).toBe('live');
  });

  it('keeps the highest minimum when entries arrive out of order or twice', () => {
    const state = new RevocationState(LIFETIME);
    state.apply(entry('generation', 'h1', 5), 0);
    state.apply(entry('generation', 'h1', 4), 0);
    state.apply(entry('generation', 'h1', 5), 0);
    expect(state.verdict({ ...token, generation: 4 }, 1)).toBe('stale');
  });

  it('refuses every token of a retired key first', () => {
    const state = new RevocationState(LIFETIME);
    state.apply(entry('key', 'k1'), 0);
    expect(state.isRetiredKey('k1', 1)).toBe(true);
    expect(state.verdict(token, 1)).toBe('retired-key');
    expect(state.verdict({ ...token, kid: 'k2' }, 1)).toBe('live');
  });
});

describe('resolveRevocationOptions', () => {
  const fail = (message: string) => new Error(message);

  it('applies defaults per transport', () => {
    expect(resolveRevocationOptions({ transport: 'polling' }, fail)).toMatchObject({
      channel: 'session_revocations',
      bound: 1000,
      interval: 500,
    });
    expect(resolveRevocationOptions({ transport: 'nats', url: 'nats://x' }, fail)?.interval).toBe(5000);
    expect(resolveRevocationOptions(undefined, fail)).toBeUndefined();
  });

  it.each([
    [{ transport: 'kafka' }, /transport must be one of/],
    [{ transport: 'redis' }, /url is required for the redis transport/],
    [{ transport: 'nats' }, /url is required for the nats transport/],
    [{ transport: 'postgres', channel: 'a.b' }, /letters, digits and '_'/],
    [{ transport: 'polling', bound: 10 }, /bound must be a number of milliseconds of at least 50/],
  ])('refuses %j', (options, message) => {
    expect(() => resolveRevocationOptions(options as never, fail)).toThrow(message);
  });
});

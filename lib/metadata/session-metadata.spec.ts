import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionError } from '../errors/session.error.js';
import { resolveSessionOptions } from '../session.options.js';
import {
  SessionMetadataCapture,
  sessionListEntry,
  sessionMetadataOf,
  withActivity,
} from './session-metadata.js';

const NOW = 1_800_000_000_000;
const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const key = randomBytes(32);
const capture = (ip: 'full' | 'truncated' | 'hashed' | 'none') => new SessionMetadataCapture({ ip }, key);

describe('the sessionMetadata option', () => {
  const secret = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

  it('defaults to truncated IPs, keeps false, and refuses an unknown IP mode at start-up', () => {
    expect(resolveSessionOptions({ secret }).sessionMetadata).toEqual({ ip: 'truncated' });
    expect(resolveSessionOptions({ secret, sessionMetadata: {} }).sessionMetadata).toEqual({
      ip: 'truncated',
    });
    expect(resolveSessionOptions({ secret, sessionMetadata: { ip: 'hashed' } }).sessionMetadata).toEqual({
      ip: 'hashed',
    });
    expect(resolveSessionOptions({ secret, sessionMetadata: false }).sessionMetadata).toBe(false);
    expect(() => resolveSessionOptions({ secret, sessionMetadata: { ip: 'partial' as never } })).toThrow(
      /sessionMetadata\.ip must be one of "full", "truncated", "hashed", "none", got "partial"/,
    );
  });
});

describe('session metadata capture', () => {
  it('parses the device and keeps the truncated IP by default', async () => {
    const columns = await capture('truncated').atCreate({ ip: '203.0.113.9', userAgent: CHROME_MAC }, NOW);
    expect(columns).toEqual({
      ip: '203.0.113.0',
      userAgent: CHROME_MAC,
      deviceBrowser: 'Chrome 131',
      deviceOs: expect.stringMatching(/^macOS/),
      deviceType: 'desktop',
      loginMethod: 'direct',
      label: null,
      lastActiveAt: NOW,
    });
    const phone = await capture('truncated').atCreate({ userAgent: SAFARI_IPHONE }, NOW);
    expect(phone).toMatchObject({ deviceBrowser: 'Safari 17', deviceOs: 'iOS 17.5', deviceType: 'mobile' });
  });

  it('keeps the IP as each privacy mode says', async () => {
    const ipOf = async (mode: 'full' | 'truncated' | 'hashed' | 'none', ip: string) =>
      (await capture(mode).atCreate({ ip }, NOW)).ip;
    expect(await ipOf('full', '::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(await ipOf('truncated', '2001:db8:85a3::8a2e:370:7348')).toBe('2001:db8:85a3::');
    expect(await ipOf('none', '203.0.113.9')).toBeNull();
    const hashed = await ipOf('hashed', '203.0.113.9');
    expect(hashed).toMatch(/^[\w-]{43}$/);
    expect(await ipOf('hashed', '::ffff:203.0.113.9')).toBe(hashed);
    expect(await ipOf('hashed', '203.0.113.10')).not.toBe(hashed);
    const otherKey = new SessionMetadataCapture({ ip: 'hashed' }, randomBytes(32));
    expect((await otherKey.atCreate({ ip: '203.0.113.9' }, NOW)).ip).not.toBe(hashed);
  });

  it('cuts user agents to 512 characters and refuses a label over 128', async () => {
    const long = `${CHROME_MAC} ${'🦊'.repeat(600)}`;
    const columns = await capture('full').atCreate({ userAgent: long, label: '🦊'.repeat(128) }, NOW);
    expect(Array.from(columns.userAgent!)).toHaveLength(512);
    expect(columns.label).toBe('🦊'.repeat(128));
    await expect(capture('full').atCreate({ label: 'x'.repeat(129) }, NOW)).rejects.toBeInstanceOf(
      SessionError,
    );
  });

  it('records nothing when turned off', async () => {
    const off = new SessionMetadataCapture(false, key);
    const columns = await off.atCreate({ ip: '203.0.113.9', userAgent: CHROME_MAC, label: 'x' }, NOW);
    expect(Object.keys(columns).length).toBeGreaterThan(0);
    expect(Object.values(columns).every((value) => value === null)).toBe(true);
    expect(await off.atRefresh({ ip: '203.0.113.9' }, { userAgent: null }, NOW)).toEqual({});
    expect(off.touchDue(null, NOW)).toBe(false);
  });

  it('parses a user agent again only when it changed, and keeps what a refresh does not know', async () => {
    const on = capture('full');
    const same = await on.atRefresh({ userAgent: CHROME_MAC }, { userAgent: CHROME_MAC }, NOW);
    expect(same).toMatchObject({ deviceBrowser: null, deviceOs: null, deviceType: null });
    const created = { ...(await on.atCreate({ ip: '203.0.113.9', userAgent: CHROME_MAC }, NOW - 5000)) };
    expect(withActivity(created, { ...same, ip: null })).toEqual({ ...created, lastActiveAt: NOW });
  });

  it('forgets the previous device when a new user agent does not tell a part', async () => {
    const on = capture('full');
    const created = await on.atCreate({ userAgent: CHROME_MAC }, NOW - 5000);
    const activity = await on.atRefresh({ userAgent: 'curl/8.5.0' }, created, NOW);
    const after = withActivity(created, activity);
    expect(after.userAgent).toBe('curl/8.5.0');
    expect(sessionMetadataOf(after).device).not.toMatchObject({ browser: 'Chrome 131' });
    expect(sessionMetadataOf(after).device?.os).toBeNull();
  });

  it('asks for a last-activity write at most once a minute', () => {
    const on = capture('truncated');
    expect(on.touchDue(null, NOW)).toBe(true);
    expect(on.touchDue(NOW - 59_999, NOW)).toBe(false);
    expect(on.touchDue(NOW - 60_000, NOW)).toBe(true);
  });

  it('marks the current session in a listing', () => {
    const summary = {
      handle: 'h1',
      createdAt: 1,
      lastRefreshedAt: 2,
      expiresAt: 3,
      ip: null,
      userAgent: null,
      deviceBrowser: null,
      deviceOs: null,
      deviceType: null,
      loginMethod: null,
      label: null,
      lastActiveAt: null,
    };
    expect(sessionListEntry(summary, 'h1')).toMatchObject({ current: true, device: null });
    expect(sessionListEntry(summary, 'h2')).not.toHaveProperty('current');
  });
});

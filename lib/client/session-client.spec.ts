import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSessionClient } from './session-client.js';

const API = 'https://api.example.com';

/** A `fetch` that answers 200 and keeps the arguments it was called with. */
function recordingFetch() {
  const calls: { input: string | URL | Request; init: RequestInit | undefined }[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ input, init });
    return new Response('ok');
  };
  return { calls, fetch: fetch as typeof globalThis.fetch };
}

describe('createSessionClient origins', () => {
  it.each([
    `${API}/v1`,
    `${API}?`,
    `${API}#`,
    'https://user@api.example.com',
    'https://*.example.com',
    'api.example.com',
    'ftp://api.example.com',
    '',
  ])('refuses the apiOrigins entry %j', (entry) => {
    expect(() => createSessionClient({ apiOrigins: [entry] })).toThrow(
      /apiOrigins entries must be bare origins/,
    );
  });

  it('refuses apiOrigins that is not an array, and a refresh path on an unlisted origin', () => {
    expect(() => createSessionClient({ apiOrigins: API as unknown as string[] })).toThrow(
      /apiOrigins must be an array/,
    );
    expect(() => createSessionClient({ refreshPath: `${API}/session/refresh` })).toThrow(
      /add that origin to apiOrigins/,
    );
  });

  it('acts only for a listed origin, compared exactly', async () => {
    const { calls, fetch } = recordingFetch();
    const client = createSessionClient({ apiOrigins: [`${API}/`, 'https://API.other.com:443'], fetch });
    const ours = [`${API}/notes`, `${API}:443/x`, 'https://api.other.com/x', new URL(`${API}/y`)];
    const foreign = [
      'https://api.example.com.evil.net/notes',
      'https://evil-api.example.com/notes',
      'https://api.example.com:8443/notes',
      'http://api.example.com/notes',
      `https://evil.net/?${API}`,
      `https://evil.net/${API}`,
      '/relative-without-a-page',
    ];
    for (const url of [...ours, ...foreign]) await client.fetch(url, { method: 'POST' });
    expect(calls.slice(0, ours.length).map(({ init }) => init?.credentials)).toEqual(
      ours.map(() => 'include'),
    );
    for (const { init } of calls.slice(ours.length)) expect(init).toEqual({ method: 'POST' });
  });
});

describe('createSessionClient cookie names', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  /** A page whose cookies are `cookie` and whose storage holds the anti-csrf token of `idRefreshToken`. */
  function page(cookie: string, idRefreshToken: string): void {
    const storage = new Map([['nestjs-token-session', JSON.stringify({ idRefreshToken, antiCsrf: 'csrf' })]]);
    vi.stubGlobal('document', { cookie });
    vi.stubGlobal('localStorage', {
      getItem: (key: string) => storage.get(key) ?? null,
      setItem: (key: string, value: string) => storage.set(key, value),
      removeItem: (key: string) => storage.delete(key),
    });
  }

  it('finds the session under the __Host- prefix (cookie.namePrefix) as under the original name', () => {
    page('theme=dark; __Host-sIdRefreshToken=prefixed', 'prefixed');
    const client = createSessionClient();
    expect(client.hasSession()).toBe(true);
    expect(client.antiCsrfToken()).toBe('csrf');
    page('sIdRefreshToken=plain', 'plain');
    expect(client.hasSession()).toBe(true);
    expect(client.antiCsrfToken()).toBe('csrf');
    page('theme=dark; xsIdRefreshToken=other', 'other');
    expect(client.hasSession()).toBe(false);
  });

  it('prefers the __Host- cookie over a leftover unprefixed one', () => {
    page('sIdRefreshToken=stale; __Host-sIdRefreshToken=current', 'current');
    expect(createSessionClient().antiCsrfToken()).toBe('csrf');
    page('sIdRefreshToken=stale; __Host-sIdRefreshToken=current', 'stale');
    expect(createSessionClient().antiCsrfToken()).toBeUndefined();
  });
});

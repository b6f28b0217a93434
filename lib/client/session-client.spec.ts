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

/** A page at `https://app.test/page` (its document's base URL `baseURI`) holding `cookie`. */
function stubPage(cookie: string, baseURI = 'https://app.test/page') {
  const storage = new Map<string, string>();
  vi.stubGlobal('location', { href: 'https://app.test/page', origin: 'https://app.test' });
  vi.stubGlobal('document', { cookie, baseURI });
  vi.stubGlobal('localStorage', {
    getItem: (key: string) => storage.get(key) ?? null,
    setItem: (key: string, value: string) => void storage.set(key, value),
    removeItem: (key: string) => void storage.delete(key),
  });
  storage.set('nestjs-token-session', JSON.stringify({ idRefreshToken: 'genuine', antiCsrf: 'SECRET' }));
  return storage;
}

/** What `fetch` would send for one recorded call. */
function sentRequest({ input, init }: { input: string | URL | Request; init: RequestInit | undefined }) {
  return new Request(input, init);
}

describe('createSessionClient cookieNamePrefix', () => {
  afterEach(() => void vi.unstubAllGlobals());

  it('reads only __Host-sIdRefreshToken with the __Host- prefix, never a planted plain one', async () => {
    stubPage('__Host-sIdRefreshToken=genuine');
    const { calls, fetch } = recordingFetch();
    const client = createSessionClient({ cookieNamePrefix: '__Host-', fetch });
    expect(client.hasSession()).toBe(true);
    expect(client.antiCsrfToken()).toBe('SECRET');
    await client.fetch('/notes', { method: 'POST' });
    expect(sentRequest(calls[0]).headers.get('anti-csrf')).toBe('SECRET');

    stubPage('sIdRefreshToken=planted; __Host-sIdRefreshToken=genuine');
    expect(createSessionClient({ cookieNamePrefix: '__Host-', fetch }).antiCsrfToken()).toBe('SECRET');
    stubPage('sIdRefreshToken=genuine');
    const prefixed = createSessionClient({ cookieNamePrefix: '__Host-', fetch });
    expect([prefixed.hasSession(), prefixed.antiCsrfToken()]).toEqual([false, undefined]);
  });

  it('refreshes on TRY_REFRESH_TOKEN with a __Host- session instead of signing out', async () => {
    stubPage('__Host-sIdRefreshToken=genuine');
    const paths: string[] = [];
    const signedOut: string[] = [];
    const client = createSessionClient({
      cookieNamePrefix: '__Host-',
      onSignedOut: ({ type }) => void signedOut.push(type),
      fetch: (async (input: string | URL | Request) => {
        paths.push(new URL(String(input)).pathname);
        return paths.length === 1
          ? Response.json({ type: 'TRY_REFRESH_TOKEN' }, { status: 401 })
          : new Response('ok');
      }) as typeof globalThis.fetch,
    });
    expect((await client.fetch('/me')).status).toBe(200);
    expect(paths).toEqual(['/me', '/session/refresh', '/me']);
    expect(signedOut).toEqual([]);
  });

  it('keeps reading the plain name by default and refuses any other prefix', () => {
    stubPage('__Host-sIdRefreshToken=genuine');
    expect(createSessionClient().hasSession()).toBe(false);
    stubPage('sIdRefreshToken=genuine');
    expect(createSessionClient().antiCsrfToken()).toBe('SECRET');
    for (const prefix of ['__Secure-', '__host-', 'x'])
      expect(() => createSessionClient({ cookieNamePrefix: prefix as '' })).toThrow(
        /cookieNamePrefix must be '' or '__Host-'/,
      );
  });
});

describe('createSessionClient where requests go', () => {
  afterEach(() => void vi.unstubAllGlobals());

  it('resolves relative URLs against document.baseURI, as fetch does', async () => {
    stubPage('sIdRefreshToken=genuine', 'https://other.test/');
    const { calls, fetch } = recordingFetch();
    expect(() => createSessionClient({ fetch })).toThrow(
      /refreshPath "\/session\/refresh" is on https:\/\/other.test/,
    );
    const client = createSessionClient({ fetch, refreshPath: 'https://app.test/session/refresh' });
    await client.fetch('/api/notes', { method: 'POST' });
    expect(calls[0]).toEqual({ input: '/api/notes', init: { method: 'POST' } });
  });

  it('sends a request carrying the anti-csrf header with redirect manual, other requests as asked', async () => {
    const storage = stubPage('sIdRefreshToken=genuine');
    const { calls, fetch } = recordingFetch();
    const client = createSessionClient({ fetch });
    await client.fetch('/notes', { method: 'POST' });
    await client.fetch('/notes', { method: 'POST', redirect: 'error' });
    await client.fetch('/me');
    await client.fetch(new Request('https://app.test/notes', { method: 'PUT' }));
    storage.clear();
    await client.fetch('/login', { method: 'POST' });
    expect(calls.map((call) => sentRequest(call).redirect)).toEqual([
      'manual',
      'error',
      'follow',
      'manual',
      'follow',
    ]);
  });

  it('keeps the method, headers and body of a Request', async () => {
    stubPage('sIdRefreshToken=genuine');
    const { calls, fetch } = recordingFetch();
    const client = createSessionClient({ fetch });
    const input = new Request('https://app.test/data', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-app': '1' },
      body: '{"data":1}',
    });
    await client.fetch(input);
    await client.fetch(new Request('https://app.test/data', { headers: { 'x-app': '1' } }), {
      method: 'PUT',
      body: '2',
    });
    const [post, put] = calls.map(sentRequest);
    expect([post.method, post.credentials, await post.text()]).toEqual(['POST', 'include', '{"data":1}']);
    expect(Object.fromEntries(post.headers)).toEqual({
      'anti-csrf': 'SECRET',
      'content-type': 'application/json',
      'x-app': '1',
    });
    expect([put.method, put.headers.get('x-app'), put.headers.get('anti-csrf'), await put.text()]).toEqual([
      'PUT',
      '1',
      'SECRET',
      '2',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import * as wire from './wire.js';

// The one place the wire format is written out letter by letter: front ends of the original library
// depend on these exact names and values, so a change here is a breaking change.
describe('wire contract', () => {
  it('keeps the cookie names, under the __Host- prefix too', () => {
    expect(wire.DEFAULT_SESSION_COOKIE_NAMES).toEqual({
      accessToken: 'sAccessToken',
      refreshToken: 'sRefreshToken',
      idRefreshToken: 'sIdRefreshToken',
    });
    expect(wire.sessionCookieNames('__Host-')).toEqual({
      accessToken: '__Host-sAccessToken',
      refreshToken: '__Host-sRefreshToken',
      idRefreshToken: '__Host-sIdRefreshToken',
    });
  });

  it('keeps the header names and values', () => {
    expect([
      wire.ANTI_CSRF_HEADER,
      wire.ID_REFRESH_TOKEN_HEADER,
      wire.SESSION_TRANSPORT_HEADER,
      wire.ACCESS_TOKEN_HEADER,
      wire.REFRESH_TOKEN_HEADER,
      wire.AUTHORIZATION_HEADER,
    ]).toEqual([
      'anti-csrf',
      'id-refresh-token',
      'session-transport',
      'access-token',
      'refresh-token',
      'authorization',
    ]);
    expect(wire.HEADER_TRANSPORT).toBe('header');
    expect(wire.ID_REFRESH_TOKEN_REMOVED).toBe('remove');
    expect(wire.DEFAULT_REFRESH_PATH).toBe('/session/refresh');
    expect([...wire.SAFE_METHODS]).toEqual(['GET', 'HEAD', 'OPTIONS']);
  });

  it('lists the CORS headers a cross-origin front end sends and reads', () => {
    expect(wire.SESSION_CORS_ALLOWED_HEADERS).toEqual(['anti-csrf', 'session-transport', 'authorization']);
    expect(wire.SESSION_CORS_EXPOSED_HEADERS).toEqual([
      'anti-csrf',
      'id-refresh-token',
      'access-token',
      'refresh-token',
    ]);
  });
});

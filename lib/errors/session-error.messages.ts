/** Every message text of the library, kept together so wording stays consistent. */
export const SessionErrorMessages = {
  accessTokenMissing: 'No access token: refresh the session and retry.',
  accessTokenInvalid: 'The access token is expired or invalid: refresh the session and retry.',
  accessTokenStale: 'The access token belongs to an older refresh generation: refresh and retry.',
  antiCsrfMismatch: 'The anti-csrf token is missing or does not match the session.',
  refreshTokenInvalid: 'The refresh token is missing or invalid: sign in again.',
  sessionMissing: 'The session does not exist or has expired: sign in again.',
  tokenTheft: 'A refresh token was used twice: the session has been revoked. Sign in again.',
  accessTokenWrongUser: 'The access token does not belong to the user of its session: sign in again.',
  databaseUnavailable: 'The session store is unavailable or too slow; nothing was changed.',
  databaseOutcomeUnknown:
    'The session store is unavailable or too slow; the outcome is unknown: the change may still apply.',
  internal: 'The session library failed unexpectedly.',
} as const;

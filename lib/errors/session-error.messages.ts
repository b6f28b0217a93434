/** Every message text of the library, kept together so wording stays consistent. */
export const SessionErrorMessages = {
  accessTokenMissing: 'No access token: refresh the session and retry.',
  accessTokenInvalid: 'The access token is expired or invalid: refresh the session and retry.',
  accessTokenStale: 'The access token belongs to an older refresh generation: refresh and retry.',
  antiCsrfMismatch: 'The anti-csrf token is missing or does not match the session.',
  refreshTokenInvalid: 'The refresh token is missing or invalid: sign in again.',
  sessionMissing: 'The session does not exist or has expired: sign in again.',
  tokenTheft: 'A refresh token was used twice: the session has been revoked. Sign in again.',
  databaseUnavailable: 'The session store is unavailable or too slow; nothing was changed.',
  internal: 'The session library failed unexpectedly.',
} as const;

/** Start-up failures of the session tables: what is wrong and how to fix it. */
export const SessionStorageMessages = {
  migrationLockTimeout: (seconds: number) =>
    `The session migrations waited ${seconds} s for another instance running them and gave up: ` +
    'start this instance again once that one is up.',
  notByteExact: (columns: string[]) =>
    `The session columns ${columns.join(', ')} are not utf8mb4 with a binary collation: emoji ` +
    'would fail and text would compare by its collation, not byte by byte. Create the session tables with the ' +
    'session migrations (`migrations: [...sessionMigrations]`) or `synchronize: true`; tables made ' +
    'any other way need utf8mb4 columns with a `_bin` collation (README, Storage).',
} as const;

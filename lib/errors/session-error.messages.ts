/** Every message text of the library, kept together so wording stays consistent. */
export const SessionErrorMessages = {
  accessTokenMissing: 'No access token: refresh the session and retry.',
  accessTokenInvalid: 'The access token is expired or invalid: refresh the session and retry.',
  accessTokenStale: 'The access token belongs to an older refresh generation: refresh and retry.',
  antiCsrfMismatch: 'The anti-csrf token is missing or does not match the session.',
  refreshTokenInvalid: 'The refresh token is missing or invalid: sign in again.',
  sessionMissing: 'The session does not exist or has expired: sign in again.',
  crossOriginUpgrade:
    "The connection's session cookies came from a page of another origin: connect from the app's own origin, or send the access token (handshake auth, Bearer or session.refresh).",
  tokenTheft: 'A refresh token was used twice: the session has been revoked. Sign in again.',
  accessTokenWrongUser: 'The access token does not belong to the user of its session: sign in again.',
  databaseUnavailable: 'The session store is unavailable or too slow; nothing was changed.',
  databaseOutcomeUnknown:
    'The session store is unavailable or too slow; the outcome is unknown: the change may still apply.',
  keyRingUnavailable:
    'The signing-key ring could not be loaded from the database (unavailable or too slow); nothing was changed.',
  keyRingOutcomeUnknown:
    'The signing-key ring could not be updated in the database (unavailable or too slow); the outcome is ' +
    'unknown: the change may still apply.',
  internal: 'The session library failed unexpectedly.',
  accessTokenOldPayload: 'The access token carries an older JWT payload: refresh and retry.',
  sessionNotFresh: (maxAge: number) =>
    `This action needs a sign-in less than ${maxAge} s ago: confirm your identity, then retry.`,
  concurrentPayloadChanges:
    'The JWT payload of this session kept changing concurrently; nothing was changed by this call: retry.',
  freshOptionInvalid: (fresh: unknown) =>
    `@VerifySession({ fresh }) must be a number of seconds ≥ 0, got ${JSON.stringify(fresh) ?? String(fresh)}.`,
  impersonationNotAllowed: 'An impersonated session cannot do this.',
  invalidClaim: 'The session lacks a claim this route requires.',
  staticKeysNotRotatable:
    'Static signing keys (accessToken.signingKey.keys) are rotated by changing the configuration.',
} as const;

const EXCLUDE_REFRESH_EXAMPLE = "{ exclude: [{ path: 'session/refresh', method: RequestMethod.POST }] }";

/** Start-up failures when the `sRefreshToken` cookie path cannot follow the refresh route. */
export const RefreshRouteMessages = {
  severalPaths: (paths: readonly string[]) =>
    `the refresh route is served at ${paths.map((path) => `'${path}'`).join(', ')}, but a cookie has one path. ` +
    "Give the refresh route one version with the `refreshVersion` option (e.g. VERSION_NEUTRAL from @nestjs/common, or '1'), " +
    'or set refreshToken.cookiePath to a path that covers all of them.',
  dynamicPath: (path: string) =>
    `the refresh route is served at '${path}', whose route parameter no cookie path can express. ` +
    `Exclude the refresh route from the global prefix (app.setGlobalPrefix(prefix, ${EXCLUDE_REFRESH_EXAMPLE})), ` +
    'or set refreshToken.cookiePath to a fixed path that covers it (such as the part before the parameter).',
  cookiePathMisses: (cookiePath: string, path: string) =>
    `refreshToken.cookiePath '${cookiePath}' does not cover the refresh route served at '${path}': ` +
    `the browser would never send the refresh cookie there. Set it to '${path}' or a parent of it, or remove it ` +
    'to follow the route.',
  notBrowserForm: (path: string, sentAs: string | undefined, cookiePath: boolean) =>
    `${cookiePath ? `refreshToken.cookiePath '${path}'` : `the refresh route is served at '${path}', which`} ` +
    (sentAs === undefined
      ? 'holds a character a cookie Path cannot carry (`;`, `<` or a control character)'
      : `is not the path a browser sends: it sends '${sentAs}', so the refresh cookie would never reach the route`) +
    (cookiePath
      ? `. Write it the way browsers send request paths${sentAs === undefined ? '' : ` ('${sentAs}')`}.`
      : ". Use only letters, digits and - . _ ~ ! $ & ' ( ) * + , = : @ in the global prefix, RouterModule paths, " +
        'versions and refreshToken.path (refreshPath with forRootAsync), or set refreshToken.cookiePath to a parent ' +
        "path that has none of the others (such as '/')."),
  ownRouteUnknown: (reasons: readonly string[]) =>
    `with refreshRoute: false the app serves the refresh route itself, and with ${reasons.join(' and ')} ` +
    'its path cannot be known from the global prefix and refreshToken.path. ' +
    "Set refreshToken.cookiePath to the path your refresh route is served at (such as '/v1/session/refresh').",
} as const;

/** Start-up failures of the session tables: what is wrong and how to fix it. */
export const SessionStorageMessages = {
  sessionLimitLockTimeout:
    "Another sign-in of the same user held the user's session-cap lock too long; nothing was changed.",
  migrationLockTimeout: (seconds: number) =>
    `The session migrations waited ${seconds} s for another instance running them and gave up: ` +
    'start this instance again once that one is up.',
  notByteExact: (columns: string[]) =>
    `The session columns ${columns.join(', ')} are not utf8mb4 with a binary collation: emoji ` +
    'would fail and text would compare by its collation, not byte by byte. Create the session tables with the ' +
    'session migrations (`migrations: [...sessionMigrations]`) or `synchronize: true`; tables made ' +
    'any other way need utf8mb4 columns with a `_bin` collation (README, Storage).',
} as const;

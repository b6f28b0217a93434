import { SessionErrorMessages as Messages } from '../errors/session-error.messages.js';
import { SessionError } from '../errors/session.error.js';
import type { ResolvedSessionOptions } from '../interfaces/session-options.interface.js';
import type { CreatedSession, RefreshedSession, SessionInfo } from '../interfaces/session.interface.js';
import { accessTokenTooLarge, type UserId } from '../session.arguments.js';
import { maxAccessTokenLength } from '../session.constants.js';
import type { SessionRecord } from '../storage/session-store.js';
import {
  accessTokenLength,
  signAccessToken,
  type AccessTokenClaims,
  type AccessTokenKey,
} from '../tokens/access-token.js';
import { deriveGenerationToken } from '../tokens/refresh-token.js';
import type { SubKeys } from '../tokens/secrets.js';

const SECOND = 1000;

/**
 * Issues the tokens of a session generation: the access token signed by the ring's current key,
 * the refresh token, and the idRefresh and anti-csrf tokens derived from the generation.
 */
export class SessionTokenIssuer {
  /** The longest access token the verifier and a browser cookie accept. */
  private readonly maxLength: number;

  constructor(
    private readonly options: ResolvedSessionOptions,
    private readonly keys: SubKeys,
    /** The key that signs now (bounded by `databaseTimeout`: the ring may need the database). */
    private readonly signingKey: () => Promise<AccessTokenKey>,
  ) {
    this.maxLength = maxAccessTokenLength(options.cookie);
  }

  /**
   * Refuses a session whose access token at `generation` would be longer than `maxLength`. The
   * size is exact (computed as signed, see `accessTokenLength`); a new session is checked at the
   * largest generation it can reach, so none of its refreshes can outgrow it. Only sessions stored
   * by older versions, or under other cookie options or keys, can fail at refresh: they must sign
   * in again.
   * @throws SessionError `GENERAL_ERROR` naming the argument that makes the token too large.
   */
  async assertAccessTokenFits(
    record: SessionRecord,
    generation: number,
    now: number,
    on: 'create' | 'refresh',
  ): Promise<void> {
    const signer = await this.signingKey();
    const { issuer, audience, validity } = this.options.accessToken;
    const claims = tokenClaimsOf(record, generation, JSON.parse(record.jwtPayload) as unknown);
    const lengthWith = (jwtPayload: unknown) =>
      accessTokenLength(signer, { ...claims, jwtPayload }, now, now + validity * SECOND, {
        issuer,
        audience,
      });
    const length = lengthWith(claims.jwtPayload);
    if (length <= this.maxLength) return;
    throw accessTokenTooLarge({
      on,
      length,
      limit: this.maxLength,
      algorithm: signer.algorithm,
      culprit: lengthWith({}) > this.maxLength ? 'userId' : 'jwtPayload',
      userId: claims.userId,
      jwtPayloadBytes: Buffer.byteLength(record.jwtPayload),
    });
  }

  /** The tokens of `record`'s generation, with `refreshToken` as its refresh token. */
  async issue(record: SessionRecord, refreshToken: string, now: number): Promise<CreatedSession> {
    const session: SessionInfo = {
      handle: record.handle,
      userId: userIdOf(record),
      jwtPayload: JSON.parse(record.jwtPayload),
    };
    const claims = tokenClaimsOf(record, record.generation, session.jwtPayload);
    if (claims.actor) session.actor = claims.actor;
    const validity = (record.accessTokenValidity ?? this.options.accessToken.validity) * SECOND;
    const accessExpires = Math.min(now + validity, record.expiresAt);
    const signer = await this.signingKey();
    const { issuer, audience } = this.options.accessToken;
    const accessToken = {
      value: await signAccessToken(signer, claims, now, accessExpires, { issuer, audience }),
      expires: Math.floor(accessExpires / SECOND) * SECOND,
    };
    // assertAccessTokenFits ran before any write; this only guards that its size stays exact.
    if (accessToken.value.length > this.maxLength) {
      throw new SessionError(SessionError.GENERAL_ERROR, Messages.internal);
    }
    // A "remember me"-less session's cookies end with the browser session.
    const browserSession = record.persistent === false ? { persistent: false } : {};
    return {
      session,
      accessToken,
      refreshToken: { value: refreshToken, expires: record.expiresAt, ...browserSession },
      idRefreshToken: {
        value: deriveGenerationToken(this.keys.idRefreshToken, record.handle, record.generation),
        expires: record.expiresAt,
        ...browserSession,
      },
      antiCsrfToken:
        this.options.antiCsrf === 'token'
          ? deriveGenerationToken(this.keys.antiCsrf, record.handle, record.generation)
          : undefined,
    };
  }
}

/** Issued tokens under the names `refreshSession` returns them with. */
export function renewed(tokens: CreatedSession): RefreshedSession {
  return {
    session: tokens.session,
    newAccessToken: tokens.accessToken,
    newRefreshToken: tokens.refreshToken,
    newIdRefreshToken: tokens.idRefreshToken,
    newAntiCsrfToken: tokens.antiCsrfToken,
  };
}

/** The signed claims of `record` at `generation` (payload version, `auth_time` and `act` from the row). */
function tokenClaimsOf(record: SessionRecord, generation: number, jwtPayload: unknown) {
  const claims: Omit<AccessTokenClaims, 'expiresAt'> = {
    userId: userIdOf(record),
    handle: record.handle,
    generation,
    jwtPayload,
    payloadVersion: record.payloadVersion,
  };
  // auth_time is the user's own authentication: an impersonation has none, so it is never fresh.
  if (record.actor === null) claims.authTime = Math.floor((record.authTime ?? record.createdAt) / SECOND);
  else claims.actor = JSON.parse(record.actor) as { sub: string };
  return claims;
}

/** The user id of a row, with the type it was given to `createNewSession`. */
export function userIdOf(record: Pick<SessionRecord, 'userId' | 'userIdType'>): UserId {
  return record.userIdType === 'number' ? Number(record.userId) : record.userId;
}

const SECOND = 1000;

/** The expiry of an access token the engine has just verified, epoch ms (its `exp` claim). */
export function accessTokenExpiry(accessToken: string): number {
  const payload = accessToken.slice(accessToken.indexOf('.') + 1, accessToken.lastIndexOf('.'));
  const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp: number };
  return exp * SECOND;
}

/**
 * The access token of a microservice message: `authorization: Bearer <token>` in the transport's
 * headers (NATS headers, or any context with `getHeaders()`), else the payload's `accessToken`.
 */
export function messageAccessToken(rpcContext: object | undefined, data: unknown): string | undefined {
  const headers = (rpcContext as { getHeaders?: () => unknown } | undefined)?.getHeaders?.();
  const header =
    typeof (headers as { get?: unknown })?.get === 'function'
      ? (headers as { get(name: string): string }).get('authorization')
      : (headers as Record<string, unknown> | undefined)?.authorization;
  if (typeof header === 'string' && /^bearer\s/i.test(header)) return header.slice(7).trim();
  const field = (data as { accessToken?: unknown } | null)?.accessToken;
  return typeof field === 'string' ? field : undefined;
}

import type { SessionMetadataInput } from '../interfaces/session-metadata.interface.js';
import { requestHeader, type HttpRequestLike } from './http-adapter.js';

/**
 * The client's IP and user agent as the adapter sees them: `req.ip` on Express and `request.ip` on
 * Fastify, which follow `X-Forwarded-For` only when the app trusts its proxy (Express
 * `app.set('trust proxy', …)`, Fastify `trustProxy`); a bare Node request gives its socket's peer.
 */
export function requestMetadata(request: HttpRequestLike): SessionMetadataInput {
  const { ip, socket } = request as { ip?: unknown; socket?: { remoteAddress?: unknown } };
  const address = typeof ip === 'string' ? ip : socket?.remoteAddress;
  return {
    ip: typeof address === 'string' ? address : undefined,
    userAgent: requestHeader(request, 'user-agent'),
  };
}

import type { IncomingHttpHeaders } from 'node:http';

/** The request shape both adapters share (Express `Request`, Fastify `FastifyRequest`). */
export interface HttpRequestLike {
  method?: string;
  headers: IncomingHttpHeaders;
}

/** An Express `Response` or a Fastify `FastifyReply`. */
export type HttpResponseLike = object;

interface FastifyReplyLike {
  request: HttpRequestLike;
  getHeader(name: string): unknown;
  header(name: string, value: unknown): unknown;
  removeHeader(name: string): unknown;
}

interface ExpressResponseLike {
  req: HttpRequestLike;
  getHeader(name: string): unknown;
  setHeader(name: string, value: string | string[]): unknown;
}

function isFastifyReply(response: object): response is FastifyReplyLike {
  return (
    'raw' in response &&
    'request' in response &&
    typeof (response as unknown as FastifyReplyLike).header === 'function'
  );
}

/** The request a response answers (`res.req` on Express, `reply.request` on Fastify). */
export function requestOf(response: HttpResponseLike): HttpRequestLike {
  const request = isFastifyReply(response) ? response.request : (response as ExpressResponseLike).req;
  if (!request?.headers) {
    throw new TypeError('Expected an Express Response or a Fastify reply (got something without a request).');
  }
  return request;
}

/** A response header as a list of values. */
export function headerValues(response: HttpResponseLike, name: string): string[] {
  const value = (response as ExpressResponseLike).getHeader(name);
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

/** Sets (replaces) a response header. */
export function setHeader(response: HttpResponseLike, name: string, value: string | string[]): void {
  if (isFastifyReply(response)) {
    // Fastify appends to an existing set-cookie header: remove it first to replace it.
    response.removeHeader(name);
    response.header(name, value);
  } else {
    (response as ExpressResponseLike).setHeader(name, value);
  }
}

/** Adds names to a comma-separated list header (e.g. `Access-Control-Expose-Headers`) once each. */
export function appendToListHeader(response: HttpResponseLike, name: string, items: readonly string[]): void {
  const present = headerValues(response, name)
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
  const lower = new Set(present.map((value) => value.toLowerCase()));
  const added = items.filter((item) => !lower.has(item.toLowerCase()));
  if (added.length > 0) setHeader(response, name, [...present, ...added].join(', '));
}

/** A request header's single value (the first of repeated ones). */
export function requestHeader(request: HttpRequestLike, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

import http from 'node:http';
import type { Response } from 'supertest';
import { CookieJar } from '../../support/cookies.js';

/** An answer of {@link HttpClient}; `headers` as Node gives them (Set-Cookie as a list). */
export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON, or `undefined` for an empty or non-JSON body. */
  body: Record<string, unknown> | undefined;
  /** Milliseconds from sending to the last byte. */
  elapsed: number;
}

export interface RequestOptions {
  /** A jar to send cookies from (and, unless `store` is false, to store the answer's cookies in). */
  jar?: CookieJar;
  store?: boolean;
  headers?: Record<string, string>;
  body?: unknown;
  /** Give up (throw) after this many ms. */
  timeout?: number;
}

/**
 * A small keep-alive HTTP client for apps listening on real ports (other processes, or the soak's
 * app): cheaper than fetch per request, and it never retries on its own.
 */
export class HttpClient {
  private readonly agent: http.Agent;

  constructor(
    readonly baseUrl: string,
    maxSockets = 64,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request(method: string, path: string, options: RequestOptions = {}): Promise<HttpAnswer> {
    const url = new URL(path, this.baseUrl);
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { ...options.headers };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const cookie = options.jar?.header();
    if (cookie) headers.cookie = cookie;
    const started = Date.now();
    return new Promise<HttpAnswer>((resolve, reject) => {
      const request = http.request(
        url,
        { method, headers, agent: this.agent, timeout: options.timeout ?? 30_000 },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: Record<string, unknown> | undefined;
            try {
              body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
            } catch {
              body = undefined;
            }
            const answer = {
              status: response.statusCode ?? 0,
              headers: response.headers,
              body,
              elapsed: Date.now() - started,
            };
            if (options.jar && options.store !== false) options.jar.store(asSupertest(answer));
            resolve(answer);
          });
        },
      );
      request.on('timeout', () =>
        request.destroy(new Error(`${method} ${path}: no answer within the timeout`)),
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  get(path: string, options?: RequestOptions): Promise<HttpAnswer> {
    return this.request('GET', path, options);
  }

  post(path: string, options?: RequestOptions): Promise<HttpAnswer> {
    return this.request('POST', path, options);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The shape `CookieJar` and `setCookies` read from a supertest response. */
export function asSupertest(answer: HttpAnswer): Response {
  return { headers: answer.headers } as unknown as Response;
}

/** Names of the cookies an answer sets (cleared ones included). */
export function cookieNames(answer: HttpAnswer): string[] {
  const list = answer.headers['set-cookie'] ?? [];
  return list.map((raw) => raw.slice(0, raw.indexOf('=')));
}

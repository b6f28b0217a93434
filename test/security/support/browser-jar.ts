import type { Response } from 'supertest';
import { setCookies } from '../../support/cookies.js';

interface StoredCookie {
  name: string;
  value: string;
  /** `undefined` for a host-only cookie. */
  domain: string | undefined;
  path: string;
  created: number;
}

/**
 * A cookie jar that keys cookies as browsers do (name, domain, path), so a host-only cookie and a
 * domain cookie of the same name live side by side and are both sent, as after a changed
 * `cookie.domain`.
 */
export class BrowserJar {
  private readonly cookies = new Map<string, StoredCookie>();
  private sequence = 0;

  constructor(private readonly host: string) {}

  /** Applies a response's Set-Cookie headers. */
  store(response: Response): this {
    for (const cookie of setCookies(response)) {
      const domain = cookie.domain?.replace(/^\./, '').toLowerCase();
      if (domain !== undefined && this.host !== domain && !this.host.endsWith(`.${domain}`)) continue;
      const path = cookie.path ?? '/';
      const key = `${cookie.name}|${domain ?? ''}|${path}`;
      const expired = cookie.expires !== undefined && cookie.expires.getTime() <= Date.now();
      if (expired) {
        this.cookies.delete(key);
      } else {
        const created = this.cookies.get(key)?.created ?? this.sequence++;
        this.cookies.set(key, { name: cookie.name, value: cookie.value, domain, path, created });
      }
    }
    return this;
  }

  /** Every copy of a cookie the jar would send to `path`. */
  values(name: string, path = '/'): string[] {
    return this.matching(path)
      .filter((cookie) => cookie.name === name)
      .map((cookie) => cookie.value);
  }

  /** The Cookie header for a request to `path` (longer paths first, then older cookies first). */
  header(path = '/'): string {
    return this.matching(path)
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }

  private matching(path: string): StoredCookie[] {
    return [...this.cookies.values()]
      .filter((cookie) => cookie.path === '/' || path === cookie.path || path.startsWith(`${cookie.path}/`))
      .sort((a, b) => b.path.length - a.path.length || a.created - b.created);
  }
}

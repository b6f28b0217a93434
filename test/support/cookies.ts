import { parseSetCookie } from 'cookie';
import type { Response } from 'supertest';

/** One Set-Cookie of a response, attributes parsed. */
export interface SetCookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  expires?: Date;
  httpOnly: boolean;
  secure: boolean;
  sameSite?: string;
  raw: string;
}

/** Every Set-Cookie of a response. */
export function setCookies(response: Response): SetCookie[] {
  const header = response.headers['set-cookie'] as unknown as string[] | string | undefined;
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return list.map((raw) => {
    const parsed = parseSetCookie(raw);
    return {
      name: parsed.name,
      value: parsed.value ?? '',
      path: parsed.path,
      domain: parsed.domain,
      expires: parsed.expires,
      httpOnly: parsed.httpOnly === true,
      secure: parsed.secure === true,
      sameSite: typeof parsed.sameSite === 'string' ? parsed.sameSite.toLowerCase() : undefined,
      raw,
    };
  });
}

/** The Set-Cookie of one name (the last one set). */
export function cookieNamed(response: Response, name: string): SetCookie | undefined {
  return setCookies(response)
    .filter((cookie) => cookie.name === name)
    .at(-1);
}

/** A browser-like jar: keeps the latest value of each cookie, drops cleared ones. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): this {
    for (const cookie of setCookies(response)) {
      if (cookie.value === '' || (cookie.expires && cookie.expires.getTime() <= Date.now())) {
        this.cookies.delete(cookie.name);
      } else {
        this.cookies.set(cookie.name, cookie.value);
      }
    }
    return this;
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  set(name: string, value: string): this {
    this.cookies.set(name, value);
    return this;
  }

  without(...names: string[]): CookieJar {
    const copy = new CookieJar();
    for (const [name, value] of this.cookies) if (!names.includes(name)) copy.set(name, value);
    return copy;
  }

  /** The Cookie request header. */
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

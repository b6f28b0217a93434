import { expect, vi } from 'vitest';
import type { Response } from 'supertest';
import type { DataSource } from 'typeorm';
import { SessionError } from '../../../lib/index.js';
import type { SessionStore } from '../../../lib/testing/index.js';
import { setCookies } from '../../support/cookies.js';
import {
  ACCESS_TOKEN_COOKIE,
  ID_REFRESH_TOKEN_COOKIE,
  ID_REFRESH_TOKEN_HEADER,
  REFRESH_TOKEN_COOKIE,
} from '../../../lib/http/wire.js';

export const SESSION_COOKIES = [ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, ID_REFRESH_TOKEN_COOKIE];

/** Awaits a rejection and checks it is a SessionError of `type`. */
export async function rejectsWith(
  promise: Promise<unknown>,
  type: string,
  label = '',
): Promise<SessionError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `${label}: expected a SessionError ${type}, got ${String(error)}`).toBeInstanceOf(
    SessionError,
  );
  expect((error as SessionError).type, label).toBe(type);
  return error as SessionError;
}

/** 401 TRY_REFRESH_TOKEN with the session cookies left alone. */
export function expectTryRefresh(response: Response, label = ''): void {
  const context = `${label} → ${response.status} ${response.text.slice(0, 200)}`;
  expect(response.status, context).toBe(401);
  expect(response.body?.type, context).toBe('TRY_REFRESH_TOKEN');
  expect(setCookies(response), context).toEqual([]);
  expect(response.headers[ID_REFRESH_TOKEN_HEADER], context).toBeUndefined();
}

/** A 401 of some session type, never a 5xx. */
export function expectUnauthenticated(response: Response, label = ''): void {
  const context = `${label} → ${response.status} ${response.text.slice(0, 200)}`;
  expect(response.status, context).toBe(401);
  expect(['TRY_REFRESH_TOKEN', 'UNAUTHORISED'], context).toContain(response.body?.type);
}

/** Every session cookie of the response is an expired, empty one. */
export function expectAllCleared(response: Response): void {
  const cookies = setCookies(response);
  expect(new Set(cookies.map((cookie) => cookie.name))).toEqual(new Set(SESSION_COOKIES));
  for (const cookie of cookies) {
    expect(cookie.value).toBe('');
    expect(cookie.expires?.getTime()).toBe(0);
  }
}

/** Counts SQL statements the data source sends (TypeORM reports each to its logger). */
export function countQueries(dataSource: DataSource): { readonly count: number; restore(): void } {
  const spy = vi.spyOn(dataSource.logger, 'logQuery');
  return {
    get count() {
      return spy.mock.calls.length;
    },
    restore: () => spy.mockRestore(),
  };
}

/** Spies on every method of the session store, to prove a call never reached storage. */
export function spyOnStore(store: SessionStore): { readonly calls: string[]; restore(): void } {
  const names = Object.getOwnPropertyNames(Object.getPrototypeOf(store)).filter(
    (name) =>
      name !== 'constructor' && typeof (store as unknown as Record<string, unknown>)[name] === 'function',
  );
  const spies = names.map((name) => [name, vi.spyOn(store as never, name as never)] as const);
  return {
    get calls() {
      return spies.flatMap(([name, spy]) =>
        (spy as { mock: { calls: unknown[] } }).mock.calls.map(() => name),
      );
    },
    restore: () => {
      for (const [, spy] of spies) (spy as { mockRestore(): void }).mockRestore();
    },
  };
}

/**
 * The refresh generation of a session row: a rotation bumps it. (A later successful refresh proves
 * nothing, since a rotated token still refreshes inside the grace period.)
 */
export async function generationOf(dataSource: DataSource, refreshToken: string): Promise<number> {
  const handle = refreshToken.split('.')[0];
  const [row] = await dataSource.query(
    `SELECT generation FROM session_info WHERE handle = '${handle.replace(/[^0-9a-f]/g, '')}'`,
  );
  return Number(row.generation);
}

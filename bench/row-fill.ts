// Bulk SQL that fills the session table with realistic rows (no round trip per row), written from
// the session row's column table so columns added later are filled too (with a neutral value).
import { SESSION_ROW, type SessionColumn } from '../lib/storage/session-row.js';

export type FillDialect = 'mariadb' | 'postgres';

/** Share of rows in "heavy" users of 50 sessions each; the rest belong to users of 2 or 3. */
export const HEAVY_SHARE = 0.04;
/** Sessions of a heavy user. */
export const HEAVY_SESSIONS = 50;

/** What the fill writes for row number `n` (an SQL integer expression), by column name. */
function expressions(dialect: FillDialect, now: number, heavyRows: number): Record<string, string> {
  const pg = dialect === 'postgres';
  const cat = (...parts: string[]) => (pg ? parts.join(' || ') : `CONCAT(${parts.join(', ')})`);
  const md5 = (text: string) => `MD5(${text})`;
  const int = (expression: string) => (pg ? `(${expression})::bigint` : `FLOOR(${expression})`);
  // Users: heavy ones first (50 rows each), then 2–3 rows each (5 rows to 2 users).
  const user = `CASE WHEN n <= ${heavyRows} THEN ${cat("'h'", `${int(`(n - 1) / ${HEAVY_SESSIONS}`)}`)} ELSE ${cat("'u'", `${int('n * 2 / 5')}`)} END`;
  const sha256 = (text: string) =>
    pg ? `encode(sha256(convert_to(${text}, 'UTF8')), 'hex')` : `SHA2(${text}, 256)`;
  const day = 86_400_000;
  // A third already expired; live rows expire within the next 100 days.
  const expires = `CASE WHEN MOD(n, 3) = 0 THEN ${now} - 1000 - MOD(n, ${day}) ELSE ${now} + ${day} + MOD(n * 7919, ${100 * day}) END`;
  const created = `${now} - ${day} - MOD(n * 104729, ${30 * day})`;
  return {
    handle: md5(cat("'row'", 'n')),
    user_key: sha256(user),
    user_id: user,
    user_id_type: "'string'",
    refresh_hash: cat(md5(cat("'t'", 'n')), md5(cat("'s'", 'n'))),
    generation: `1 + MOD(n, 7)`,
    ancestors: "'[]'",
    sealed_live_token: 'NULL',
    grace_until: '0',
    session_data: `'{"theme":"dark","locale":"en-GB"}'`,
    jwt_payload: `'{"role":"user"}'`,
    access_token_validity: 'NULL',
    created_at: created,
    last_refreshed_at: created,
    expires_at: expires,
    absolute_expires_at: 'NULL',
  };
}

function neutral(entry: SessionColumn): string {
  if (entry.options.nullable) return 'NULL';
  return entry.options.type === 'int' || entry.options.type === 'bigint' ? '0' : "''";
}

/**
 * One statement that inserts rows `first`..`last` (1-based) of a fill of `total` rows into
 * `table` (escaped). MariaDB reads the numbers from its Sequence engine, PostgreSQL from
 * `generate_series`.
 */
export function fillStatement(
  dialect: FillDialect,
  table: string,
  range: { first: number; last: number; total: number; now: number },
): string {
  const quote = (name: string) => (dialect === 'postgres' ? `"${name}"` : `\`${name}\``);
  const values = expressions(dialect, range.now, Math.floor(range.total * HEAVY_SHARE));
  const columns = SESSION_ROW.map((entry) => quote(entry.name)).join(', ');
  const select = SESSION_ROW.map((entry) => values[entry.name] ?? neutral(entry)).join(', ');
  const source =
    dialect === 'postgres'
      ? `generate_series(${range.first}::bigint, ${range.last}::bigint) AS series(n)`
      : `(SELECT seq AS n FROM seq_${range.first}_to_${range.last}) AS series`;
  return `INSERT INTO ${table} (${columns}) SELECT ${select} FROM ${source}`;
}

/** Statements that fill rows `from`..`to` in chunks of `chunk` rows. */
export function fillStatements(
  dialect: FillDialect,
  table: string,
  {
    from,
    to,
    total,
    now,
    chunk = 50_000,
  }: { from: number; to: number; total: number; now: number; chunk?: number },
): string[] {
  const statements: string[] = [];
  for (let first = from; first <= to; first += chunk) {
    statements.push(
      fillStatement(dialect, table, { first, last: Math.min(to, first + chunk - 1), total, now }),
    );
  }
  return statements;
}

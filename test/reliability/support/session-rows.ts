import mysql from 'mysql2/promise';
import { MARIADB } from '../../support/databases.js';

/** What a test reads of a session row. */
export interface SessionRow {
  handle: string;
  generation: number;
}

/**
 * A direct connection to a test database on MariaDB, past any fault proxy: tests read and lock
 * session rows with it while the app's own connections are broken.
 */
export class SessionRows {
  private constructor(private readonly connection: mysql.Connection) {}

  static async open(database: string): Promise<SessionRows> {
    return new SessionRows(await mysql.createConnection({ ...MARIADB, database }));
  }

  async find(handle: string): Promise<SessionRow | undefined> {
    const [rows] = await this.connection.query<mysql.RowDataPacket[]>(
      'SELECT handle, generation FROM session_info WHERE handle = ?',
      [handle],
    );
    return rows[0] ? { handle: rows[0].handle, generation: Number(rows[0].generation) } : undefined;
  }

  async count(where = '1 = 1', values: unknown[] = []): Promise<number> {
    const [rows] = await this.connection.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM session_info WHERE ${where}`,
      values,
    );
    return Number(rows[0].n);
  }

  /** Handles of every row. */
  async handles(): Promise<string[]> {
    const [rows] = await this.connection.query<mysql.RowDataPacket[]>('SELECT handle FROM session_info');
    return rows.map((row) => String(row.handle));
  }

  /**
   * Locks a session row in an open transaction, as a long admin transaction or a large cleanup
   * would; the returned function rolls it back.
   */
  async lock(handle: string): Promise<() => Promise<void>> {
    await this.connection.query('START TRANSACTION');
    await this.connection.query('SELECT handle FROM session_info WHERE handle = ? FOR UPDATE', [handle]);
    return async () => {
      await this.connection.query('ROLLBACK');
    };
  }

  async close(): Promise<void> {
    await this.connection.end();
  }
}

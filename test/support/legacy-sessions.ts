import type { DataSource } from 'typeorm';
import { createEngineApp } from './engine-app.js';
import { connectionOptions } from './databases.js';

/** A session as an older release left it in the database, and the refresh token its holder has. */
export interface LegacySession {
  handle: string;
  userId: string;
  refreshToken: string;
}

/**
 * Writes live sessions into `dataSource`'s session table as an older release wrote them: only the
 * columns its migrations created (read from the table itself). The rows are made by this version
 * on a scratch SQLite database with the same secret, so their tokens are genuine; an older
 * release's code cannot run against a newer entity.
 */
export async function insertLegacySessions(
  dataSource: DataSource,
  userIds: string[],
): Promise<LegacySession[]> {
  const scratch = await createEngineApp(connectionOptions('sqlite', 'scratch'));
  try {
    const sessions: LegacySession[] = [];
    for (const userId of userIds) {
      const created = await scratch.engine.createNewSession(userId, { n: 1 }, { pet: '🦕' });
      sessions.push({ handle: created.session.handle, userId, refreshToken: created.refreshToken.value });
    }
    const table = await dataSource.createQueryRunner().getTable('session_info');
    const columns = table!.columns.map((column) => column.name);
    const rows: Record<string, unknown>[] = await scratch.dataSource.query('SELECT * FROM session_info');
    await dataSource
      .createQueryBuilder()
      .insert()
      .into('session_info', columns)
      .values(rows.map((row) => Object.fromEntries(columns.map((name) => [name, row[name]]))))
      .execute();
    return sessions;
  } finally {
    await scratch.close();
  }
}

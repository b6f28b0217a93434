import type { DataSource } from 'typeorm';

/**
 * Runs `write` (this version's engine writing sessions) on tables built by the migrations before
 * `AddRevocationReasons1764720000000`, leaving them as that version would: the `persistent` column
 * the engine writes exists only meanwhile, with the value every earlier session had (1).
 */
export async function onSchemaBeforeRevocationReasons<T>(
  dataSource: DataSource,
  write: () => Promise<T>,
): Promise<T> {
  const table = dataSource.driver.escape('session_info');
  const column = dataSource.driver.escape('persistent');
  await dataSource.query(`ALTER TABLE ${table} ADD ${column} int NOT NULL DEFAULT 1`);
  try {
    return await write();
  } finally {
    await dataSource.query(`ALTER TABLE ${table} DROP COLUMN ${column}`);
  }
}

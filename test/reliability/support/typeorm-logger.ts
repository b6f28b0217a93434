import type { Logger } from 'typeorm';

/** TypeORM's console logger prints every slow query; the faults make every query slow. */
export const silentTypeOrmLogger: Logger = {
  logQuery: () => undefined,
  logQueryError: () => undefined,
  logQuerySlow: () => undefined,
  logSchemaBuild: () => undefined,
  logMigration: () => undefined,
  log: () => undefined,
};

import type { DynamicModule, Provider } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { SessionTableNames } from '../interfaces/session-options.interface.js';
import { ensureByteExactText } from './session.charset.js';
import { createSessionEntities } from './session.entities.js';
import { SESSION_STORE } from './session-store.js';
import { TypeOrmSessionStore } from './typeorm-session.store.js';
import { TypeOrmRevocationLog } from './revocation-log.js';
import { SESSION_REVOCATION_LOG } from './revocation-log.port.js';

/**
 * The module's TypeORM wiring (the one place outside `storage/` that would otherwise need TypeORM):
 * the session entities registered on the named data source, and the `SESSION_STORE` over them.
 * On MySQL/MariaDB the store's factory checks (or, after `synchronize`, fixes) the tables' charset.
 */
export function sessionStorage(
  tables: SessionTableNames | undefined,
  dataSource: string | undefined,
): { imports: DynamicModule[]; providers: Provider[] } {
  const entities = createSessionEntities(tables);
  return {
    imports: [TypeOrmModule.forFeature(Object.values(entities), dataSource)],
    providers: [
      {
        provide: SESSION_REVOCATION_LOG,
        useFactory: (source: DataSource) => new TypeOrmRevocationLog(source, entities),
        inject: [getDataSourceToken(dataSource)],
      },
      {
        provide: SESSION_STORE,
        useFactory: async (source: DataSource, log: TypeOrmRevocationLog) => {
          await ensureByteExactText(source, entities);
          return new TypeOrmSessionStore(source, entities, log);
        },
        inject: [getDataSourceToken(dataSource), SESSION_REVOCATION_LOG],
      },
    ],
  };
}

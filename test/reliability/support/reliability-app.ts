import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  SessionEngine,
  SessionModule,
  createSessionEntities,
  type SessionModuleOptions,
} from '../../../lib/index.js';
import { SESSION_STORE, type SessionStore } from '../../../lib/testing/index.js';
import { TypeOrmSessionStore } from '../../../lib/storage/typeorm-session.store.js';
import { TestController } from '../../fixtures/test.controller.js';
import { TEST_SECRET, sessionDatabaseModule } from '../../support/engine-app.js';
import { silentTypeOrmLogger } from './typeorm-logger.js';

export interface ReliabilityAppOptions {
  database: DataSourceOptions;
  options?: Partial<SessionModuleOptions>;
  /** Wraps the library's own store, e.g. to fail after a commit. */
  wrapStore?: (store: SessionStore) => SessionStore;
  /** Listen on a real port (for load, where supertest's per-request listen would not do). */
  listen?: boolean;
}

export interface ReliabilityApp {
  app: INestApplication;
  engine: SessionEngine;
  dataSource: DataSource;
  /** `http://127.0.0.1:port` when listening. */
  url: string;
  countSessions(): Promise<number>;
  close(): Promise<void>;
}

/** The fixture app of `test/fixtures` on Express, with the store optionally wrapped. */
export async function createReliabilityApp(config: ReliabilityAppOptions): Promise<ReliabilityApp> {
  let builder = Test.createTestingModule({
    imports: [
      sessionDatabaseModule(config.database, { logger: silentTypeOrmLogger }),
      SessionModule.forRoot({ secret: TEST_SECRET, ...config.options }),
    ],
    controllers: [TestController],
  });
  const wrap = config.wrapStore;
  if (wrap) {
    builder = builder.overrideProvider(SESSION_STORE).useFactory({
      factory: (dataSource: DataSource) => wrap(new TypeOrmSessionStore(dataSource, createSessionEntities())),
      inject: [DataSource],
    });
  }
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ logger: false });
  let url = '';
  if (config.listen) {
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  } else {
    await app.init();
  }
  const dataSource = app.get(DataSource);
  return {
    app,
    engine: app.get(SessionEngine),
    dataSource,
    url,
    countSessions: async () => {
      const [row] = await dataSource.query('SELECT COUNT(*) AS n FROM session_info');
      return Number(row.n);
    },
    close: () => app.close(),
  };
}

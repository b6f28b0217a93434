import {
  Catch,
  HttpException,
  Injectable,
  Module,
  type ArgumentsHost,
  type DynamicModule,
  type ExceptionFilter,
  type INestApplication,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import supertest from 'supertest';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  SESSION_CLOCK,
  SessionGuard,
  SessionModule,
  type SessionModuleExtras,
  type SessionModuleOptions,
} from '../../lib/index.js';
import { TestController } from '../fixtures/test.controller.js';
import { TEST_SECRET, sessionDatabaseModule } from './engine-app.js';
import { FakeClock } from './fake-clock.js';
import { captureLogs, type CapturedLogs } from './logs.js';

export type AdapterKind = 'express' | 'fastify';
export const ADAPTERS: AdapterKind[] = ['express', 'fastify'];

/** How the fixture registers the module. */
export type Registration = 'forRoot' | 'useFactory' | 'useClass' | 'useExisting';

export interface HttpAppOptions {
  adapter: AdapterKind;
  database: DataSourceOptions;
  options?: Partial<SessionModuleOptions>;
  extras?: SessionModuleExtras;
  registration?: Registration;
  globalGuard?: boolean;
  globalPrefix?: string;
  /** Install an app-wide catch-all exception filter, as many apps do. */
  catchAllFilter?: boolean;
  clock?: FakeClock;
  /** More controllers and providers for the fixture module. */
  controllers?: Type[];
  providers?: Provider[];
  /** More modules for the fixture module (e.g. a `RouterModule`). */
  imports?: (Type | DynamicModule)[];
  /** Options of the Fastify adapter (e.g. `trustProxy`). */
  fastify?: ConstructorParameters<typeof FastifyAdapter>[0];
  /** Routing set-up before `app.init()` (versioning, prefix options). */
  configure?: (app: INestApplication) => void;
}

export interface HttpApp {
  app: INestApplication;
  request: ReturnType<typeof supertest>;
  clock: FakeClock;
  dataSource: DataSource;
  /** What the app logged (e.g. a store failure, a throwing listener), instead of printing it. */
  logs: CapturedLogs;
  close(): Promise<void>;
}

/** A catch-all filter in the style of the Nest docs: status from HttpException, else 500. */
@Catch()
class CatchAllFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const context = host.switchToHttp();
    const response = context.getResponse();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    const body = exception instanceof HttpException ? exception.getResponse() : { message: 'error' };
    const payload = { ...(typeof body === 'object' ? body : { message: body }), filtered: true };
    if (typeof response.code === 'function') response.code(status).send(payload);
    else response.status(status).json(payload);
  }
}

function sessionModule(
  registration: Registration,
  options: SessionModuleOptions,
  extras: SessionModuleExtras,
) {
  @Injectable()
  class OptionsFactory {
    createSessionOptions(): SessionModuleOptions {
      return options;
    }
  }
  @Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
  class OptionsModule {}

  switch (registration) {
    case 'forRoot':
      return SessionModule.forRoot({ ...options, ...extras });
    case 'useFactory':
      return SessionModule.forRootAsync({ ...extras, useFactory: async () => options });
    case 'useClass':
      return SessionModule.forRootAsync({ ...extras, useClass: OptionsFactory });
    case 'useExisting':
      return SessionModule.forRootAsync({ ...extras, imports: [OptionsModule], useExisting: OptionsFactory });
  }
}

/** Boots the fixture app on a real HTTP adapter and database, served through supertest. */
export async function createHttpApp(config: HttpAppOptions): Promise<HttpApp> {
  const clock = config.clock ?? new FakeClock();
  const options: SessionModuleOptions = { secret: TEST_SECRET, ...config.options };
  const logs = captureLogs();
  const moduleRef = await Test.createTestingModule({
    imports: [
      sessionDatabaseModule(config.database),
      sessionModule(config.registration ?? 'forRoot', options, config.extras ?? {}),
      ...(config.imports ?? []),
    ],
    controllers: [TestController, ...(config.controllers ?? [])],
    providers: [
      ...(config.globalGuard ? [{ provide: APP_GUARD, useClass: SessionGuard }] : []),
      ...(config.providers ?? []),
    ],
  })
    .overrideProvider(SESSION_CLOCK)
    .useValue(clock)
    .setLogger(logs)
    .compile();
  const app =
    config.adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(config.fastify), { logger: logs })
      : moduleRef.createNestApplication({ logger: logs });
  if (config.globalPrefix) app.setGlobalPrefix(config.globalPrefix);
  if (config.catchAllFilter) app.useGlobalFilters(new CatchAllFilter());
  config.configure?.(app);
  try {
    await app.init();
  } catch (error) {
    await app.close();
    throw error;
  }
  if (config.adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
  return {
    app,
    request: supertest(app.getHttpServer()),
    clock,
    dataSource: app.get(DataSource),
    logs,
    close: () => app.close(),
  };
}

import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import {
  SessionEngine,
  SessionModule,
  createSessionEntities,
  createSessionMigrations,
  sessionEntities,
  sessionMigrations,
  type SessionModuleOptions,
} from '../lib/index.js';
import { TEST_SECRET } from './support/engine-app.js';

const sqlite = { type: 'sqljs' as const, retryAttempts: 1 };
const withMigrations = {
  ...sqlite,
  entities: sessionEntities,
  migrations: sessionMigrations,
  migrationsRun: true,
};

@Injectable()
class AppConfig {
  readonly sessionSecret = TEST_SECRET;
}

@Module({ providers: [AppConfig], exports: [AppConfig] })
class ConfigModule {}

@Injectable()
class SessionOptionsFactory {
  createSessionOptions(): SessionModuleOptions {
    return { secret: TEST_SECRET, accessToken: { validity: 120 } };
  }
}

@Module({ providers: [SessionOptionsFactory], exports: [SessionOptionsFactory] })
class SessionOptionsModule {}

let app: INestApplicationContext | undefined;

async function boot(imports: unknown[]): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({ imports: imports as never[] }).compile();
  app = await moduleRef.init();
  return app;
}

async function roundTrip(context: INestApplicationContext): Promise<void> {
  const engine = context.get(SessionEngine);
  const created = await engine.createNewSession('module-user', { from: 'module' });
  await expect(engine.getSession(created.accessToken.value, created.antiCsrfToken!)).resolves.toMatchObject({
    session: { userId: 'module-user', jwtPayload: { from: 'module' } },
  });
}

afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('SessionModule registration', () => {
  it('works with forRoot and the exported migrations', async () => {
    await roundTrip(
      await boot([TypeOrmModule.forRoot(withMigrations), SessionModule.forRoot({ secret: TEST_SECRET })]),
    );
  });

  it('works with forRootAsync useFactory + inject', async () => {
    const context = await boot([
      TypeOrmModule.forRoot(withMigrations),
      SessionModule.forRootAsync({
        imports: [ConfigModule],
        inject: [AppConfig],
        useFactory: (config: AppConfig) => ({ secret: config.sessionSecret }),
      }),
    ]);
    await roundTrip(context);
  });

  it('works with forRootAsync useClass', async () => {
    const context = await boot([
      TypeOrmModule.forRoot(withMigrations),
      SessionModule.forRootAsync({ useClass: SessionOptionsFactory }),
    ]);
    const created = await context.get(SessionEngine).createNewSession('u');
    expect(created.accessToken.expires - Date.now()).toBeLessThanOrEqual(120_000);
  });

  it('works with forRootAsync useExisting', async () => {
    const context = await boot([
      TypeOrmModule.forRoot(withMigrations),
      SessionModule.forRootAsync({ imports: [SessionOptionsModule], useExisting: SessionOptionsFactory }),
    ]);
    await roundTrip(context);
  });

  it('needs nothing else with autoLoadEntities: true', async () => {
    const context = await boot([
      TypeOrmModule.forRoot({ ...sqlite, autoLoadEntities: true, synchronize: true }),
      SessionModule.forRoot({ secret: TEST_SECRET }),
    ]);
    await roundTrip(context);
  });

  it('uses custom table names and a named data source', async () => {
    const tables = { sessions: 'app_sessions', signingKeys: 'app_keys' };
    const context = await boot([
      TypeOrmModule.forRoot({
        ...sqlite,
        name: 'auth',
        entities: Object.values(createSessionEntities(tables)),
        migrations: createSessionMigrations(tables),
        migrationsRun: true,
      }),
      SessionModule.forRootAsync({
        dataSource: 'auth',
        tables,
        useFactory: () => ({ secret: TEST_SECRET }),
      }),
    ]);
    await roundTrip(context);
    const dataSource = context.get<DataSource>(getDataSourceToken('auth'));
    const [{ n }] = await dataSource.query('SELECT COUNT(*) AS n FROM app_sessions');
    expect(Number(n)).toBe(1);
    const [{ k }] = await dataSource.query('SELECT COUNT(*) AS k FROM app_keys');
    expect(Number(k)).toBeGreaterThan(0);
  });

  it('fails start-up on a bad configuration with a message that says how to fix it', async () => {
    await expect(
      boot([TypeOrmModule.forRoot(withMigrations), SessionModule.forRoot({ secret: 'too-short' })]),
    ).rejects.toThrow(/secret.*at least 32 random bytes.*openssl rand/s);
    await expect(
      boot([
        TypeOrmModule.forRoot(withMigrations),
        SessionModule.forRootAsync({
          useFactory: () => ({ secret: TEST_SECRET, refreshToken: { gracePeriod: 120 } }),
        }),
      ]),
    ).rejects.toThrow(/gracePeriod must be between 1 and 60/);
  });
});

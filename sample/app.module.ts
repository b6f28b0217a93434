import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSourceOptions } from 'typeorm';
import {
  SessionModule,
  sessionEntities,
  sessionMigrations,
  type SessionModuleOptions,
} from '../lib/index.js';
import { AppController } from './app.controller.js';
import { AuthController } from './auth/auth.controller.js';
import { LocalStrategy } from './auth/local.strategy.js';
import { Note } from './notes/note.entity.js';
import { CreateSampleTables1763769700000 } from './sample.migrations.js';
import { User } from './users/user.entity.js';
import { UsersService } from './users/users.service.js';

/** What the sample needs to start. */
export interface SampleConfig {
  database: DataSourceOptions;
  session: SessionModuleOptions;
  /**
   * Logins and refreshes allowed per client per minute.
   * @default 30
   */
  rateLimit?: number;
}

@Module({})
export class AppModule {
  static forRoot(config: SampleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          ...config.database,
          entities: [...sessionEntities, User, Note],
          migrations: [...sessionMigrations, CreateSampleTables1763769700000],
          migrationsRun: true,
        } as DataSourceOptions),
        TypeOrmModule.forFeature([User, Note]),
        SessionModule.forRoot(config.session),
        // Applies to the auth routes and the library's refresh route; the app's own routes skip it.
        ThrottlerModule.forRoot([{ ttl: 60_000, limit: config.rateLimit ?? 30 }]),
      ],
      controllers: [AuthController, AppController],
      providers: [UsersService, LocalStrategy, { provide: APP_GUARD, useClass: ThrottlerGuard }],
    };
  }
}

import { Controller, Get, HttpCode, Module, Param, Post, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSourceOptions } from 'typeorm';
import {
  PublicAccess,
  SessionEngine,
  SessionEvents,
  SessionModule,
  sessionEntities,
  type SessionModuleOptions,
} from '../../../lib/index.js';
import { TestController } from '../../fixtures/test.controller.js';
import { silentTypeOrmLogger } from '../support/typeorm-logger.js';

/** What one instance process is told by its parent, through the environment. */
export interface InstanceSettings {
  name: string;
  database: DataSourceOptions;
  session: SessionModuleOptions;
}

/**
 * Operator routes of the test instances. Public on purpose: these processes listen on 127.0.0.1
 * for one test file only; a real app would guard such routes.
 */
@Controller('ops')
class InstanceOpsController {
  /** Revocation-bus health events seen by this instance, in order. */
  private readonly revocationEvents: string[] = [];

  constructor(
    private readonly engine: SessionEngine,
    events: SessionEvents,
  ) {
    events.on('revocation.degraded', () => this.revocationEvents.push('degraded'));
    events.on('revocation.restored', () => this.revocationEvents.push('restored'));
  }

  @PublicAccess()
  @Get('revocation-events')
  revocationHealthEvents() {
    return { events: this.revocationEvents };
  }

  @PublicAccess()
  @Get('health')
  health() {
    return { instance: process.env.INSTANCE_NAME, pid: process.pid };
  }

  @PublicAccess()
  @Post('rotate-keys')
  @HttpCode(200)
  async rotateKeys() {
    return { kid: await this.engine.rotateSigningKeys({ immediately: true }) };
  }

  @PublicAccess()
  @Get('revocation')
  revocation() {
    return this.engine.revocationStatus();
  }

  @PublicAccess()
  @Post('revoke/:handle')
  @HttpCode(200)
  async revoke(@Param('handle') handle: string) {
    return { revoked: await this.engine.revokeSessionUsingSessionHandle(handle) };
  }

  @PublicAccess()
  @Post('revoke-for-user/:userId/:handle')
  @HttpCode(200)
  async revokeForUser(@Param('userId') userId: string, @Param('handle') handle: string) {
    return { revoked: await this.engine.revokeSessionForUser(handle, userId) };
  }

  @PublicAccess()
  @Post('revoke-others/:userId/:keep')
  @HttpCode(200)
  async revokeOthers(@Param('userId') userId: string, @Param('keep') keep: string) {
    return { revoked: await this.engine.revokeOtherSessions(userId, keep) };
  }

  @PublicAccess()
  @Post('revoke-all/:userId')
  @HttpCode(200)
  async revokeAll(@Param('userId') userId: string) {
    return { revoked: await this.engine.revokeAllSessionsForUser(userId) };
  }
}

/** The fixture routes of `test/fixtures` plus the operator routes, on MariaDB. */
@Module({})
export class InstanceModule {
  static register(settings: InstanceSettings): DynamicModule {
    return {
      module: InstanceModule,
      imports: [
        TypeOrmModule.forRoot({
          ...settings.database,
          entities: sessionEntities,
          // The parent migrated the schema: instances starting together must not race on DDL.
          migrationsRun: false,
          retryAttempts: 1,
          logger: silentTypeOrmLogger,
        }),
        SessionModule.forRoot(settings.session),
      ],
      controllers: [TestController, InstanceOpsController],
    };
  }
}

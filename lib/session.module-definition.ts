import {
  ConfigurableModuleBuilder,
  RequestMethod,
  type Provider,
  type Type,
  type VERSION_NEUTRAL,
} from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { LoginStrategyRegistry } from './login/login-strategy.registry.js';
import { ClaimFetcherRegistry } from './claim-validation/claim-fetcher.registry.js';
import { ClaimValidation } from './claim-validation/claim-validation.js';
import { SessionBodylessRoutes, type BodylessController } from './http/bodyless-routes.js';
import type { SessionModuleOptions, SessionTableNames } from './interfaces/session-options.interface.js';
import { SessionEngine } from './session.engine.js';
import { SessionEvents } from './session.events.js';
import {
  SESSION_BODYLESS_CONTROLLERS,
  SESSION_CLOCK,
  SESSION_REFRESH_CONTROLLER,
  SESSION_RESOLVED_OPTIONS,
} from './session.constants.js';
import { DEFAULT_SESSION_OPTIONS, resolveSessionOptions } from './session.options.js';
import { SessionJwksController } from './session-jwks.controller.js';
import { createRefreshController } from './session-refresh.controller.js';
import { SessionConnections } from './connections/session-connections.js';
import { SessionGuard } from './session.guard.js';
import { SessionService } from './session.service.js';
import { sessionStorage } from './storage/session-storage.providers.js';
import { revocationProviders } from './revocation/revocation.providers.js';
import { systemClock } from './tokens/clock.js';
import { SessionObservability } from './observability/session-observability.js';
import { SessionTelemetry } from './observability/session-telemetry.js';

/** Settings needed while the module is built, accepted by `forRoot` and `forRootAsync` alike. */
export interface SessionModuleExtras {
  /**
   * Register the module globally, so every module can inject `SessionEngine`.
   * @default true
   */
  isGlobal?: boolean;
  /**
   * Name of the TypeORM data source holding the session tables.
   * @default the default data source
   */
  dataSource?: string;
  /** Table names of the session entities (use `createSessionEntities`/`createSessionMigrations` with the same names). */
  tables?: SessionTableNames;
  /**
   * Register the refresh route. Turn it off to serve refresh yourself with `SessionService.refreshSession`.
   * @default true
   */
  refreshRoute?: boolean;
  /**
   * Path of the refresh route when the options come from `forRootAsync` (with `forRoot`,
   * `refreshToken.path` sets it).
   * @default '/session/refresh'
   */
  refreshPath?: string;
  /**
   * Version of the refresh route under `app.enableVersioning()`, e.g. `VERSION_NEUTRAL` to serve it
   * without a `/v1` prefix. A single version is needed where the app's default version is an array
   * (a cookie has one path).
   * @default the app's default version, like any route
   */
  refreshVersion?: string | typeof VERSION_NEUTRAL;
}

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: SESSION_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<SessionModuleOptions>({ moduleName: 'Session' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createSessionOptions')
  .setExtras<SessionModuleExtras>(
    {
      isGlobal: true,
      dataSource: undefined,
      tables: undefined,
      refreshRoute: true,
      refreshPath: undefined,
      refreshVersion: undefined,
    },
    (definition, extras) => {
      const storage = sessionStorage(extras.tables, extras.dataSource);
      const refreshPath = extras.refreshPath ?? DEFAULT_SESSION_OPTIONS.refreshToken.path;
      const refreshController =
        extras.refreshRoute !== false ? createRefreshController(refreshPath, extras.refreshVersion) : null;
      // What other modules may inject; the module's own wiring stays private.
      const exported: Provider[] = [
        {
          provide: SESSION_RESOLVED_OPTIONS,
          useFactory: (options: SessionModuleOptions) => resolveSessionOptions(options, { refreshPath }),
          inject: [SESSION_MODULE_OPTIONS],
        },
        { provide: SESSION_CLOCK, useValue: systemClock },
        SessionEvents,
        SessionEngine,
        LoginStrategyRegistry,
        ClaimFetcherRegistry,
        SessionService,
        SessionGuard,
        {
          provide: SessionObservability,
          useFactory: (...args: ConstructorParameters<typeof SessionObservability>) =>
            new SessionObservability(...args),
          inject: [
            SESSION_MODULE_OPTIONS,
            SessionTelemetry,
            SessionEvents,
            SessionEngine,
            SessionService,
            SESSION_CLOCK,
          ],
        },
        SessionConnections,
      ];
      const internal: Provider[] = [
        ...storage.providers,
        ...revocationProviders,
        { provide: SESSION_REFRESH_CONTROLLER, useValue: refreshController },
        {
          provide: SESSION_BODYLESS_CONTROLLERS,
          useValue: [
            ...(refreshController ? [{ controller: refreshController, method: RequestMethod.POST }] : []),
            { controller: SessionJwksController, method: RequestMethod.GET },
          ] satisfies BodylessController[],
        },
        SessionBodylessRoutes,
        {
          // `@opentelemetry/api` is imported here, at start-up, only if installed and not turned off.
          provide: SessionTelemetry,
          useFactory: (options: SessionModuleOptions, resolved: { secret: string }) =>
            SessionTelemetry.load(resolved.secret, options.telemetry),
          inject: [SESSION_MODULE_OPTIONS, SESSION_RESOLVED_OPTIONS],
        },
        ClaimValidation,
      ];
      const controllers: Type[] = [SessionJwksController];
      if (refreshController) controllers.unshift(refreshController);
      return {
        ...definition,
        global: extras.isGlobal,
        controllers: [...(definition.controllers ?? []), ...controllers],
        imports: [...(definition.imports ?? []), DiscoveryModule, ...storage.imports],
        providers: [...(definition.providers ?? []), ...internal, ...exported],
        exports: [
          ...(definition.exports ?? []),
          ...exported.map((provider) => ('provide' in provider ? provider.provide : provider)),
        ],
      };
    },
  )
  .build();

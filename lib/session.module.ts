import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigurableModuleClass, OPTIONS_TYPE } from './session.module-definition.js';

/**
 * Login sessions for a Nest app: `SessionModule.forRoot({ secret })` (or `forRootAsync`) in the
 * root module, next to a TypeORM data source that holds the session tables.
 */
@Module({})
export class SessionModule extends ConfigurableModuleClass {
  /** Registers the module with static options; `refreshToken.path` also mounts the refresh route. */
  static override forRoot(options: typeof OPTIONS_TYPE): DynamicModule {
    return super.forRoot({ refreshPath: options?.refreshToken?.path, ...options });
  }
}

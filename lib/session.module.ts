import { Module } from '@nestjs/common';
import { ConfigurableModuleClass } from './session.module-definition.js';

/**
 * Login sessions for a Nest app: `SessionModule.forRoot({ secret })` (or `forRootAsync`) in the
 * root module, next to a TypeORM data source that holds the session tables.
 */
@Module({})
export class SessionModule extends ConfigurableModuleClass {}

export { SessionError, isErrorFromAuth } from './errors/session.error.js';
export type { SessionErrorOptions, SessionErrorType, TokenTheftDetails } from './errors/session.error.js';
export type * from './interfaces/session-options.interface.js';
export type * from './interfaces/session.interface.js';
export type { UserId } from './session.arguments.js';
export {
  MAX_JWT_PAYLOAD_BYTES,
  MAX_SESSION_DATA_BYTES,
  MAX_USER_ID_LENGTH,
  SESSION_CLOCK,
} from './session.constants.js';
export { SessionEngine } from './session.engine.js';
export type { SessionModuleExtras } from './session.module-definition.js';
export { SessionModule } from './session.module.js';
export { DEFAULT_SESSION_OPTIONS, resolveSessionOptions } from './session.options.js';
export {
  createSessionEntities,
  DEFAULT_TABLE_NAMES,
  sessionEntities,
  type SessionEntities,
} from './storage/session.entities.js';
export { createSessionMigrations, sessionMigrations } from './storage/session.migrations.js';
export type { SessionClock } from './tokens/clock.js';
export { systemClock } from './tokens/clock.js';

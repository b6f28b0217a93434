// Entry `nestjs-token-session/terminus`: the only files that import @nestjs/terminus.
export { SessionHealthIndicator } from './session-health.indicator.js';
export type { SessionHealth } from './session-health.js';

/** Injection token of the {@link SessionClock} the engine reads time from; override it in tests. */
export const SESSION_CLOCK = Symbol('SESSION_CLOCK');
/** Injection token of the resolved (defaults applied, validated) options. */
export const SESSION_RESOLVED_OPTIONS = Symbol('SESSION_RESOLVED_OPTIONS');
/** Injection token of the mounted refresh controller class (`null` when `refreshRoute` is false). */
export const SESSION_REFRESH_CONTROLLER = Symbol('SESSION_REFRESH_CONTROLLER');
/** Injection token of the library's routes that read no body (`BodylessController[]`). */
export const SESSION_BODYLESS_CONTROLLERS = Symbol('SESSION_BODYLESS_CONTROLLERS');
/** Injection token of the entity schemas the module was built with. */
export const SESSION_ENTITIES = Symbol('SESSION_ENTITIES');

/** Largest JSON text of a session's `jwtPayload`: it travels in the access-token cookie. */
export const MAX_JWT_PAYLOAD_BYTES = 2048;
/** Largest JSON text of a session's data. */
export const MAX_SESSION_DATA_BYTES = 32 * 1024;
/** Longest user id, in UTF-16 code units. */
export const MAX_USER_ID_LENGTH = 255;
/** Deepest nesting of `jwtPayload` and session data. */
export const MAX_JSON_DEPTH = 32;
/** How many rotated tokens a session remembers inside its grace period. */
export const MAX_REMEMBERED_ANCESTORS = 16;

/** How a request's session was authenticated: the transport its credential came by. */
export type CredentialTransport = 'cookie' | 'header';

/**
 * A symbol property on the raw Node request rather than a `WeakMap` entry: one ephemeron per
 * request was a measurable share of the guard's garbage-collection time.
 */
const AUTHENTICATED_BY = Symbol('nestjs-token-session:authenticated-by');

type Marked = { [AUTHENTICATED_BY]?: CredentialTransport };

/** Records the transport `key`'s (the raw request's) session was authenticated with. */
export function setAuthenticatedBy(key: object, transport: CredentialTransport): void {
  (key as Marked)[AUTHENTICATED_BY] = transport;
}

/** The transport recorded by {@link setAuthenticatedBy}; `undefined` when none was. */
export function authenticatedBy(key: object): CredentialTransport | undefined {
  return (key as Marked)[AUTHENTICATED_BY];
}

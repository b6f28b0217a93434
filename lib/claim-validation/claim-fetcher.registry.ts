import { Injectable, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { SessionError } from '../errors/session.error.js';
import { markedProviders } from '../login/marked-providers.js';
import { VERIFY_SESSION_METADATA, type VerifySessionOptions } from '../session.decorators.js';
import { CLAIM_FETCHER_METADATA, type ClaimFetcher } from './claim-fetcher.js';

/**
 * The claim fetchers of the app: every provider marked `@ClaimFetcher(claim)`, plus registered ones.
 * At start-up, a controller route whose validator has a `maxAge` for a claim without a fetcher
 * fails `app.init()` (`GENERAL_ERROR`) instead of its first request.
 */
@Injectable()
export class ClaimFetcherRegistry implements OnModuleInit, OnApplicationBootstrap {
  private readonly fetchers = new Map<string, ClaimFetcher>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    for (const [claim, instance] of markedProviders<ClaimFetcher>(
      this.discovery,
      this.reflector,
      CLAIM_FETCHER_METADATA,
    )) {
      this.register(claim, instance);
    }
  }

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getControllers()) {
      for (const [target, where] of routeTargets(wrapper.metatype)) {
        const options = this.reflector.get(VERIFY_SESSION_METADATA, target) as
          VerifySessionOptions | undefined;
        for (const validator of options?.claims ?? []) {
          if (typeof validator?.claim !== 'string' || typeof validator.validate !== 'function') {
            throw new SessionError(SessionError.GENERAL_ERROR, notAValidator(validator, where));
          }
          if (validator.maxAge !== undefined && !this.fetchers.has(validator.claim)) {
            throw new SessionError(SessionError.GENERAL_ERROR, missingFetcher(validator.claim, where));
          }
        }
      }
    }
  }

  /**
   * Adds a fetcher by hand (e.g. one built at run time), before the app bootstraps (in a provider's
   * `onModuleInit`), so the start-up check of `maxAge` claims sees it.
   * @throws SessionError `GENERAL_ERROR` for an object without `fetchValue` or a second fetcher of a claim.
   */
  register(claim: string, fetcher: ClaimFetcher): void {
    if (typeof fetcher?.fetchValue !== 'function') {
      throw new SessionError(
        SessionError.GENERAL_ERROR,
        `Claim fetcher for '${claim}' has no fetchValue(userId, session) method.`,
      );
    }
    if (this.fetchers.has(claim) && this.fetchers.get(claim) !== fetcher) {
      throw new SessionError(
        SessionError.GENERAL_ERROR,
        `Two claim fetchers are registered for '${claim}': keep one @ClaimFetcher('${claim}') provider.`,
      );
    }
    this.fetchers.set(claim, fetcher);
  }

  /** The fetcher of `claim`. @throws SessionError `GENERAL_ERROR` when there is none. */
  get(claim: string, where = 'a getSession call'): ClaimFetcher {
    const fetcher = this.fetchers.get(claim);
    if (!fetcher) throw new SessionError(SessionError.GENERAL_ERROR, missingFetcher(claim, where));
    return fetcher;
  }
}

/** A controller class and its own methods, each with the name an error message gives it. */
function routeTargets(type: Function | null | undefined): [Function, string][] {
  if (!type) return [];
  const targets: [Function, string][] = [[type, type.name]];
  for (const name of Object.getOwnPropertyNames(type.prototype)) {
    const method: unknown = Object.getOwnPropertyDescriptor(type.prototype, name)?.value;
    if (name !== 'constructor' && typeof method === 'function')
      targets.push([method, `${type.name}.${name}`]);
  }
  return targets;
}

function notAValidator(entry: unknown, where: string): string {
  return (
    `@VerifySession({ claims }) on ${where} holds ${JSON.stringify(entry) ?? String(entry)}, which is no claim ` +
    "validator: build them with SessionClaims (e.g. SessionClaims.includes('roles', 'admin'))."
  );
}

function missingFetcher(claim: string, where: string): string {
  return (
    `A validator of the claim '${claim}' in ${where} has a maxAge, but no fetcher supplies the claim: ` +
    `add a provider decorated with @ClaimFetcher('${claim}'), or drop the maxAge.`
  );
}

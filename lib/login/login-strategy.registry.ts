import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { SessionError } from '../errors/session.error.js';
import { markedProviders } from './marked-providers.js';
import { LOGIN_STRATEGY_METADATA, type LoginStrategy } from './login-strategy.js';

/** The login strategies of the app: every provider marked `@LoginStrategy(name)`, plus registered ones. */
@Injectable()
export class LoginStrategyRegistry implements OnModuleInit {
  private readonly strategies = new Map<string, LoginStrategy>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    for (const [name, instance] of markedProviders<LoginStrategy>(
      this.discovery,
      this.reflector,
      LOGIN_STRATEGY_METADATA,
    )) {
      this.register(name, instance);
    }
  }

  /** Adds a strategy by hand (e.g. one built at run time). */
  register(name: string, strategy: LoginStrategy): void {
    if (typeof strategy?.validate !== 'function') {
      throw new SessionError(
        SessionError.GENERAL_ERROR,
        `Login strategy '${name}' has no validate(credentials) method.`,
      );
    }
    if (this.strategies.has(name) && this.strategies.get(name) !== strategy) {
      throw new SessionError(
        SessionError.GENERAL_ERROR,
        `Two login strategies are named '${name}': give each @LoginStrategy() a unique name.`,
      );
    }
    this.strategies.set(name, strategy);
  }

  get(name: string): LoginStrategy | undefined {
    return this.strategies.get(name);
  }

  /** Names of the registered strategies. */
  names(): string[] {
    return [...this.strategies.keys()];
  }
}

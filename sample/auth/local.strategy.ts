import { Injectable } from '@nestjs/common';
import { LoginStrategy, type LoginStrategyResult } from '../../lib/index.js';
import { UsersService } from '../users/users.service.js';

interface LocalCredentials {
  username?: unknown;
  password?: unknown;
}

/** Username and password, checked against the sample's users table. */
@LoginStrategy('local')
@Injectable()
export class LocalStrategy implements LoginStrategy<LocalCredentials> {
  constructor(private readonly users: UsersService) {}

  async validate(credentials: LocalCredentials): Promise<LoginStrategyResult> {
    const user = await this.users.verify(credentials?.username, credentials?.password);
    return user && { userId: user.id, jwtPayload: { username: user.username } };
  }
}

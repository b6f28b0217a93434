import {
  BadRequestException,
  ConflictException,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { hashPassword, verifyPassword } from './password-hasher.js';
import { User } from './user.entity.js';

/** The demo account the README names. */
export const DEMO_USER = { username: 'demo', password: 'demo-password' };

const USERNAME = /^[a-z0-9_.-]{3,32}$/;

@Injectable()
export class UsersService implements OnApplicationBootstrap {
  /** Checked when the user is unknown, so both failures take the same path and time. */
  private readonly dummyHash = hashPassword('not-a-real-password');

  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!(await this.users.existsBy({ username: DEMO_USER.username }))) {
      await this.create(DEMO_USER.username, DEMO_USER.password);
    }
  }

  async create(username: unknown, password: unknown): Promise<User> {
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw new BadRequestException('username: 3 to 32 characters of a-z, 0-9, _ . -');
    }
    if (typeof password !== 'string' || password.length < 8 || password.length > 200) {
      throw new BadRequestException('password: 8 to 200 characters');
    }
    if (await this.users.existsBy({ username })) throw new ConflictException('That username is taken.');
    return this.users.save(this.users.create({ username, passwordHash: await hashPassword(password) }));
  }

  /** The user these credentials belong to, or `null`; unknown users cost one scrypt too. */
  async verify(username: unknown, password: unknown): Promise<User | null> {
    if (typeof username !== 'string' || typeof password !== 'string' || password.length > 200) return null;
    const user = USERNAME.test(username) ? await this.users.findOneBy({ username }) : null;
    const valid = await verifyPassword(password, user?.passwordHash ?? (await this.dummyHash));
    return user && valid ? user : null;
  }

  findById(id: number): Promise<User | null> {
    return this.users.findOneBy({ id });
  }
}

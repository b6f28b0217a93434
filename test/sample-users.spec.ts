import { beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('../sample/users/password-hasher.js', () => ({
  hashPassword: vi.fn(async (password: string) => `hashed:${password}`),
  verifyPassword: vi.fn(async (password: string, stored: string) => stored === `hashed:${password}`),
}));

const { verifyPassword } = await import('../sample/users/password-hasher.js');
const { UsersService } = await import('../sample/users/users.service.js');

describe("the sample's password check", () => {
  const stored = { id: 1, username: 'demo', passwordHash: 'hashed:right-password' };
  const users = {
    findOneBy: vi.fn(async ({ username }: { username: string }) => (username === 'demo' ? stored : null)),
  };
  const service = new UsersService(users as never);

  beforeEach(() => vi.mocked(verifyPassword).mockClear());

  it('takes the same path for an unknown user as for a wrong password: one hash check each', async () => {
    expect(await service.verify('demo', 'wrong-password')).toBeNull();
    expect(verifyPassword).toHaveBeenCalledTimes(1);
    expect(await service.verify('nobody', 'wrong-password')).toBeNull();
    expect(verifyPassword).toHaveBeenCalledTimes(2);
    expect(await service.verify('demo', 'right-password')).toEqual(stored);
    expect(verifyPassword).toHaveBeenCalledTimes(3);
  });
});

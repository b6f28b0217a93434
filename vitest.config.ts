import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['lib/**/*.spec.ts', 'test/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

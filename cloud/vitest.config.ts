import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Synthesizing the stack takes a few seconds on a busy 2-core machine; the agent test runs real processes.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});

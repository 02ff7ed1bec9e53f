import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests share root-only resources (nft tables, netns); files run in parallel
    // but each test names its own resources with a unique dedge prefix.
    pool: 'forks',
    // The skip report ends every run with each skipped test's reason and count (test/support/requirements.ts).
    reporters: ['default', './test/support/skipReport.ts'],
  },
});

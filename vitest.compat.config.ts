import { defineConfig } from 'vitest/config'

/**
 * The compat tier (`npm run test:compat`, run by .ci/run after installing redis-tools and
 * redis-server): tests that drive redis-cli / redis-benchmark and differential tests against a
 * real redis-server 7 started on a free loopback port.
 */
export default defineConfig({
  test: {
    include: ['test/compat/**/*.spec.ts', 'test/differential/**/*.spec.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})

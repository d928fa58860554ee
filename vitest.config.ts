import { defineConfig } from 'vitest/config'

/**
 * `npm test`: unit, property, integration and e2e tests that need only npm packages.
 * The compat tier (test/compat, test/differential) drives redis-cli, redis-benchmark and a real
 * redis-server; it runs with `npm run test:compat` (vitest.compat.config.ts) from .ci/run.
 * Property tests read FC_SEED / FC_NUM_RUNS (test/support/fc.ts) and print their seed.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    exclude: ['test/compat/**', 'test/differential/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})

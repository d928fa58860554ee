import { defineConfig } from 'vitest/config'

/**
 * The compat tier (`npm run test:compat`, run by .ci/run after `apt-get install -y redis-tools`):
 * tests that drive redis-cli, redis-benchmark and a real redis-server, plus the built `redust`
 * binary as a child process. The global setup builds dist/ first so the binary is current.
 */
export default defineConfig({
  test: {
    include: ['test/compat/**/*.spec.ts', 'test/differential/**/*.spec.ts'],
    globalSetup: ['test/compat/globalSetup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The benchmark and the mass insert load the machine: one file at a time.
    fileParallelism: false,
  },
})

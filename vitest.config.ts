import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Property tests read FC_SEED / FC_NUM_RUNS (see test/support/fc.ts) so a failing seed replays exactly.
  },
})

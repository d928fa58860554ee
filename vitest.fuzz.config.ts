import { defineConfig } from 'vitest/config'

/**
 * `npm run test:fuzz`: the long protocol fuzzing tier (test/fuzz/fuzz.long.ts: 1M decoder inputs,
 * 50k streams against a real server). The short tier (test/fuzz/protocol.spec.ts) runs in `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/fuzz/fuzz.long.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 120_000,
  },
})

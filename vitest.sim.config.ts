import { defineConfig } from 'vitest/config'

/**
 * `npm run test:sim`: the long deterministic simulation (test/sim/sim.long.ts, 10,000 seeds plus
 * 2,000 with reordered writeback). The short tier (test/sim/sim.spec.ts) runs in `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/sim/sim.long.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 60_000,
  },
})

import { defineConfig } from 'vitest/config'

/**
 * `npm run test:crash`: the long real-process crash loop (test/crash/crash.long.ts, 200 SIGKILL
 * cycles per fsync policy). The short tier (test/crash/crash.spec.ts) runs in `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/crash/crash.long.ts'],
    testTimeout: 3_600_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})

import { defineConfig } from 'vitest/config'

/** `npm run test:abuse`: abuse limits against a real server (test/abuse/abuse.long.ts). */
export default defineConfig({
  test: {
    include: ['test/abuse/abuse.long.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})

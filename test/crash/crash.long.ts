/**
 * The long real-process crash loop (`npm run test:crash`, vitest.crash.config.ts): 200 SIGKILL
 * cycles under `appendfsync always` and 200 under `everysec` (DURABILITY.md §9 tests 1, 2, 7),
 * 64 writer connections + 6 bank connections + an auditor, the kill landing 0.2–1.2 s into each
 * cycle, a BGREWRITEAOF in 40% of cycles so some kills land mid-checkpoint.
 *
 * CRASH_SEED, CRASH_CYCLES, CRASH_WRITERS, CRASH_MAX_KILL_MS override the defaults.
 */
import { describe, expect, it } from 'vitest'
import { formatFigures, runCrashLoop } from './crashLoop.js'
import { envInt, envSeed } from './support.js'

describe('real-process crash loop (long)', () => {
  it.each(['always', 'everysec'] as const)('SIGKILL under appendfsync %s: 0 acknowledged writes lost', async (policy) => {
    const cycles = envInt('CRASH_CYCLES', 200)
    const seed = envSeed('CRASH_SEED')
    console.log(`crash[${policy}] seed ${seed} (CRASH_SEED=${seed} to replay), ${cycles} cycles`)
    const f = await runCrashLoop({
      policy,
      cycles,
      seed,
      writers: envInt('CRASH_WRITERS', 64),
      bankers: 6,
      minKillMs: 200,
      maxKillMs: envInt('CRASH_MAX_KILL_MS', 1200),
      checkpointChance: 0.4,
    })
    console.log(formatFigures(f))
    expect(f.violations).toEqual([])
    expect(f.lost).toBe(0)
    expect(f.phantoms).toBe(0)
    expect(f.partialTx).toBe(0)
    expect(f.bankViolations).toBe(0)
    expect(f.restarts).toBe(cycles)
  }, 3_600_000)
})

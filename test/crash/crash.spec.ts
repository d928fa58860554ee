/**
 * The short real-process crash loop in `npm test` (issue 7, issue 3's "crash test that really
 * kills the process"): 20 SIGKILL cycles under `appendfsync always` and 5 under `everysec`, with
 * 50 writer connections, 4 bank connections and an auditor. The long version (200 cycles per
 * policy) is test/crash/crash.long.ts, run by `npm run test:crash`.
 *
 * Replay a run with CRASH_SEED=<seed printed> npx vitest run test/crash/crash.spec.ts.
 * No timing assertion: only what was recovered is checked.
 */
import { describe, expect, it } from 'vitest'
import { formatFigures, runCrashLoop } from './crashLoop.js'
import { envInt, envSeed } from './support.js'

describe('real-process crash loop (short)', () => {
  it.each([
    ['always', envInt('CRASH_CYCLES', 20)],
    ['everysec', envInt('CRASH_CYCLES_EVERYSEC', 5)],
  ] as const)('SIGKILL under appendfsync %s loses no acknowledged write (%i cycles)', async (policy, cycles) => {
    const seed = envSeed('CRASH_SEED')
    console.log(`crash[${policy}] seed ${seed} (CRASH_SEED=${seed} to replay)`)
    const f = await runCrashLoop({ policy, cycles, seed, writers: 50, bankers: 4, minKillMs: 60, maxKillMs: 300, checkpointChance: 0.3, log: () => undefined })
    console.log(formatFigures(f))
    expect(f.violations).toEqual([])
    expect(f.lost).toBe(0)
    expect(f.phantoms).toBe(0)
    expect(f.partialTx).toBe(0)
    expect(f.bankViolations).toBe(0)
    expect(f.restarts).toBe(cycles)
    expect(f.writesAcked).toBeGreaterThan(0)
  }, 300_000)
})

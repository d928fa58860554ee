/**
 * The automatic checkpoint policy (app/checkpoint.ts): Redis's save points, AOF growth and the
 * way out of a failed log, with the retry delay after a failed checkpoint. Time is explicit.
 */
import { describe, expect, it } from 'vitest'
import { DEFAULT_CHECKPOINT_POLICY, parseSaveRules, shouldCheckpoint, type PolicyStats } from '../../src/app/checkpoint.js'

const T = 1_700_000_000_000
const MiB = 1024 * 1024

const idle: PolicyStats = {
  checkpointInProgress: false,
  changesSinceLastSave: 0,
  lastSaveAt: T,
  lastCheckpointStatus: 'ok',
  lastCheckpointAttemptAt: undefined,
  aofCurrentSize: 1000,
  aofBaseSize: 1000,
  failure: undefined,
}

describe('shouldCheckpoint', () => {
  it('does nothing without changes or growth', () => {
    expect(shouldCheckpoint(idle, T + 10 * 3600_000)).toBeUndefined()
  })

  it('fires a save point once both its changes and its seconds are reached', () => {
    const stats = { ...idle, changesSinceLastSave: 100 }
    expect(shouldCheckpoint(stats, T + 299_999)).toBeUndefined()
    expect(shouldCheckpoint(stats, T + 300_000)).toEqual({ reason: 'save-rule', detail: '100 changes in 300 seconds' })
    expect(shouldCheckpoint({ ...idle, changesSinceLastSave: 1 }, T + 3600_000)?.reason).toBe('save-rule')
  })

  it('fires when the log doubled over its size after the last checkpoint and is over the minimum size', () => {
    expect(shouldCheckpoint({ ...idle, aofBaseSize: 40 * MiB, aofCurrentSize: 79 * MiB }, T)).toBeUndefined()
    expect(shouldCheckpoint({ ...idle, aofBaseSize: 40 * MiB, aofCurrentSize: 80 * MiB }, T)?.reason).toBe('aof-growth')
    expect(shouldCheckpoint({ ...idle, aofBaseSize: 1, aofCurrentSize: 60 * MiB }, T)).toBeUndefined() // under 64 MiB
    expect(shouldCheckpoint({ ...idle, aofBaseSize: 1, aofCurrentSize: 65 * MiB }, T, { ...DEFAULT_CHECKPOINT_POLICY, aofRewritePercentage: 0 })).toBeUndefined()
  })

  it('tries to leave the failed state with a checkpoint, retrying every 5 s after a failed one', () => {
    const failed = { ...idle, failure: 'Errors writing to the AOF file: ENOSPC' }
    expect(shouldCheckpoint(failed, T)?.reason).toBe('log-failure')
    const retried = { ...failed, lastCheckpointStatus: 'err' as const, lastCheckpointAttemptAt: T }
    expect(shouldCheckpoint(retried, T + 4999)).toBeUndefined()
    expect(shouldCheckpoint(retried, T + 5000)?.reason).toBe('log-failure')
  })

  it('never starts a second checkpoint while one runs', () => {
    expect(shouldCheckpoint({ ...idle, checkpointInProgress: true, failure: 'x', changesSinceLastSave: 1e6 }, T + 1e9)).toBeUndefined()
  })
})

describe('parseSaveRules', () => {
  it('parses Redis save syntax and the empty string', () => {
    expect(parseSaveRules('3600 1 300 100')).toEqual([
      { seconds: 3600, changes: 1 },
      { seconds: 300, changes: 100 },
    ])
    expect(parseSaveRules('')).toEqual([])
  })

  it('refuses odd or non-numeric lists', () => {
    expect(parseSaveRules('3600')).toBe('Invalid save parameters')
    expect(parseSaveRules('a 1')).toBe('Invalid save parameters')
    expect(parseSaveRules('-1 1')).toBe('Invalid save parameters')
  })
})

/**
 * The idle-time full GC: one collection per burst of activity, only after a whole quiet tick,
 * never while clients are active or background work (overlay settling) is still freeing memory.
 */
import { describe, expect, it } from 'vitest'
import { fullGc, IdleGc } from '../../src/infra/idleGc.js'

describe('IdleGc', () => {
  it('collects once after a quiet tick that follows activity', () => {
    let collections = 0
    const gc = new IdleGc(() => void collections++)
    expect(gc.tick(0, false)).toBe(false) // first tick: nothing known yet
    expect(gc.tick(0, false)).toBe(true) // quiet since start-up... and 0 never collected: the start-up heap
    expect(gc.tick(0, false)).toBe(false) // still quiet, nothing new
    expect(gc.tick(50, false)).toBe(false) // active
    expect(gc.tick(120, false)).toBe(false) // active
    expect(gc.tick(120, false)).toBe(true) // quiet after activity
    expect(gc.tick(120, false)).toBe(false)
    expect(collections).toBe(2)
  })

  it('waits while background work is going on', () => {
    let collections = 0
    const gc = new IdleGc(() => void collections++)
    gc.tick(10, false)
    expect(gc.tick(10, true)).toBe(false)
    expect(gc.tick(10, true)).toBe(false)
    expect(gc.tick(10, false)).toBe(true)
    expect(collections).toBe(1)
  })

  it('does nothing when no collector is available', () => {
    const gc = new IdleGc(undefined)
    gc.tick(1, false)
    expect(gc.tick(1, false)).toBe(false)
  })

  it('gets a working full GC without Node flags', () => {
    expect(fullGc).toBeTypeOf('function')
    fullGc!()
  })
})

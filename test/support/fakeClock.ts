/**
 * A controllable clock (mini-redis's paused-time idea): tests move time explicitly, so nothing
 * ever sleeps and every deadline is reproducible.
 *
 * @category test support
 */
import type { Clock } from '../../src/app/engine.js'
import type { EpochMs } from '../../src/domain/primitives.js'

/** A plausible "now" (2023-11-14T22:13:20Z): far from 0, so relative times cannot pass for absolute ones. */
export const DEFAULT_EPOCH: EpochMs = 1_700_000_000_000

export class FakeClock implements Clock {
  private ms: EpochMs

  constructor(start: EpochMs = DEFAULT_EPOCH) {
    this.ms = start
  }

  now(): EpochMs {
    return this.ms
  }

  /** Moves time forward by `ms` (never backwards: wall-clock jumps back are not modelled). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`FakeClock.advance: expected ms >= 0, got ${ms}`)
    this.ms += ms
  }

  /** Jumps to an absolute time. */
  set(ms: EpochMs): void {
    if (!Number.isFinite(ms)) throw new Error(`FakeClock.set: expected a finite time, got ${ms}`)
    this.ms = ms
  }
}

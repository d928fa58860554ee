/**
 * The long deterministic simulation (`npm run test:sim`, vitest.sim.config.ts): 10,000 seeds of
 * ./simulation.ts with process crashes and in-order power loss, then 2,000 seeds with reordered
 * writeback (SQLite crash-VFS model). Same harness and invariants as test/sim/sim.spec.ts (the
 * short tier in `npm test`); figures are printed and recorded in RELIABILITY.md.
 *
 * SIM_FROM / SIM_COUNT / SIM_REORDERED_COUNT change the ranges. A failing seed reruns alone with
 * `SIM_SEED=<n> npx vitest run test/sim/sim.spec.ts` (add SIM_CRASH=reordered for the second sweep).
 */
import { describe, expect, it, vi } from 'vitest'
import type { CrashKind } from './simFileSystem.js'
import { addFigures, emptyFigures, formatSummary, sweep, type SweepSummary } from './simulation.js'

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  const { simEntropy } = await import('./simFileSystem.js')
  return { ...actual, randomBytes: (n: number) => simEntropy.rng.bytes(n) }
})

const FROM = Number(process.env.SIM_FROM ?? 1)
const COUNT = Number(process.env.SIM_COUNT ?? 10_000)
const REORDERED_COUNT = Number(process.env.SIM_REORDERED_COUNT ?? 2_000)
const CHUNK = 500

const longSweep = async (label: string, count: number, crashKinds?: ReadonlyArray<CrashKind>): Promise<SweepSummary> => {
  const total: SweepSummary = {
    seeds: 0,
    failures: [],
    totals: emptyFigures(),
    byPolicy: { always: 0, everysec: 0, no: 0 },
    acksByPolicy: { always: { acked: 0, lost: 0 }, everysec: { acked: 0, lost: 0 }, no: { acked: 0, lost: 0 } },
  }
  const started = Date.now()
  for (let from = FROM; from < FROM + count; from += CHUNK) {
    const n = Math.min(CHUNK, FROM + count - from)
    const s = await sweep(from, n, crashKinds === undefined ? {} : { crashKinds })
    total.seeds += s.seeds
    total.failures.push(...s.failures)
    addFigures(total.totals, s.totals)
    for (const p of ['always', 'everysec', 'no'] as const) {
      total.byPolicy[p] += s.byPolicy[p]
      total.acksByPolicy![p].acked += s.acksByPolicy![p].acked
      total.acksByPolicy![p].lost += s.acksByPolicy![p].lost
    }
    console.log(`${label}: ${total.seeds}/${count} seeds, ${total.failures.length} failing, ${Math.round((Date.now() - started) / 1000)} s`)
  }
  console.log(formatSummary(label, total))
  for (const f of total.failures.slice(0, 3)) console.log(`failure (rerun: SIM_SEED=${f.seed}${crashKinds === undefined ? '' : ' SIM_CRASH=reordered'} npx vitest run test/sim/sim.spec.ts):\n${f.message}`)
  return total
}

describe('deterministic simulation, long run', () => {
  it(`${COUNT} seeds from ${FROM}: process crashes and power loss (in-order writeback)`, async () => {
    const s = await longSweep('sim (long)', COUNT)
    expect(s.failures.map((f) => f.seed)).toEqual([])
  })

  it(`${REORDERED_COUNT} seeds from ${FROM}: power loss with reordered writeback`, async () => {
    const s = await longSweep('sim (long, reordered writeback)', REORDERED_COUNT, ['process', 'power-reordered', 'power-reordered'])
    expect(s.failures.map((f) => f.seed)).toEqual([])
  })
})

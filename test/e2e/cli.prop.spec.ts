/**
 * Point-in-time recovery property: for any history written by the engine through the durable
 * log (checkpoints included) and any reachable k, the data directory `redust replay --until-seq k`
 * writes holds exactly the live state after k records — opened with `recover`, compared with
 * `Keyspace.equals` — and `--until TIME` reaches the same state as the seq of the last record at
 * or before that time.
 *
 * Most runs call `replayTo` in-process (fast); a few run the real binary (./cliHarness.ts).
 *
 * Replay: every property prints `seed=…`; rerun with `FC_SEED=<seed> npx vitest run
 * test/e2e/cli.prop.spec.ts`. `FC_NUM_RUNS` sets the runs of the in-process property (default
 * 100: each run writes a log, checkpoints and a new data directory to disk).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recover } from '../../src/app/recovery.js'
import { KeyCounter } from '../../src/app/cli/inspect/keyCounter.js'
import { replayTo } from '../../src/app/cli/inspect/replay.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import type { State } from '../../src/domain/keyspace.js'
import { buildCli, DirServer, runCli, StepClock, T0, tempDir } from './cliHarness.js'

// ---------------------------------------------------------------------------------------------
// seeds
// ---------------------------------------------------------------------------------------------

const envInt = (name: string): number | undefined => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`)
  return n
}

const params = <T>(name: string, numRuns: number): fc.Parameters<T> => {
  const seed = envInt('FC_SEED') ?? Math.floor(Math.random() * 0x7fffffff)
  console.log(`[fast-check] ${name}: seed=${seed} numRuns=${numRuns} (replay: FC_SEED=${seed})`)
  return { seed, numRuns }
}

// ---------------------------------------------------------------------------------------------
// histories
// ---------------------------------------------------------------------------------------------

const key = fc.constantFrom('a', 'b', 'c', '\x00k\xff')
const value = fc.oneof(fc.constantFrom('1', '42', '-7', ''), fc.uint8Array({ maxLength: 6 }).map((b) => String.fromCharCode(...b)))
const db = fc.integer({ min: 0, max: 2 })

const command: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(key, value).map(([k, v]) => ['SET', k, v]) },
  { weight: 2, arbitrary: fc.tuple(key, value, fc.integer({ min: 1, max: 3000 })).map(([k, v, ms]) => ['SET', k, v, 'PX', String(ms)]) },
  { weight: 2, arbitrary: fc.tuple(key, value).map(([k, v]) => ['APPEND', k, v]) },
  { weight: 2, arbitrary: key.map((k) => ['INCR', k]) },
  { weight: 2, arbitrary: fc.tuple(key, fc.integer({ min: 0, max: 8 }), value).map(([k, o, v]) => ['SETRANGE', k, String(o), v]) },
  { weight: 2, arbitrary: fc.array(key, { minLength: 1, maxLength: 3 }).map((ks) => ['DEL', ...ks]) },
  { weight: 2, arbitrary: fc.tuple(key, fc.integer({ min: -1, max: 3 })).map(([k, s]) => ['EXPIRE', k, String(s)]) },
  { weight: 1, arbitrary: key.map((k) => ['PERSIST', k]) },
  { weight: 3, arbitrary: key.map((k) => ['GET', k]) }, // may find a key expired: KeyExpired
  { weight: 1, arbitrary: fc.tuple(key, key).map(([a, b]) => ['RENAME', a, b]) },
  { weight: 1, arbitrary: fc.tuple(key, db).map(([k, d]) => ['MOVE', k, String(d)]) },
  { weight: 1, arbitrary: fc.tuple(key, key, db).map(([a, b, d]) => ['COPY', a, b, 'DB', String(d), 'REPLACE']) },
  { weight: 1, arbitrary: fc.tuple(db, db).map(([a, b]) => ['SWAPDB', String(a), String(b)]) },
  { weight: 1, arbitrary: db.map((d) => ['SELECT', String(d)]) },
  { weight: 1, arbitrary: fc.constant<string[]>(['FLUSHDB']) },
  { weight: 1, arbitrary: fc.tuple(key, value, key).map(([k, v, j]) => ['MULTI', 'SET', k, v, 'DEL', j]) },
)

type Step = { readonly argv: string[]; readonly advance: number; readonly checkpoint: boolean }

const step: fc.Arbitrary<Step> = fc.record({
  argv: command,
  advance: fc.integer({ min: 1, max: 1500 }),
  checkpoint: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))).chain((b) => (b ? fc.boolean() : fc.constant(false))),
})

interface Written {
  readonly dir: string
  /** states[s] = the live state after record s (states[snapshotSeq…]). */
  readonly states: Map<number, State>
  readonly times: Map<number, number>
  readonly lastSeq: number
  /** The seq of the last checkpoint (records before it are compacted): the earliest point. */
  readonly earliest: number
}

/** Runs the steps through the engine on a durable data directory, recording every state. */
const write = async (dir: string, steps: ReadonlyArray<Step>): Promise<Written> => {
  const clock = new StepClock(T0, 0)
  const server = await DirServer.open(dir, clock)
  const states = new Map<number, State>([[0, Keyspace.emptyState]])
  const times = new Map<number, number>()
  let earliest = 0
  const session = server.engine.newSession()
  for (const s of steps) {
    const [name, ...rest] = s.argv
    if (name === 'MULTI') {
      // MULTI SET k v DEL j EXEC: one record with every event.
      await server.engine.call(['MULTI'], session)
      await server.engine.call(rest.slice(0, 3), session)
      await server.engine.call(rest.slice(3), session)
      await server.engine.call(['EXEC'], session)
    } else {
      await server.engine.call(s.argv, session)
    }
    if (!states.has(server.engine.seq)) {
      states.set(server.engine.seq, server.engine.state)
      times.set(server.engine.seq, clock.ms)
    }
    clock.ms += s.advance
    if (s.checkpoint) {
      await server.checkpoint()
      earliest = server.engine.seq
    }
  }
  const lastSeq = server.engine.seq
  await server.close()
  return { dir, states, times, lastSeq, earliest }
}

// ---------------------------------------------------------------------------------------------
// properties
// ---------------------------------------------------------------------------------------------

const root = tempDir('redust-cli-prop-')
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
let runId = 0

const reachable = (w: Written, pick: number): number => w.earliest + (pick % (w.lastSeq - w.earliest + 1))

const expectDirHolds = async (out: string, seq: number, state: State): Promise<void> => {
  const got = await recover(out, undefined, undefined, { readOnly: true })
  expect(got.seq).toBe(seq)
  expect(Keyspace.equals(got.state, state)).toBe(true)
}

describe('replay: point-in-time recovery', () => {
  it('replay --until-seq k holds exactly the live state after k records (in-process)', async () => {
    const runs = envInt('FC_NUM_RUNS') ?? 100
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), fc.nat(), fc.nat(), async (steps, pickSeq, pickTime) => {
        const id = runId++
        const w = await write(path.join(root, `src-${id}`), steps)
        const k = reachable(w, pickSeq)
        const out = path.join(root, `out-${id}`)
        const result = await replayTo(w.dir, { kind: 'seq', seq: k }, out, { now: () => T0 })
        expect(result.seq).toBe(k)
        await expectDirHolds(out, k, w.states.get(k)!)

        // By time: the time of a record after the earliest point reaches that record.
        const later = [...w.times.keys()].filter((s) => s > w.earliest)
        if (later.length > 0) {
          const target = later[pickTime % later.length]!
          const byTime = path.join(root, `time-${id}`)
          const r = await replayTo(w.dir, { kind: 'time', at: w.times.get(target)! }, byTime, { now: () => T0 })
          expect(r.seq).toBe(target)
          await expectDirHolds(byTime, target, w.states.get(target)!)
        }
        for (const d of [w.dir, out, path.join(root, `time-${id}`)]) fs.rmSync(d, { recursive: true, force: true })
      }),
      params('replay --until-seq k = live state after k (in-process)', runs),
    )
  }, 600_000)

  describe('through the real binary', () => {
    let bin = ''
    beforeAll(() => {
      bin = buildCli()
    }, 240_000)

    it('replay --until-seq k holds exactly the live state after k records (binary)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), fc.nat(), async (steps, pickSeq) => {
          const id = runId++
          const w = await write(path.join(root, `bin-src-${id}`), steps)
          const k = reachable(w, pickSeq)
          const out = path.join(root, `bin-out-${id}`)
          const r = await runCli(bin, ['replay', '--until-seq', String(k), '--out', out, '--quiet', '--dir', w.dir])
          expect(r.stderr).toBe('')
          expect(r.code).toBe(0)
          await expectDirHolds(out, k, w.states.get(k)!)
        }),
        params('replay --until-seq k = live state after k (binary)', envInt('FC_NUM_RUNS') === undefined ? 4 : Math.min(10, envInt('FC_NUM_RUNS')!)),
      )
    }, 600_000)
  })
})

describe('log stats: counting writes per key', () => {
  it('KeyCounter counts like a Map and ranks like a full sort (writes desc, db, key)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 3 })), { maxLength: 3000 }),
        fc.integer({ min: 0, max: 20 }),
        (writes, n) => {
          const counter = new KeyCounter()
          const model = new Map<string, { db: number; key: string; writes: number }>()
          for (const [db, key] of writes) {
            counter.add(db, key)
            const id = `${db}/${key}`
            const e = model.get(id) ?? { db, key, writes: 0 }
            e.writes++
            model.set(id, e)
          }
          expect(counter.size).toBe(model.size)
          const all = [...model.values()].sort((a, b) => b.writes - a.writes || a.db - b.db || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
          expect(counter.top(n)).toEqual(all.slice(0, n))
          expect(counter.top(model.size + 1)).toEqual(all)
        },
      ),
      params('KeyCounter = Map + sort', envInt('FC_NUM_RUNS') ?? 200),
    )
  })
})

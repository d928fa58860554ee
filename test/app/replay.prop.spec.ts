/**
 * The headline properties (issue 2, P1–P3, P5, P6; DESIGN.md §6 invariants I1–I6).
 *
 * Each case generates a sequence of ops — commands from three clients over several databases,
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH interleavings, time advances and active-expiry passes — and
 * runs it through the real `Engine` with a fake clock and a `MemoryLog`. The properties then look
 * at what the engine left behind: its live state, the records it appended, and (for P5/P6) what
 * each execution unit saw and did.
 *
 * Replay a failure with the seed printed above it: `FC_SEED=<seed> npx vitest run <this file>`
 * (add `FC_PATH=<path>` from fast-check's report to jump straight to the shrunk case).
 */
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Engine, PendingReply, type Session } from '../../src/app/engine.js'
import { MemoryLog, type LogRecord } from '../../src/app/eventLog.js'
import type { Context } from '../../src/domain/command.js'
import { decide, decideBatch, evolve, fold, initialState, lookupCommand, type BatchItem, type Command } from '../../src/domain/decide.js'
import { Event } from '../../src/domain/event.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import type { State } from '../../src/domain/keyspace.js'
import { DATABASE_COUNT, type Bytes } from '../../src/domain/primitives.js'
import type { Reply } from '../../src/domain/reply.js'
import { decodeEvents, ByteWriter } from '../../src/infra/log/eventCodec.js'
import { checkLength, checksumMatches, encodeFrame, FRAME_HEADER_BYTES, readFrameHeader } from '../../src/infra/log/format.js'
import { CLIENTS, opsArb, renderArgv, showOps, type Op } from '../support/arbitraries.js'
import { DEFAULT_EPOCH, FakeClock } from '../support/fakeClock.js'
import { assertProperty } from '../support/fc.js'

// ---------------------------------------------------------------------------------------------
// running a sequence through the engine, recording every execution unit
// ---------------------------------------------------------------------------------------------

/** What one op did: the state around it, the records it appended, its reply and inputs. */
interface Unit {
  readonly op: Op
  readonly client: number
  readonly argv: ReadonlyArray<Bytes>
  /** Absolute times (ms) the argv carried (EXAT/PXAT/EXPIREAT/PEXPIREAT, rendered). */
  readonly absoluteTimes: ReadonlyArray<number>
  readonly now: number
  /** The session's database before the op. */
  readonly db: number
  /** The random seed the engine drew for this op (data commands and EXEC draw one). */
  readonly seed: number | undefined
  readonly before: State
  readonly after: State
  readonly records: ReadonlyArray<LogRecord>
  readonly reply: Reply | undefined
  /** For EXEC: the queue it ran (parsed items) and the argvs that were queued, in order. */
  readonly queueItems: ReadonlyArray<BatchItem> | undefined
  readonly queued: ReadonlyArray<{ readonly argv: ReadonlyArray<Bytes>; readonly absoluteTimes: ReadonlyArray<number> }> | undefined
}

interface Run {
  readonly ops: ReadonlyArray<Op>
  readonly engine: Engine
  readonly log: MemoryLog
  readonly units: ReadonlyArray<Unit>
  /** `statesAfter[k]`: the engine's state right after record k was appended (k = 0: the initial state). */
  readonly statesAfter: ReadonlyArray<State>
}

/** A deterministic stand-in for Math.random-based seeds. */
const counterRandom = () => {
  let n = 0x9e3779b9
  return () => (n = (Math.imul(n, 1664525) + 1013904223) >>> 0)
}

const unwrap = (r: Reply | PendingReply): Reply => (r instanceof PendingReply ? r.reply : r)

const absoluteTimesOf = (op: Op, now: number): number[] =>
  op.kind !== 'command'
    ? []
    : op.argv.flatMap((a) => (typeof a === 'string' ? [] : [(a.unit === 's' ? 1000 : 1) * Number(renderArgv([a], now)[0])]))

const runOps = (ops: ReadonlyArray<Op>): Run => {
  const clock = new FakeClock(DEFAULT_EPOCH)
  const log = new MemoryLog()
  const random = counterRandom()
  let lastSeed: number | undefined
  const engine = new Engine({
    clock,
    log,
    random: () => (lastSeed = random()),
  })
  const statesAfter: State[] = [engine.state]
  engine.onAppended = (seq) => {
    statesAfter[seq] = engine.state
  }
  const sessions: Session[] = Array.from({ length: CLIENTS }, () => engine.newSession())
  const shadowQueues: Array<Array<{ argv: Bytes[]; absoluteTimes: number[] }>> = sessions.map(() => [])
  const units: Unit[] = []
  for (const op of ops) {
    if (op.kind === 'advance') {
      clock.advance(op.ms)
      continue
    }
    const now = clock.now()
    const before = engine.state
    const recordsBefore = log.records.length
    lastSeed = undefined
    if (op.kind === 'activeExpiry') {
      engine.runActiveExpiry()
      units.push({ op, client: -1, argv: [], absoluteTimes: [], now, db: 0, seed: undefined, before, after: engine.state, records: log.records.slice(recordsBefore), reply: undefined, queueItems: undefined, queued: undefined })
      continue
    }
    const session = sessions[op.client]!
    const argv = renderArgv(op.argv, now)
    const absoluteTimes = absoluteTimesOf(op, now)
    const db = session.db
    const name = (argv[0] ?? '').toLowerCase()
    const isExec = name === 'exec' && argv.length === 1
    const queueItems = isExec && session.queue !== undefined ? [...session.queue] : undefined
    const queued = isExec ? shadowQueues[op.client]! : undefined
    const reply = unwrap(engine.execute(session, argv))
    if (reply.type === 'simple' && reply.value === 'QUEUED') shadowQueues[op.client]!.push({ argv, absoluteTimes })
    else if (name === 'exec' || ((name === 'multi' || name === 'discard') && reply.type === 'simple')) shadowQueues[op.client] = []
    units.push({ op, client: op.client, argv, absoluteTimes, now, db, seed: lastSeed, before, after: engine.state, records: log.records.slice(recordsBefore), reply, queueItems, queued })
  }
  return { ops, engine, log, units, statesAfter }
}

const allEvents = (records: ReadonlyArray<LogRecord>): Event[] => records.flatMap((r) => [...r.events])

/** A readable dump of a state's non-empty databases, for failure messages. */
const dump = (state: State): string =>
  JSON.stringify(
    Array.from({ length: DATABASE_COUNT }, (_, db) => [db, Keyspace.entriesSorted(state, db)] as const).filter(([, e]) => e.length > 0),
  )

const expectSameState = (actual: State, expected: State, what: string): void => {
  if (!Keyspace.equals(actual, expected) || !Keyspace.equals(expected, actual)) {
    throw new Error(`${what}\n  expected (live): ${dump(expected)}\n  actual:          ${dump(actual)}`)
  }
}

/** The op sequences of every property below: ≤ 40 ops. */
const sequences = opsArb(40)

/** Run the property on a sequence, and say which sequence failed. */
const withSequence =
  (check: (run: Run) => void) =>
  (ops: ReadonlyArray<Op>): void => {
    const run = runOps(ops)
    try {
      check(run)
    } catch (e) {
      const records = run.log.records.map((r) => `    #${r.seq} @${r.at}: ${JSON.stringify(r.events)}`).join('\n')
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n  ops: ${showOps(ops)}\n  records:\n${records}`)
    }
  }

// ---------------------------------------------------------------------------------------------
// P1 – P3: replay equals live
// ---------------------------------------------------------------------------------------------

describe('replay equals live (P1–P3)', () => {
  it('P1: folding every appended event from the initial state gives the live state', () => {
    assertProperty(
      'P1 fold(events) = live',
      fc.property(
        sequences,
        withSequence(({ engine, log }) => {
          expectSameState(fold(initialState, allEvents(log.records)), engine.state, 'fold of the log differs from the live state')
          // I7: sequence numbers are contiguous from 1, and the engine's seq is the last one.
          log.records.forEach((r, i) => expect(r.seq).toBe(i + 1))
          expect(engine.seq).toBe(log.records.length)
          // I4: no empty records.
          for (const r of log.records) expect(r.events.length).toBeGreaterThan(0)
        }),
      ),
    )
  })

  it('P2: events encoded to bytes and decoded with the io-ts codec (and the binary log codec) fold to the same state', () => {
    assertProperty(
      'P2 decode(encode(events)) folds to live',
      fc.property(
        sequences,
        withSequence(({ engine, log }) => {
          // JSON text with byte strings as latin1 chars, written as UTF-8: the JSON-lines form.
          const bytes = Buffer.from(JSON.stringify(log.records), 'utf8')
          const parsed = JSON.parse(bytes.toString('utf8')) as Array<{ seq: number; at: number; events: unknown[] }>
          const decoded: Event[] = []
          for (const record of parsed) {
            for (const raw of record.events) {
              const result = Event.decode(raw)
              if (result._tag === 'Left') throw new Error(`Event.decode rejected ${JSON.stringify(raw)}`)
              decoded.push(result.right)
            }
          }
          expect(decoded).toEqual(allEvents(log.records))
          expectSameState(fold(initialState, decoded), engine.state, 'fold of the JSON-decoded events differs from the live state')

          // The durable log's binary frames (src/infra/log): encode every record, check, decode.
          const w = new ByteWriter(1024)
          const seed = 0x1234abcd
          for (const record of log.records) encodeFrame(w, seed, record)
          const buf = Buffer.from(w.buf.subarray(0, w.pos))
          const framed: Event[] = []
          let at = 0
          for (const record of log.records) {
            const len = buf.readUInt32LE(at)
            expect(checkLength(len, buf.length - at)).toBeUndefined()
            expect(checksumMatches(buf, at, len, seed)).toBe(true)
            const header = readFrameHeader(buf, at, len)
            expect({ lsn: header.lsn, at: header.at, count: header.count }).toEqual({ lsn: record.seq, at: record.at, count: record.events.length })
            framed.push(...decodeEvents(buf, at + FRAME_HEADER_BYTES, at + len, header.count))
            at += len
          }
          expect(at).toBe(buf.length)
          expect(framed).toEqual(allEvents(log.records))
          expectSameState(fold(initialState, framed), engine.state, 'fold of the frame-decoded events differs from the live state')
        }),
      ),
    )
  })

  it('P3: a snapshot after any record k plus the fold of the tail gives the live state', () => {
    assertProperty(
      'P3 snapshot(k) + tail = live',
      fc.property(sequences, fc.double({ min: 0, max: 1, noNaN: true }), (ops, fraction) =>
        withSequence(({ engine, log, statesAfter }) => {
          const n = log.records.length
          const k = Math.min(n, Math.floor(fraction * (n + 1)))
          const snapshot = fold(initialState, allEvents(log.records.slice(0, k)))
          expectSameState(snapshot, statesAfter[k]!, `the fold of records 1..${k} differs from the engine's state after record ${k}`)
          expectSameState(fold(snapshot, allEvents(log.records.slice(k))), engine.state, `snapshot(${k}) + tail differs from the live state`)
          // Every prefix, too: the engine's state after each record is the fold of the log so far
          // (this also shows that no later evolve changed an earlier state in place).
          let state = initialState
          for (let i = 0; i < n; i++) {
            state = fold(state, log.records[i]!.events)
            expectSameState(state, statesAfter[i + 1]!, `the fold of records 1..${i + 1} differs from the engine's state after record ${i + 1}`)
          }
        })(ops),
      ),
    )
  })
})

// ---------------------------------------------------------------------------------------------
// P5: reads and no-op writes log nothing; events carry absolute times only
// ---------------------------------------------------------------------------------------------

const writes = (name: string): boolean => lookupCommand(name)?.flags.includes('write') ?? false

const int = (r: Reply | undefined): number | undefined => (r?.type === 'int' ? Number(r.value) : undefined)

/** Is the key live (present and not past its deadline) in `state` at `now`? */
const liveIn = (state: State, db: number, key: Bytes, now: number): boolean => {
  const entry = Keyspace.getEntry(state, db, key)
  return entry !== undefined && !(entry.expireAt !== null && now > entry.expireAt)
}

/**
 * Did this command, by Redis's own account, change nothing? (Redis propagates nothing for these.)
 * `state`/`db`/`now` are what the command saw. Conservative: "don't know" counts as a change.
 */
const isNoOp = (argv: ReadonlyArray<Bytes>, reply: Reply, state: State, db: number, now: number): boolean => {
  const name = (argv[0] ?? '').toLowerCase()
  const opts = argv.slice(1).map((a) => a.toLowerCase())
  if (!writes(name)) return true // reads: GET, TTL, EXISTS, KEYS, SCAN, SELECT, DBSIZE …
  if (reply.type === 'error') return true
  switch (name) {
    case 'set':
      return reply.type === 'nil' && !opts.includes('get')
    case 'setnx':
    case 'msetnx':
    case 'del':
    case 'unlink':
    case 'delete':
    case 'renamenx':
    case 'copy':
    case 'move':
    case 'expire':
    case 'pexpire':
    case 'expireat':
    case 'pexpireat':
    case 'persist':
      return int(reply) === 0
    case 'update':
    case 'getdel':
      return reply.type === 'nil'
    case 'getex':
      return reply.type === 'nil' || argv.length === 2
    case 'setrange':
      return argv[3] === ''
    case 'append':
      return argv[2] === '' && liveIn(state, db, argv[1]!, now)
    case 'rename':
      return argv[1] === argv[2]
    default:
      return false
  }
}

const timesOf = (e: Event): number[] => {
  switch (e.type) {
    case 'ValueSet':
      return e.expireAt === null ? [] : [e.expireAt]
    case 'ExpirySet':
    case 'KeyExpired':
      return [e.at]
    default:
      return []
  }
}

const deadlinesIn = (state: State): Set<number> => {
  const out = new Set<number>()
  for (let db = 0; db < DATABASE_COUNT; db++) for (const [, at] of Keyspace.deadlinesOf(state, db)) out.add(at)
  return out
}

/** Generated absolute times lie near DEFAULT_EPOCH, or are exactly the small ones requested. */
const PLAUSIBLE_EPOCH = DEFAULT_EPOCH - 10_000_000

describe('reads log nothing, and events hold absolute times only (P5)', () => {
  it('P5: reads and no-op writes append no record unless they lazily expired a key past its deadline; every time in an event is absolute', () => {
    assertProperty(
      'P5 reads/no-ops log nothing; absolute times',
      fc.property(
        sequences,
        withSequence(({ units }) => {
          for (const u of units) {
            const where = `at ${u.op.kind === 'command' ? `c${u.client}> ${u.argv.join(' ')}` : u.op.kind} (now ${u.now})`
            if (u.records.length > 1) throw new Error(`${where}: one execution unit appended ${u.records.length} records`)
            const record = u.records[0]
            const name = (u.argv[0] ?? '').toLowerCase()

            // Which units may log something other than lazy expiry?
            let mayChange: boolean
            if (u.op.kind === 'activeExpiry') mayChange = false
            else if (name === 'exec' && u.argv.length === 1 && u.reply?.type === 'array' && u.queued !== undefined) {
              // The transaction may change something unless every queued command was a read or a
              // no-op; while that holds, the state each one saw is still `before`.
              mayChange = false
              let db = u.db
              const items = u.reply.items
              u.queued.forEach(({ argv }, i) => {
                const itemReply = items[i]
                if (itemReply === undefined || !isNoOp(argv, itemReply, u.before, db, u.now)) mayChange = true
                if ((argv[0] ?? '').toLowerCase() === 'select' && itemReply?.type === 'simple') db = Number(argv[1])
              })
            } else if (u.reply?.type === 'simple' && u.reply.value === 'QUEUED') mayChange = false
            else if (['multi', 'discard', 'watch', 'unwatch', 'exec'].includes(name)) mayChange = false
            else mayChange = u.reply === undefined || !isNoOp(u.argv, u.reply, u.before, u.db, u.now)

            if (record === undefined) continue
            // Every KeyExpired removes a key that was really past its deadline, at the unit's time.
            let state = u.before
            for (const e of record.events) {
              if (e.type === 'KeyExpired') {
                const entry = Keyspace.getEntry(state, e.db, e.key)
                if (e.at !== record.at) throw new Error(`${where}: KeyExpired at ${e.at}, but the unit ran at ${record.at}`)
                if (entry === undefined || entry.expireAt === null || !(record.at > entry.expireAt)) {
                  throw new Error(`${where}: KeyExpired for ${JSON.stringify(e.key)} in db ${e.db}, which was ${entry === undefined ? 'missing' : `live (deadline ${entry.expireAt})`}`)
                }
              } else if (!mayChange) {
                throw new Error(`${where}: a read or no-op unit (reply ${JSON.stringify(u.reply, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}) logged ${JSON.stringify(e)}`)
              }
              state = evolve(state, e)
            }

            // Absolute times only: each time is the unit's now, now + a relative amount it was
            // given, an absolute time it was given, or a deadline that already existed.
            const tokens = [u.argv, ...(u.queued?.map((q) => q.argv) ?? [])].flat()
            const absolute = [...u.absoluteTimes, ...(u.queued?.flatMap((q) => q.absoluteTimes) ?? [])]
            const allowed = new Set<number>([record.at, ...absolute, ...deadlinesIn(u.before)])
            for (const t of tokens) {
              if (!/^[0-9]{1,16}$/.test(t)) continue
              const n = Number(t)
              allowed.add(record.at + n)
              allowed.add(record.at + n * 1000)
            }
            for (const e of record.events) {
              for (const t of timesOf(e)) {
                if (!allowed.has(t)) throw new Error(`${where}: ${JSON.stringify(e)} holds the time ${t}, which is neither now (${record.at}) + a requested amount, a requested absolute time, nor an existing deadline`)
                if (t < PLAUSIBLE_EPOCH && !absolute.includes(t)) throw new Error(`${where}: ${JSON.stringify(e)} holds ${t}, a relative-looking time`)
              }
            }
          }
        }),
      ),
    )
  })
})

// ---------------------------------------------------------------------------------------------
// P6: decide and evolve are deterministic; the domain never reads a clock
// ---------------------------------------------------------------------------------------------

/** Replaces the global clocks and random source with ones that throw, for the duration of `f`. */
const withoutClocks = <A>(f: () => A): A => {
  const boom = (what: string) => () => {
    throw new Error(`the domain read ${what}`)
  }
  const spies = [
    vi.spyOn(Date, 'now').mockImplementation(boom('Date.now()')),
    vi.spyOn(performance, 'now').mockImplementation(boom('performance.now()')),
    vi.spyOn(Math, 'random').mockImplementation(boom('Math.random()')),
    vi.spyOn(process, 'hrtime').mockImplementation(boom('process.hrtime()') as unknown as typeof process.hrtime),
  ]
  try {
    return f()
  } finally {
    for (const s of spies) s.mockRestore()
  }
}

/** Structural form of a value with immutable maps and bigints flattened (for deep comparison). */
const plain = (x: unknown): string => JSON.stringify(x, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))

describe('decide and evolve are pure (P6)', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('P6: deciding a unit twice on the same inputs gives equal outputs, equal to what the engine logged, and neither decide nor evolve reads a clock', () => {
    assertProperty(
      'P6 decide/evolve deterministic and clock-free',
      fc.property(
        sequences,
        withSequence(({ engine, log, units }) => {
          withoutClocks(() => {
            // evolve: the same events fold to equal states, twice, without any clock.
            const events = allEvents(log.records)
            const a = fold(initialState, events)
            const b = fold(initialState, events)
            expectSameState(a, b, 'two folds of the same events differ')
            expectSameState(a, engine.state, 'a clock-free fold differs from the live state')

            for (const u of units) {
              if (u.op.kind !== 'command' || u.seed === undefined) continue
              const ctx: Context = { now: u.now, db: u.db, seed: u.seed }
              const logged = u.records[0]?.events ?? []
              if (u.queueItems !== undefined) {
                // EXEC: decideBatch (skip queues with connection-level items, which act on sessions).
                if (u.queueItems.some((item) => item.kind === 'external')) continue
                const first = decideBatch(u.queueItems, u.before, ctx)
                const second = decideBatch(u.queueItems, u.before, ctx)
                expect(plain(second.events)).toBe(plain(first.events))
                expect(plain(second.replies)).toBe(plain(first.replies))
                expect(plain(first.events)).toBe(plain(logged))
                expectSameState(first.state, u.after, `decideBatch's state differs from the engine's after ${u.argv.join(' ')}`)
                continue
              }
              const spec = lookupCommand(u.argv[0]!)
              if (spec === undefined) continue
              const parsed = spec.parse(u.argv.slice(1)) as Command | { type: 'error' }
              if (parsed.type === 'error') continue
              const first = decide(parsed as Command, u.before, ctx)
              const second = decide(parsed as Command, u.before, ctx)
              expect(plain(second)).toBe(plain(first))
              expect(plain(first.events)).toBe(plain(logged))
              expect(plain(first.reply)).toBe(plain(u.reply))
              // …and evolve is a function of (state, event) only.
              expectSameState(fold(u.before, first.events), u.after, `fold(before, decide(…)) differs from the engine's state after ${u.argv.join(' ')}`)
            }
          })
        }),
      ),
    )
  })
})

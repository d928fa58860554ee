/**
 * Deterministic simulation of Redust's durable engine (DURABILITY.md §4.6, §9 tests 3, 7 and 16;
 * FoundationDB / TigerBeetle VOPR style).
 *
 * One **seed** drives everything: the engine (fake clock, seeded RANDOMKEY source) over the real
 * `AofLog` and `recover`, on the in-memory crash-model disk of ./simFileSystem.ts; simulated
 * clients issuing random commands, MULTI/EXEC transactions and bank transfers; the order in which
 * disk operations complete; the passage of time (everysec fsync timer included); checkpoints;
 * injected I/O errors; crashes (process kill or power loss, in the middle of anything, checkpoints
 * and recovery included); then recovery from the crashed disk, checks, and more cycles on the
 * recovered state. There is no real I/O and no real time; the only macrotasks are the
 * `setImmediate`s of the log's group commit and the snapshot writer, run in FIFO order. So a seed
 * replays to the same trace (its hash is part of the result) and any failure reproduces from its
 * number (`SIM_SEED=<n>`).
 *
 * ## Invariants checked after every crash (and after a final clean shutdown)
 *
 * - **Start-up succeeds** on every crashed disk.
 * - **acked ⊆ recovered ⊆ sent**: the recovered seq R is at most the last seq appended, and under
 *   `always` (or after a process crash, any policy) at least every acknowledged record's seq. Under
 *   `everysec` a power loss may only lose records acknowledged within the fsync window before the
 *   crash; under `no` any unsynced suffix (counted as "acked lost", allowed by the policy).
 * - **Per-key ledger**: for every key, the recovered entry (value and absolute deadline) is the one
 *   the history holds at R; the last acknowledged write of each key is at or below R (it is
 *   present); and no recovered value is a phantom (every value was written by some command).
 * - **Replay equals live**: the recovered state equals the engine's live state right after record
 *   R, and equals the fold (`evolve`) of exactly the records 1..R that were sent — so MULTI/EXEC
 *   records are whole, nothing is partly applied, TTL deadlines are the same absolute times.
 * - **Bank**: accounts are all present with the constant total, or all absent (the initial MSET
 *   was lost); checked live at every audit and after every recovery.
 * - **TTL**: `SET … EX/PX/EXAT/PXAT` and `EXPIRE`-family commands store absolute deadlines
 *   (checked at once), and after recovery one active-expiry pass removes exactly the keys whose
 *   deadline passed while the server was down.
 * - **MISCONF**: while the log is failed, every write is refused with `MISCONF`, reads are still
 *   served, replies that waited on a failed commit are `MISCONF` (never a false OK), and a
 *   successful checkpoint makes writes work again.
 *
 * @category test support
 */
import * as path from 'node:path'
import { vi } from 'vitest'
import { Engine, PendingReply, type Session } from '../../src/app/engine.js'
import type { EventLog, LogFailure, LogRecord } from '../../src/app/eventLog.js'
import { recover, type Recovered } from '../../src/app/recovery.js'
import { lookupCommand } from '../../src/domain/decide.js'
import { touchedKeys, type Event } from '../../src/domain/event.js'
import { fold } from '../../src/domain/evolve.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import { saltTableSeeds } from '../../src/domain/keyTable.js'
import type { Entry, State } from '../../src/domain/keyspace.js'
import { DATABASE_COUNT } from '../../src/domain/primitives.js'
import type { Reply } from '../../src/domain/reply.js'
import { AofLog, silentSink, type AppendFsync } from '../../src/infra/log/aofLog.js'
import { Rng, SimFileSystem, simEntropy, type CrashKind, type DiskImage, type SimFaults } from './simFileSystem.js'

// ---------------------------------------------------------------------------------------------
// configuration and results
// ---------------------------------------------------------------------------------------------

export const SIM_DIR = '/sim/data'
export const SIM_EPOCH = 1_700_000_000_000
const BANK_DB = 2
const BANK_INITIAL = 100
const FSYNC_INTERVAL_MS = 1000

export interface SimOptions {
  readonly seed: number
  /** Fix the policy (default: drawn from the seed — always 60%, everysec 20%, no 20%). */
  readonly policy?: AppendFsync
  /** Crash kinds to draw from (default: process and power-ordered). */
  readonly crashKinds?: ReadonlyArray<CrashKind>
  /** Crash cycles (default: drawn, 2–4). */
  readonly cycles?: number
  /** Upper bound of scheduler steps per cycle (default 300). */
  readonly maxSteps?: number
  /** Inject I/O errors (default: drawn, in 25% of seeds). */
  readonly faults?: boolean
  /** Keep the whole trace (default: the last 300 lines). */
  readonly fullTrace?: boolean
}

export interface SimConfig {
  readonly seed: number
  readonly policy: AppendFsync
  readonly crashKinds: ReadonlyArray<CrashKind>
  readonly cycles: number
  readonly maxSteps: number
  readonly clients: number
  readonly bankClients: number
  readonly accounts: number
  readonly sliceEntries: number
  readonly faults: SimFaults | undefined
}

export interface SimFigures {
  crashes: number
  crashesByKind: Record<CrashKind, number>
  crashesMidCheckpoint: number
  crashesInRecovery: number
  /** Clean shutdowns followed by a power loss (reordered writeback) that must lose nothing. */
  cleanShutdowns: number
  commands: number
  /** Records appended (execution units with effects). */
  records: number
  /** Records whose commit resolved and whose reply was delivered as a success. */
  acked: number
  /** Acknowledged records not recovered (allowed only by everysec/no on a power loss). */
  ackedLost: number
  /** Records sent but not acknowledged at the crash, and not recovered. */
  unackedDropped: number
  /** Replies that were MISCONF because their commit failed. */
  misconfReplies: number
  /** Writes refused up front while the log was failed. */
  refusedWrites: number
  transfers: number
  checkpoints: number
  checkpointFailures: number
  injectedFaults: number
  truncatedTails: number
  recoveries: number
}

export interface SimResult {
  readonly config: SimConfig
  readonly figures: SimFigures
  /** FNV-1a hash of the whole trace: equal for two runs of one seed. */
  readonly traceHash: number
  readonly traceTail: ReadonlyArray<string>
}

/** An invariant failed. The message names the seed, cycle and step; `trace` holds the trace tail. */
export class SimViolation extends Error {
  constructor(
    readonly seed: number,
    message: string,
    readonly trace: ReadonlyArray<string>,
    /** The trace hash up to the violation (equal for two runs of one seed). */
    readonly traceHash = 0,
  ) {
    super(`seed ${seed}: ${message}\n--- trace tail (SIM_SEED=${seed} reproduces) ---\n${trace.slice(-60).join('\n')}`)
    this.name = 'SimViolation'
  }
}

export const emptyFigures = (): SimFigures => ({
  crashes: 0,
  crashesByKind: { process: 0, 'power-writeback': 0, 'power-ordered': 0, 'power-reordered': 0 },
  crashesMidCheckpoint: 0,
  crashesInRecovery: 0,
  cleanShutdowns: 0,
  commands: 0,
  records: 0,
  acked: 0,
  ackedLost: 0,
  unackedDropped: 0,
  misconfReplies: 0,
  refusedWrites: 0,
  transfers: 0,
  checkpoints: 0,
  checkpointFailures: 0,
  injectedFaults: 0,
  truncatedTails: 0,
  recoveries: 0,
})

export const deriveConfig = (opts: SimOptions, rng: Rng): SimConfig => {
  const policy = opts.policy ?? (['always', 'always', 'always', 'everysec', 'no'] as const)[rng.int(5)]!
  const faulty = opts.faults ?? rng.chance(0.25)
  return {
    seed: opts.seed,
    policy,
    crashKinds: opts.crashKinds ?? ['process', 'power-writeback', 'power-ordered', 'power-ordered'],
    cycles: opts.cycles ?? rng.range(2, 4),
    maxSteps: opts.maxSteps ?? 300,
    clients: rng.range(2, 8),
    bankClients: rng.range(1, 4),
    accounts: rng.pick([2, 5, 20, 100]),
    sliceEntries: rng.pick([2, 8, 32, 2000]),
    faults: faulty ? { writeError: 0.01, syncError: 0.01, metaError: 0.005 } : undefined,
  }
}

// ---------------------------------------------------------------------------------------------
// small helpers
// ---------------------------------------------------------------------------------------------

const GENERAL_KEYS = ['k0', 'k1', 'k2', 'k3', '\x00bin\xff', 'c0', 'c1', 't0', 't1', 't2', 't3']
const COUNTERS = ['c0', 'c1']
const TTL_KEYS = ['t0', 't1', 't2', 't3', 'k0', 'k1']
const account = (i: number): string => `acct:${i}`

const fmtEntry = (e: Entry | undefined): string =>
  e === undefined ? '(absent)' : `${JSON.stringify(e.value)}${e.expireAt === null ? '' : ` @${e.expireAt - SIM_EPOCH}`}`

const sameEntry = (a: Entry | undefined, b: Entry | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.value === b.value && a.expireAt === b.expireAt

const fmtReply = (r: Reply): string => {
  switch (r.type) {
    case 'simple':
      return r.value
    case 'error':
      return `(error ${r.message})`
    case 'int':
      return `(int ${r.value})`
    case 'bulk':
      return JSON.stringify(r.value)
    case 'nil':
    case 'nilArray':
      return '(nil)'
    case 'array':
      return `[${r.items.map(fmtReply).join(', ')}]`
    default:
      return `(${r.type})`
  }
}

const fmtArgv = (argv: ReadonlyArray<string>): string => argv.map((a) => (/^[\w:.-]+$/.test(a) ? a : JSON.stringify(a))).join(' ')

const isError = (r: Reply): r is { type: 'error'; message: string } => r.type === 'error'
const isMisconf = (r: Reply): boolean => r.type === 'error' && r.message.startsWith('MISCONF ')

/** Differences between two states over every database (at most `max` lines). */
export const diffStates = (a: State, b: State, max = 8): string[] => {
  const out: string[] = []
  for (let db = 0; db < DATABASE_COUNT && out.length < max; db++) {
    const keys = new Set<string>([...Keyspace.keysOf(a, db), ...Keyspace.keysOf(b, db)])
    for (const k of [...keys].sort()) {
      const ea = Keyspace.getEntry(a, db, k)
      const eb = Keyspace.getEntry(b, db, k)
      if (!sameEntry(ea, eb)) out.push(`db${db} ${JSON.stringify(k)}: ${fmtEntry(ea)} vs ${fmtEntry(eb)}`)
      if (out.length >= max) break
    }
  }
  return out
}

/** FNV-1a over strings. */
class TraceHash {
  h = 0x811c9dc5
  add(s: string): void {
    for (let i = 0; i < s.length; i++) {
      this.h ^= s.charCodeAt(i)
      this.h = Math.imul(this.h, 0x01000193) >>> 0
    }
  }
}

const microtasks = async (n = 24): Promise<void> => {
  for (let i = 0; i < n; i++) await null
}

/** One event-loop turn: runs pending setImmediates (group-commit flushes, snapshot slices). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

class SimClock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms
  }
  /** Moves time and the fake timers (the everysec fsync) together, in steps of at most 10 ms. */
  advance(ms: number): void {
    for (let left = ms; left > 0; ) {
      const d = Math.min(left, 10)
      this.ms += d
      left -= d
      vi.advanceTimersByTime(d)
    }
  }
}

/** The engine's log: forwards to the AofLog and remembers every record sent. */
class RecordingLog implements EventLog {
  constructor(
    readonly inner: AofLog,
    private readonly sent: Map<number, LogRecord>,
  ) {}
  append(record: LogRecord): Promise<void> {
    this.sent.set(record.seq, record)
    return this.inner.append(record)
  }
  failure(): LogFailure | undefined {
    return this.inner.failure()
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}

// ---------------------------------------------------------------------------------------------
// the ledger: per-key history of entries, with acknowledgements
// ---------------------------------------------------------------------------------------------

interface LedgerEntry {
  readonly seq: number
  readonly entry: Entry | undefined
}

class Ledger {
  /** `db key` → entries in seq order (the entry after each record that changed the key). */
  private readonly byKey = new Map<string, LedgerEntry[]>()
  /** Every value a key ever held (phantom check). */
  private readonly values = new Map<string, Set<string>>()
  /** `db key` → seqs of acknowledged records that changed it. */
  private readonly ackedSeqs = new Map<string, number[]>()
  /** seq → `db key`s it changed. */
  private readonly changedBy = new Map<number, string[]>()

  static id(db: number, key: string): string {
    return `${db} ${key}`
  }

  /** Records the effect of record `seq` (before → after) on `keys`. */
  note(seq: number, before: State, after: State, keys: Iterable<readonly [number, string]>): void {
    const changed: string[] = []
    for (const [db, key] of keys) {
      const a = Keyspace.getEntry(before, db, key)
      const b = Keyspace.getEntry(after, db, key)
      if (sameEntry(a, b)) continue
      const id = Ledger.id(db, key)
      if (changed.includes(id)) continue
      changed.push(id)
      let list = this.byKey.get(id)
      if (list === undefined) this.byKey.set(id, (list = []))
      list.push({ seq, entry: b })
      if (b !== undefined) {
        let vs = this.values.get(id)
        if (vs === undefined) this.values.set(id, (vs = new Set()))
        vs.add(b.value)
      }
    }
    this.changedBy.set(seq, changed)
  }

  ack(seq: number): void {
    for (const id of this.changedBy.get(seq) ?? []) {
      let list = this.ackedSeqs.get(id)
      if (list === undefined) this.ackedSeqs.set(id, (list = []))
      list.push(seq)
    }
  }

  /** Forgets everything after `seq` (records lost in a crash). */
  truncate(seq: number): void {
    for (const list of this.byKey.values()) while (list.length > 0 && list[list.length - 1]!.seq > seq) list.pop()
    for (const list of this.ackedSeqs.values()) while (list.length > 0 && list[list.length - 1]! > seq) list.pop()
    for (const s of [...this.changedBy.keys()]) if (s > seq) this.changedBy.delete(s)
  }

  /**
   * Checks a recovered state at seq R key by key. `ackFloor`: acknowledged records at or below it
   * must be present. Returns the problems found.
   */
  check(state: State, r: number, ackFloor: number): string[] {
    const problems: string[] = []
    const ids = new Set<string>(this.byKey.keys())
    for (let db = 0; db < DATABASE_COUNT; db++) for (const k of Keyspace.keysOf(state, db)) ids.add(Ledger.id(db, k))
    for (const id of ids) {
      const sp = id.indexOf(' ')
      const db = Number(id.slice(0, sp))
      const key = id.slice(sp + 1)
      const got = Keyspace.getEntry(state, db, key)
      const list = this.byKey.get(id) ?? []
      let expected: Entry | undefined
      for (const e of list) if (e.seq <= r) expected = e.entry
      if (!sameEntry(got, expected)) problems.push(`key ${JSON.stringify(id)}: recovered ${fmtEntry(got)}, history at seq ${r} says ${fmtEntry(expected)}`)
      if (got !== undefined && !(this.values.get(id)?.has(got.value) ?? false)) {
        problems.push(`key ${JSON.stringify(id)}: phantom value ${fmtEntry(got)} (never written)`)
      }
      const acked = (this.ackedSeqs.get(id) ?? []).filter((s) => s <= ackFloor)
      const lastAcked = acked[acked.length - 1]
      if (lastAcked !== undefined && lastAcked > r) {
        const e = list.find((x) => x.seq === lastAcked)
        problems.push(`key ${JSON.stringify(id)}: acknowledged write at seq ${lastAcked} (${fmtEntry(e?.entry)}) is missing; recovered ${fmtEntry(got)} at seq ${r}`)
      }
    }
    return problems
  }
}

// ---------------------------------------------------------------------------------------------
// workload
// ---------------------------------------------------------------------------------------------

type Script = Generator<string[], void, Reply>

interface Client {
  readonly id: number
  readonly kind: 'general' | 'bank'
  session: Session
  busy: boolean
  script: Script | undefined
  last: Reply | undefined
  /** The client's open MULTI queues a write. */
  txWrites: boolean
}

const isWriteCommand = (name: string): boolean => lookupCommand(name.toLowerCase())?.flags.includes('write') ?? false

// ---------------------------------------------------------------------------------------------
// the simulation
// ---------------------------------------------------------------------------------------------

class Simulation {
  readonly cfg: SimConfig
  readonly fig = emptyFigures()
  private readonly master: Rng
  private readonly sched: Rng
  private readonly work: Rng
  private readonly disk: Rng
  private readonly crashRng: Rng
  private readonly engineRng: Rng
  private readonly clock = new SimClock(SIM_EPOCH)
  private readonly hash = new TraceHash()
  private readonly trace: string[] = []
  private readonly fullTrace: boolean
  private cycle = 0
  private step = 0
  private uniq = 0

  // persistent across cycles
  private image: DiskImage = new Map()
  /** After a process crash: the same disk, unsynced data still unsynced. */
  private survivor: SimFileSystem | undefined
  private readonly dirs = [path.dirname(SIM_DIR)]
  /** seq → live state right after that record (0: the initial empty state). */
  private readonly history = new Map<number, State>([[0, Keyspace.emptyState]])
  /** seq → record as sent. */
  private readonly sent = new Map<number, LogRecord>()
  /** seq → fake time its reply was acknowledged. */
  private readonly acked = new Map<number, number>()
  private readonly ledger = new Ledger()
  /** Verified folds: seq → fold of records 1..seq (checked equal to history). */
  private readonly folds = new Map<number, State>([[0, Keyspace.emptyState]])
  /** seq of the bank's initial MSET, while it is in the history. */
  private bankInitSeq: number | undefined

  // per cycle
  private fs!: SimFileSystem
  private aof!: AofLog
  private engine!: Engine
  private clients: Client[] = []
  private checkpointRunning = false
  private faultSeenAt: number | undefined
  private cycleStart = 0

  constructor(opts: SimOptions) {
    this.master = new Rng(opts.seed)
    this.cfg = deriveConfig(opts, this.master.fork())
    this.sched = this.master.fork()
    this.work = this.master.fork()
    this.disk = this.master.fork()
    this.crashRng = this.master.fork()
    this.engineRng = this.master.fork()
    simEntropy.rng = this.master.fork()
    this.fullTrace = opts.fullTrace === true
  }

  private log(line: string): void {
    const l = `[c${this.cycle} s${this.step} t+${this.clock.now() - SIM_EPOCH}] ${line}`
    this.hash.add(l)
    this.trace.push(l)
    if (!this.fullTrace && this.trace.length > 600) this.trace.splice(0, 300)
  }

  private violation(message: string): never {
    this.log(`VIOLATION ${message}`)
    const cause = probableCause(message, this.trace.join('\n'))
    throw new SimViolation(this.cfg.seed, `cycle ${this.cycle}, step ${this.step} (${this.cfg.policy}): [${cause}] ${message}`, this.trace, this.hash.h)
  }

  // -------------------------------------------------------------------------------------------
  // main loop
  // -------------------------------------------------------------------------------------------

  async run(): Promise<SimResult> {
    const c = this.cfg
    this.log(`config ${JSON.stringify({ ...c, faults: c.faults !== undefined })}`)
    for (this.cycle = 0; this.cycle < c.cycles; this.cycle++) {
      await this.startCycle()
      await this.runCycle()
      this.crash(this.pickCrashKind())
      this.clock.advance(this.sched.chance(0.3) ? this.sched.range(0, 5000) : this.sched.range(0, 50))
    }
    // Last: recover once more, then a clean shutdown must lose nothing at all.
    this.cycle = c.cycles
    await this.startCycle()
    await this.runCycle(Math.min(60, c.maxSteps))
    await this.cleanShutdown()
    this.rethrow()
    return { config: c, figures: this.fig, traceHash: this.hash.h, traceTail: this.fullTrace ? [...this.trace] : this.trace.slice(-300) }
  }

  private pickCrashKind(): CrashKind {
    const kinds = this.cfg.crashKinds
    return kinds[this.crashRng.int(kinds.length)]!
  }

  // -------------------------------------------------------------------------------------------
  // start of a cycle: recovery (possibly crashing in the middle), checks, a new engine
  // -------------------------------------------------------------------------------------------

  private async startCycle(): Promise<void> {
    let recovered: Recovered | undefined
    for (let attempt = 0; recovered === undefined; attempt++) {
      this.fs = this.survivor ?? new SimFileSystem(this.disk.fork(), this.image, this.dirs)
      this.survivor = undefined
      this.fs.mode = 'manual'
      this.fs.clock = () => this.clock.now()
      const crashAfter = attempt < 3 && this.sched.chance(0.06) ? this.sched.range(1, 40) : Number.POSITIVE_INFINITY
      recovered = await this.recoverOnce(crashAfter)
      if (recovered === undefined) {
        this.fig.crashesInRecovery++
        this.crash(this.pickCrashKind())
      }
    }
    this.fig.recoveries++
    if (recovered.stats.truncatedBytes > 0) this.fig.truncatedTails++
    this.checkRecovered(recovered)

    // Open the log and a new engine on the recovered state.
    const aof = await this.settleWhile(
      AofLog.open(SIM_DIR, recovered.position, {
        fs: this.fs,
        appendfsync: this.cfg.policy,
        now: () => this.clock.now(),
        logger: silentSink,
        fsyncIntervalMs: FSYNC_INTERVAL_MS,
        snapshotSliceEntries: this.cfg.sliceEntries,
      }),
      'AofLog.open',
    )
    this.aof = aof
    if (this.cfg.faults !== undefined) this.fs.faults = this.cfg.faults
    this.engine = new Engine({
      log: new RecordingLog(aof, this.sent),
      clock: { now: () => this.clock.now() },
      state: recovered.state,
      seq: recovered.seq,
      random: () => this.engineRng.u32(),
    })
    this.engine.onAppended = (seq, events) => this.onAppended(seq, events)
    // The harness keeps the recovered state (history, folds, the TTL check below): take it through
    // the getter, so the engine knows it is shared and never updates it in place.
    if (this.engine.state !== recovered.state) this.violation('the engine does not start from the recovered state')
    this.checkpointRunning = false
    this.faultSeenAt = undefined
    this.quietUntil = 0
    this.cycleStart = this.clock.now()

    // TTL across the restart: one active-expiry pass removes exactly the keys past their deadline.
    const now = this.clock.now()
    this.engine.runActiveExpiry()
    for (let db = 0; db < 16; db++) {
      for (const [key, at] of Keyspace.deadlinesOf(this.engine.state, db)) {
        if (at < now) this.violation(`after restart and active expiry, db${db} ${JSON.stringify(key)} is still there past its deadline (${at - now} ms)`)
      }
      for (const [key, at] of Keyspace.deadlinesOf(recovered.state, db)) {
        if (at >= now && !Keyspace.hasKey(this.engine.state, db, key)) this.violation(`active expiry after restart removed db${db} ${JSON.stringify(key)} before its deadline`)
      }
    }

    // Clients (connections are new after a restart).
    this.clients = []
    const total = this.cfg.clients + this.cfg.bankClients
    for (let i = 0; i < total; i++) {
      const session = this.engine.newSession()
      const kind = i < this.cfg.clients ? 'general' : 'bank'
      if (kind === 'bank') session.db = BANK_DB
      this.clients.push({ id: i, kind, session, busy: false, script: undefined, last: undefined, txWrites: false })
    }
    this.log(`cycle start: recovered seq ${recovered.seq} (snapshot ${recovered.stats.snapshotSeq}, ${recovered.stats.recordsReplayed} replayed, ${recovered.stats.truncatedBytes} bytes truncated)`)
  }

  /** Runs `recover` with the disk delivering one operation at a time; undefined if it crashed. */
  private async recoverOnce(crashAfter: number): Promise<Recovered | undefined> {
    let done = false
    let result: Recovered | undefined
    let error: unknown
    recover(SIM_DIR, this.fs, silentSink, { now: () => this.clock.now() }).then(
      (r) => {
        done = true
        result = r
      },
      (e: unknown) => {
        done = true
        error = e
      },
    )
    let delivered = 0
    let idle = 0
    while (!done) {
      await microtasks()
      this.rethrow()
      if (done) break
      if (this.fs.deliverableCount === 0) {
        if (++idle > 200) this.violation('recovery hangs: no disk operation pending and no result')
        await this.turn()
        continue
      }
      idle = 0
      if (delivered >= crashAfter) {
        this.log(`crash during recovery after ${delivered} disk operations`)
        return undefined
      }
      const label = this.fs.deliverRandom(this.sched)
      delivered++
      if (label !== undefined) this.hash.add(label)
    }
    if (error !== undefined) {
      this.violation(`start-up refused after a crash: ${error instanceof Error ? error.message : String(error)}`)
    }
    return result
  }

  /** Awaits `p` while delivering disk operations in order (setup steps, not under test). */
  private async settleWhile<T>(p: Promise<T>, what: string): Promise<T> {
    let done = false
    let value: T | undefined
    let error: unknown
    let failed = false
    p.then(
      (v) => {
        done = true
        value = v
      },
      (e: unknown) => {
        done = true
        failed = true
        error = e
      },
    )
    for (let idle = 0; !done; ) {
      await microtasks()
      if (done) break
      if (this.fs.deliverableCount > 0) {
        this.fs.deliverRandom(this.sched)
        idle = 0
      } else {
        if (++idle > 200) this.violation(`${what} hangs`)
        await this.turn()
      }
    }
    if (failed) this.violation(`${what} failed: ${error instanceof Error ? error.message : String(error)}`)
    return value as T
  }

  // -------------------------------------------------------------------------------------------
  // checks after recovery
  // -------------------------------------------------------------------------------------------

  private checkRecovered(rec: Recovered): void {
    const r = rec.seq
    const lastSent = Math.max(0, ...this.history.keys())
    if (r > lastSent) this.violation(`recovered seq ${r} is beyond the last record sent (${lastSent}): phantom records`)
    const live = this.history.get(r)
    if (live === undefined) this.violation(`recovered seq ${r} has no live state in the history`)

    // Durability: which acknowledged records may be missing?
    const crash = this.lastCrash
    let ackFloor = Number.POSITIVE_INFINITY
    const lost: number[] = []
    for (const [seq] of this.acked) if (seq > r) lost.push(seq)
    lost.sort((a, b) => a - b)
    if (lost.length > 0) {
      const power = crash !== undefined && crash.kind !== 'process'
      const policy = this.cfg.policy
      if (!power || policy === 'always') {
        ackFloor = Number.POSITIVE_INFINITY
      } else if (policy === 'everysec' && crash !== undefined && crash.faultFree) {
        // Lost acks must fall inside the everysec window before the crash.
        const window = 2 * FSYNC_INTERVAL_MS + 2 * crash.maxSyncMs + 20
        const old = lost.filter((s) => crash.at - (this.acked.get(s) ?? 0) > window)
        if (old.length > 0) {
          this.violation(
            `everysec power loss lost ${old.length} records acknowledged more than ${window} ms before the crash (seq ${old.slice(0, 5).join(', ')}; acked at t+${(this.acked.get(old[0]!) ?? 0) - SIM_EPOCH}, crash at t+${crash.at - SIM_EPOCH})`,
          )
        }
        ackFloor = r
      } else {
        ackFloor = r
      }
    }
    const problems = this.ledger.check(rec.state, r, ackFloor)
    if (lost.length > 0 && ackFloor === Number.POSITIVE_INFINITY) {
      problems.unshift(
        `${lost.length} acknowledged record(s) lost: seq ${lost.slice(0, 8).join(', ')} > recovered seq ${r} (${this.lastCrash?.kind ?? 'start'} crash, ${this.cfg.policy})`,
      )
    }
    if (problems.length > 0) this.violation(`after recovery:\n  ${problems.slice(0, 12).join('\n  ')}`)

    // Replay equals live, and equals the fold of exactly the records recovered.
    if (!Keyspace.equals(rec.state, live)) {
      this.violation(`recovered state differs from the live state at seq ${r}:\n  ${diffStates(rec.state, live).join('\n  ')}`)
    }
    let base = 0
    for (const s of this.folds.keys()) if (s <= r && s > base) base = s
    let folded = this.folds.get(base)!
    for (let s = base + 1; s <= r; s++) {
      const record = this.sent.get(s)
      if (record === undefined) this.violation(`record ${s} was never sent`)
      folded = fold(folded, record.events)
    }
    if (!Keyspace.equals(rec.state, folded)) {
      this.violation(`recovered state differs from the fold of records 1..${r}:\n  ${diffStates(rec.state, folded).join('\n  ')}`)
    }
    this.folds.set(r, folded)

    // Bank.
    this.checkBank(rec.state, 'recovered state')

    // Bookkeeping: what was lost is gone from every history.
    let unacked = 0
    for (const s of [...this.history.keys()]) {
      if (s > r) {
        this.history.delete(s)
        this.sent.delete(s)
        if (this.acked.has(s)) this.acked.delete(s)
        else unacked++
      }
    }
    for (const s of [...this.folds.keys()]) if (s > r) this.folds.delete(s)
    this.fig.ackedLost += lost.length
    this.fig.unackedDropped += unacked
    this.ledger.truncate(r)
    if (this.bankInitSeq !== undefined && this.bankInitSeq > r) this.bankInitSeq = undefined
    this.lastCrash = undefined
    this.log(`recovered seq ${r}: ${lost.length} acked lost, ${unacked} unacked dropped`)
  }

  private checkBank(state: State, where: string): void {
    const n = this.cfg.accounts
    let present = 0
    let sum = 0
    for (let i = 0; i < n; i++) {
      const v = Keyspace.getValue(state, BANK_DB, account(i))
      if (v === undefined) continue
      present++
      if (!/^-?\d+$/.test(v)) this.violation(`bank: ${where}: ${account(i)} holds ${JSON.stringify(v)}`)
      sum += Number(v)
    }
    if (present === 0) return
    if (present !== n) this.violation(`bank: ${where}: only ${present} of ${n} accounts exist (a partial initialisation)`)
    if (sum !== n * BANK_INITIAL) this.violation(`bank: ${where}: total is ${sum}, expected ${n * BANK_INITIAL} (a partly applied transfer)`)
  }

  // -------------------------------------------------------------------------------------------
  // running
  // -------------------------------------------------------------------------------------------

  private onAppended(seq: number, events: ReadonlyArray<Event>): void {
    const after = this.engine.state
    const before = this.history.get(seq - 1)
    if (before === undefined) this.violation(`record ${seq} appended without a state for seq ${seq - 1}`)
    this.history.set(seq, after)
    this.fig.records++
    const keys: Array<readonly [number, string]> = []
    for (const e of events) {
      for (const k of touchedKeys(e)) keys.push(k)
      if (e.type === 'DatabaseFlushed' || e.type === 'AllDatabasesFlushed' || e.type === 'DatabasesSwapped') {
        for (const db of [0, BANK_DB]) for (const k of Keyspace.keysOf(before, db)) keys.push([db, k])
      }
    }
    this.ledger.note(seq, before, after, keys)
  }

  private async runCycle(maxSteps = this.cfg.maxSteps): Promise<void> {
    const steps = this.sched.range(Math.min(20, maxSteps), maxSteps)
    this.ensureBank()
    for (this.step = 0; this.step < steps; this.step++) {
      await this.oneStep()
      // A crash mid-checkpoint is the interesting case: sometimes stop right here.
      if (this.checkpointRunning && this.sched.chance(0.005)) break
    }
  }

  private ensureBank(): void {
    if (this.bankInitSeq !== undefined) return
    const n = this.cfg.accounts
    if (Keyspace.getValue(this.engine.state, BANK_DB, account(0)) !== undefined) return
    if (this.engine.log.failure() !== undefined) return
    const session = this.engine.newSession()
    session.db = BANK_DB
    const argv = ['MSET']
    for (let i = 0; i < n; i++) argv.push(account(i), String(BANK_INITIAL))
    const r = this.engine.execute(session, argv)
    if (r instanceof PendingReply) {
      this.bankInitSeq = this.engine.seq
      this.track(r, this.engine.seq, undefined, argv)
      this.log(`bank: initialised ${n} accounts (seq ${this.bankInitSeq})`)
    }
  }

  private async oneStep(): Promise<void> {
    // Clients sometimes pause (an idle server): checkpoints then run with no write in between.
    const quiet = this.step < this.quietUntil
    const idle = quiet ? [] : this.clients.filter((c) => !c.busy)
    const failed = this.engine.log.failure() !== undefined
    const action = this.sched.weighted([
      idle.length > 0 ? 45 : 0, // 0 client command
      this.fs.deliverableCount > 0 ? 35 : 0, // 1 deliver a disk operation (poll phase)
      15, // 2 an event-loop turn (check phase)
      7, // 3 time passes
      2, // 4 active expiry
      this.checkpointRunning ? 0 : failed ? 8 : 0.6, // 5 checkpoint
    ])
    switch (action) {
      case 0:
        this.clientStep(this.sched.pick(idle))
        break
      case 1: {
        const label = this.fs.deliverRandom(this.sched)
        if (label !== undefined) this.log(`disk: ${label}`)
        break
      }
      case 2:
        await this.turn()
        break
      case 3: {
        const dt = this.sched.chance(0.05) ? this.sched.range(500, 3000) : this.sched.range(1, 150)
        this.clock.advance(dt)
        break
      }
      case 4: {
        const n = this.engine.runActiveExpiry()
        if (n > 0) this.log(`active expiry: ${n} keys`)
        break
      }
      case 5:
        this.startCheckpoint()
        break
    }
    await microtasks()
    this.rethrow()
    if (this.fs.stats.faults > 0 && this.faultSeenAt === undefined) this.faultSeenAt = this.clock.now()
    if (this.bankInitSeq === undefined) this.ensureBank()
  }

  /** The check phase of an event-loop iteration: pending setImmediates run; the disk's loop moves on. */
  private async turn(): Promise<void> {
    await turn()
    this.fs.tick()
  }

  private rethrow(): void {
    if (this.deferred !== undefined) throw this.deferred
  }

  private quietUntil = 0

  private startCheckpoint(): void {
    if (this.sched.chance(0.3)) this.quietUntil = this.step + this.sched.range(10, 120)
    const seq = this.engine.seq
    const wasFailed = this.engine.log.failure() !== undefined
    this.checkpointRunning = true
    this.log(`checkpoint at seq ${seq}${wasFailed ? ' (log failed)' : ''}`)
    const life = this.life
    this.aof.checkpoint(() => this.engine.capture(), seq).then(
      (res) => {
        if (this.life !== life) return
        this.checkpointRunning = false
        this.fig.checkpoints++
        this.log(`checkpoint done: ${res.file}, ${res.count} keys`)
        if (wasFailed && this.engine.log.failure() === undefined) this.log('log failure cleared by the checkpoint')
      },
      (err: unknown) => {
        if (this.life !== life) return
        this.checkpointRunning = false
        this.fig.checkpointFailures++
        this.log(`checkpoint failed: ${err instanceof Error ? err.message : String(err)}`)
      },
    )
  }

  // -------------------------------------------------------------------------------------------
  // clients
  // -------------------------------------------------------------------------------------------

  private clientStep(c: Client): void {
    if (c.script === undefined) {
      c.script = c.kind === 'bank' ? this.bankScript() : this.generalScript()
      c.last = undefined
    }
    const next = c.script.next(c.last as Reply)
    if (next.done === true) {
      c.script = undefined
      return
    }
    this.execute(c, next.value)
  }

  private execute(c: Client, argv: string[]): void {
    const name = argv[0]!.toUpperCase()
    const failedBefore = this.engine.log.failure()
    const inTx = c.session.inTransaction() && name !== 'EXEC' && name !== 'DISCARD'
    const write = name === 'EXEC' ? c.txWrites : isWriteCommand(name)
    if (inTx && isWriteCommand(name)) c.txWrites = true
    if (name === 'EXEC' || name === 'DISCARD') c.txWrites = false
    if (name === 'MULTI') c.txWrites = false
    this.fig.commands++
    let result: Reply | PendingReply
    try {
      result = this.engine.execute(c.session, argv)
    } catch (err) {
      this.violation(`engine.execute threw on ${fmtArgv(argv)}: ${err instanceof Error ? err.stack : String(err)}`)
    }
    const seq = this.engine.seq
    if (result instanceof PendingReply) {
      if (failedBefore !== undefined) this.violation(`${fmtArgv(argv)} appended a record while the log was failed`)
      this.checkTtlStored(c, argv, result.reply)
      c.busy = true
      this.log(`client ${c.id}: ${fmtArgv(argv)} → pending seq ${seq}`)
      this.track(result, seq, c, argv)
      return
    }
    // An immediate reply.
    if (failedBefore !== undefined && !inTx) {
      if (write && name !== 'EXEC' && !isMisconf(result)) this.violation(`write ${fmtArgv(argv)} got ${fmtReply(result)} while the log was failed (expected MISCONF)`)
      if (write && name === 'EXEC' && !(isMisconf(result) || result.type === 'nilArray' || isError(result))) {
        this.violation(`EXEC with writes got ${fmtReply(result)} while the log was failed`)
      }
      if (!write && isMisconf(result)) this.violation(`read ${fmtArgv(argv)} refused while the log was failed: ${fmtReply(result)}`)
      if (write && isMisconf(result)) this.fig.refusedWrites++
    }
    if (failedBefore === undefined && isMisconf(result)) this.violation(`${fmtArgv(argv)} got MISCONF while the log was not failed`)
    if (!inTx) this.checkTtlStored(c, argv, result)
    this.log(`client ${c.id}: ${fmtArgv(argv)} → ${fmtReply(result)}`)
    c.last = result
  }

  private track(p: PendingReply, seq: number, c: Client | undefined, argv: ReadonlyArray<string>): void {
    const life = this.life
    const settled = (ok: boolean, reply: Reply): void => {
      if (this.life !== life) return // a previous life: the process died before the reply went out
      if (c !== undefined) {
        c.busy = false
        c.last = reply
      }
      if (!ok) {
        if (!isMisconf(reply)) this.violation(`a failed commit gave a non-MISCONF reply: ${fmtReply(reply)}`)
        this.fig.misconfReplies++
        this.log(`seq ${seq} ${fmtArgv(argv).slice(0, 60)}: ${fmtReply(reply)}`)
        return
      }
      if (this.history.has(seq)) {
        this.acked.set(seq, this.clock.now())
        this.ledger.ack(seq)
        this.fig.acked++
      }
      if (c !== undefined && c.kind === 'bank') this.bankReply(argv, reply)
      this.log(`ack seq ${seq}${c === undefined ? '' : ` client ${c.id}`}: ${fmtReply(reply).slice(0, 80)}`)
    }
    p.commit.then(
      () => this.guard(() => settled(true, p.reply)),
      (err: unknown) => this.guard(() => settled(false, p.failedReply(err))),
    )
  }

  /** Runs a callback from a promise: a violation there is kept and rethrown by the main loop. */
  private guard(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.deferred ??= err
    }
  }

  private deferred: unknown

  /** SET … EX/PX/EXAT/PXAT and the EXPIRE family store absolute deadlines. */
  private checkTtlStored(c: Client, argv: ReadonlyArray<string>, reply: Reply): void {
    if (c.session.inTransaction() || isError(reply)) return
    const name = argv[0]!.toUpperCase()
    const now = this.clock.now()
    const db = c.session.db
    let key: string | undefined
    let want: number | undefined
    if (name === 'SET' && argv.length === 5 && reply.type === 'simple') {
      key = argv[1]
      const n = Number(argv[4])
      const unit = argv[3]!.toUpperCase()
      want = unit === 'EX' ? now + n * 1000 : unit === 'PX' ? now + n : unit === 'EXAT' ? n * 1000 : unit === 'PXAT' ? n : undefined
    } else if (/^P?EXPIRE(AT)?$/.test(name) && argv.length === 3 && reply.type === 'int' && reply.value === 1) {
      key = argv[1]
      const n = Number(argv[2])
      want = name === 'EXPIRE' ? now + n * 1000 : name === 'PEXPIRE' ? now + n : name === 'EXPIREAT' ? n * 1000 : n
    }
    if (key === undefined || want === undefined) return
    // Redis 7.0 keeps a SET key whose deadline already passed (it expires on access); EXPIRE* deletes.
    if (want <= now && name !== 'SET') {
      if (Keyspace.hasKey(this.engine.state, db, key)) this.violation(`${fmtArgv(argv)} with a past deadline left the key in place`)
      return
    }
    const got = Keyspace.getExpireAt(this.engine.state, db, key)
    if (got !== want) this.violation(`${fmtArgv(argv)} at t+${now - SIM_EPOCH} stored deadline ${got === undefined ? 'none' : got - SIM_EPOCH}, expected absolute t+${want - SIM_EPOCH}`)
  }

  private value(): string {
    const n = ++this.uniq
    return this.work.chance(0.15) ? `v${n}\x00\xff\r\n` : `v${n}`
  }

  /** A random command over the general keys (db 0). */
  private generalCommand(): string[] {
    const w = this.work
    const k = w.pick(GENERAL_KEYS)
    const now = this.clock.now()
    const at = (): number => now + w.range(-2000, 8000)
    switch (w.weighted([14, 8, 6, 5, 4, 5, 4, 3, 2, 2, 2, 2, 1, 1, 0.3])) {
      case 0: {
        const argv = ['SET', k, this.value()]
        const opt = w.int(9)
        if (opt === 0) argv.push('EX', String(w.range(1, 8)))
        else if (opt === 1) argv.push('PX', String(w.range(1, 6000)))
        else if (opt === 2) argv.push('PXAT', String(at()))
        else if (opt === 3) argv.push('EXAT', String(Math.floor(at() / 1000)))
        else if (opt === 4) argv.push('KEEPTTL')
        else if (opt === 5) argv.push(w.chance(0.5) ? 'NX' : 'XX')
        else if (opt === 6) argv.push('GET')
        return argv
      }
      case 1:
        return w.chance(0.5) ? ['GET', k] : ['MGET', k, w.pick(GENERAL_KEYS), w.pick(TTL_KEYS)]
      case 2:
        return w.pick([['INCR', w.pick(COUNTERS)], ['INCRBY', w.pick(COUNTERS), String(w.range(-50, 50))], ['DECR', w.pick(COUNTERS)]])
      case 3:
        return ['APPEND', k, this.value()]
      case 4:
        return w.chance(0.7) ? ['DEL', k] : ['DEL', k, w.pick(GENERAL_KEYS)]
      case 5: {
        const t = w.pick(TTL_KEYS)
        switch (w.int(5)) {
          case 0:
            return ['EXPIRE', t, String(w.range(1, 8))]
          case 1:
            return ['PEXPIRE', t, String(w.range(1, 6000))]
          case 2:
            return ['EXPIREAT', t, String(Math.floor(at() / 1000))]
          case 3:
            return ['PEXPIREAT', t, String(at())]
          default:
            return ['PEXPIRE', t, String(w.range(1, 6000)), w.pick(['NX', 'XX', 'GT', 'LT'])]
        }
      }
      case 6:
        return w.pick([['TTL', w.pick(TTL_KEYS)], ['PTTL', w.pick(TTL_KEYS)], ['EXISTS', k, w.pick(TTL_KEYS)]])
      case 7:
        return ['SET', w.pick(TTL_KEYS), this.value(), 'PX', String(w.range(1, 4000))]
      case 8:
        return ['PERSIST', w.pick(TTL_KEYS)]
      case 9:
        return w.chance(0.5) ? ['GETEX', w.pick(TTL_KEYS), 'PX', String(w.range(1, 5000))] : ['GETEX', w.pick(TTL_KEYS), 'PERSIST']
      case 10:
        return ['GETDEL', k]
      case 11:
        return ['SETRANGE', k, String(w.range(0, 12)), this.value()]
      case 12:
        return ['MSET', k, this.value(), w.pick(GENERAL_KEYS), this.value()]
      case 13:
        return ['RENAME', k, w.pick(GENERAL_KEYS)]
      default:
        return ['FLUSHDB']
    }
  }

  private *generalScript(): Script {
    const w = this.work
    if (w.chance(0.78)) {
      yield this.generalCommand()
      return
    }
    // A transaction, sometimes watched.
    if (w.chance(0.3)) {
      const k = w.pick(GENERAL_KEYS)
      yield ['WATCH', k]
      yield ['GET', k]
    }
    yield ['MULTI']
    const n = w.range(1, 6)
    for (let i = 0; i < n; i++) yield this.generalCommand()
    yield w.chance(0.08) ? ['DISCARD'] : ['EXEC']
  }

  /** Bank transfers in db 2: MULTI DECRBY a x, INCRBY b x EXEC, sometimes WATCHed with a balance check. */
  private *bankScript(): Script {
    const w = this.work
    const n = this.cfg.accounts
    if (Keyspace.getValue(this.engine.state, BANK_DB, account(0)) === undefined) {
      yield ['PING']
      return
    }
    if (w.chance(0.1)) {
      // Audit: one MGET sees a consistent total.
      const argv = ['MGET']
      for (let i = 0; i < n; i++) argv.push(account(i))
      const r = yield argv
      this.auditReply(r)
      return
    }
    const a = w.int(n)
    let b = w.int(n)
    if (b === a) b = (b + 1) % n
    const x = w.range(1, 60)
    if (w.chance(0.5)) {
      yield ['WATCH', account(a), account(b)]
      const r = yield ['MGET', account(a), account(b)]
      const bal = r.type === 'array' && r.items[0]?.type === 'bulk' ? Number(r.items[0].value) : 0
      if (bal < x) {
        yield ['UNWATCH']
        return
      }
    }
    yield ['MULTI']
    yield ['DECRBY', account(a), String(x)]
    yield ['INCRBY', account(b), String(x)]
    yield ['EXEC']
  }

  private auditReply(r: Reply): void {
    if (r.type !== 'array') return
    let sum = 0
    let present = 0
    for (const item of r.items) {
      if (item.type === 'bulk') {
        present++
        sum += Number(item.value)
      }
    }
    if (present === 0) return
    if (present !== r.items.length) this.violation(`bank audit: ${present} of ${r.items.length} accounts exist`)
    if (sum !== r.items.length * BANK_INITIAL) this.violation(`bank audit: total ${sum}, expected ${r.items.length * BANK_INITIAL}`)
  }

  private bankReply(argv: ReadonlyArray<string>, reply: Reply): void {
    if (argv[0] === 'EXEC' && reply.type === 'array') this.fig.transfers++
  }

  // -------------------------------------------------------------------------------------------
  // crashes
  // -------------------------------------------------------------------------------------------

  private lastCrash: { kind: CrashKind; at: number; maxSyncMs: number; faultFree: boolean } | undefined
  /**
   * Incremented by every crash. Nothing the dead process does is observable afterwards: its disk
   * calls never settle, and a group-commit flush it still runs (a pending setImmediate; the
   * write is synchronous) fails on the crashed disk, so its replies and checkpoints are ignored.
   */
  private life = 0

  private crash(kind: CrashKind): void {
    this.life++
    const midCheckpoint = this.checkpointRunning
    const sent = this.engine === undefined ? 0 : this.engine.seq
    let note: string
    let image: DiskImage
    if (kind === 'process') {
      this.survivor = this.fs.reopen(this.disk.fork())
      image = new Map(this.survivor.listFiles().map((f) => [f, this.survivor!.contentOf(f)!]))
      note = 'process crash: the page cache survives, unsynced data still unsynced'
    } else {
      ;({ image, note } = this.fs.crash(this.crashRng.fork(), kind))
    }
    vi.clearAllTimers() // the dead process's everysec timer
    this.fig.crashes++
    this.fig.crashesByKind[kind]++
    if (midCheckpoint) this.fig.crashesMidCheckpoint++
    this.fig.injectedFaults += this.fs.stats.faults
    // Crashes since the last successful recovery add up (a crash during recovery keeps the first).
    const prev = this.lastCrash
    this.lastCrash =
      prev === undefined
        ? { kind, at: this.clock.now(), maxSyncMs: this.fs.maxSyncMs(), faultFree: this.fs.stats.faults === 0 }
        : { ...prev, kind: prev.kind === 'process' ? kind : prev.kind }
    this.image = image
    this.checkpointRunning = false
    if (this.engine !== undefined) this.checkBank(this.engine.state, 'live state at the crash')
    this.log(`CRASH ${note}${midCheckpoint ? ' (mid-checkpoint)' : ''}; last seq sent ${sent}; files ${[...image.keys()].map((f) => `${path.basename(f)}:${image.get(f)!.length}`).join(' ')}`)
  }

  // -------------------------------------------------------------------------------------------
  // the end: a clean shutdown loses nothing, even with a power loss right after it
  // -------------------------------------------------------------------------------------------

  private async cleanShutdown(): Promise<void> {
    // Let every in-flight reply and checkpoint settle, with the disk answering at once.
    this.fs.faults = {}
    this.fs.mode = 'auto'
    this.fs.deliverAll()
    // Quiescence: nothing in flight on the disk, no reply or checkpoint outstanding, for a while.
    for (let i = 0, calm = 0; i < 200 && calm < 5; i++) {
      await turn()
      await microtasks()
      this.rethrow()
      calm = this.checkpointRunning || this.clients.some((c) => c.busy) || this.fs.pendingCount > 0 ? 0 : calm + 1
    }
    if (this.engine.log.failure() !== undefined) {
      this.log('clean shutdown skipped: the log is failed; crashing instead')
      this.crash('power-ordered')
      await this.startCycle()
      return
    }
    const live = this.engine.state
    const seq = this.engine.seq
    let closeError: unknown
    await this.engine.close().catch((e: unknown) => (closeError = e))
    if (closeError !== undefined) this.violation(`clean shutdown failed: ${String(closeError)}`)
    if (this.clients.some((c) => c.busy)) this.violation('a reply never settled after the clean shutdown')
    this.log(`clean shutdown at seq ${seq}`)
    this.crash('power-reordered')
    this.fig.crashes--
    this.fig.crashesByKind['power-reordered']--
    this.fig.cleanShutdowns++
    this.fs = new SimFileSystem(this.disk.fork(), this.image, this.dirs)
    this.fs.mode = 'auto'
    const rec = await recover(SIM_DIR, this.fs, silentSink, { now: () => this.clock.now() }).catch((e: unknown) =>
      this.violation(`start-up refused after a clean shutdown and a power loss: ${e instanceof Error ? e.message : String(e)}`),
    )
    if (rec.seq !== seq) this.violation(`after a clean shutdown, recovered seq ${rec.seq}, expected ${seq}`)
    if (!Keyspace.equals(rec.state, live)) this.violation(`after a clean shutdown the state differs:\n  ${diffStates(rec.state, live).join('\n  ')}`)
    this.checkRecovered(rec)
  }
}

// ---------------------------------------------------------------------------------------------
// entry points
// ---------------------------------------------------------------------------------------------

/** Runs one seed. Throws {@link SimViolation} when an invariant fails. */
export const runSeed = async (opts: SimOptions): Promise<SimResult> => {
  // Hash tables take their seeds from a per-process sequence: restart it from the simulation's
  // seed, so a run's table layouts — and the snapshot files written from them — are its own.
  saltTableSeeds(opts.seed)
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
  try {
    return await new Simulation(opts).run()
  } finally {
    vi.clearAllTimers()
    vi.useRealTimers()
  }
}

export interface SweepSummary {
  seeds: number
  failures: Array<{ seed: number; message: string }>
  totals: SimFigures
  /** Seeds per policy (passing or not). */
  byPolicy: Record<AppendFsync, number>
  /** Acknowledged and acknowledged-lost records per policy, over passing seeds. */
  acksByPolicy?: Record<AppendFsync, { acked: number; lost: number }>
}

export const addFigures = (into: SimFigures, f: SimFigures): void => {
  for (const k of Object.keys(into) as Array<keyof SimFigures>) {
    if (k === 'crashesByKind') {
      for (const kind of Object.keys(into.crashesByKind) as CrashKind[]) into.crashesByKind[kind] += f.crashesByKind[kind]
    } else into[k] += f[k]
  }
}

/** Runs seeds `from..from+count-1`, collecting figures and failures (does not stop at one). */
export const sweep = async (
  from: number,
  count: number,
  opts: Omit<SimOptions, 'seed'> = {},
  onFailure?: (seed: number, err: unknown) => void,
): Promise<SweepSummary> => {
  const summary: SweepSummary = {
    seeds: 0,
    failures: [],
    totals: emptyFigures(),
    byPolicy: { always: 0, everysec: 0, no: 0 },
    acksByPolicy: { always: { acked: 0, lost: 0 }, everysec: { acked: 0, lost: 0 }, no: { acked: 0, lost: 0 } },
  }
  for (let seed = from; seed < from + count; seed++) {
    summary.seeds++
    try {
      const r = await runSeed({ ...opts, seed })
      addFigures(summary.totals, r.figures)
      summary.byPolicy[r.config.policy]++
      summary.acksByPolicy![r.config.policy].acked += r.figures.acked
      summary.acksByPolicy![r.config.policy].lost += r.figures.ackedLost
    } catch (err) {
      summary.byPolicy[deriveConfig({ ...opts, seed }, new Rng(seed).fork()).policy]++
      summary.failures.push({ seed, message: err instanceof Error ? err.message : String(err) })
      onFailure?.(seed, err)
    }
  }
  return summary
}

/**
 * The bug a failure most likely comes from, by its signature (RELIABILITY.md lists them). Only a
 * hint for the reader: every failure still fails the sweep.
 */
export const probableCause = (message: string, trace = ''): string => {
  if (/was written when seq \d+ was durable/.test(message) && /error, fdatasync/.test(trace)) return 'probably bug F: fsyncgate pages taken as durable after a restart'
  if (/a valid frame \(seq \d+\) follows/.test(message)) return 'probably bug B: valid frames after a torn region'
  if (/first_lsn does not increase/.test(message)) return 'probably bug C: checkpoint cut at an empty segment'
  if (/acknowledged record/.test(message) && /checkpoint failed: [^\n]*MANIFEST/.test(trace)) return 'probably bug A: failed manifest switch'
  if (/everysec power loss lost|sequence-gap|not the last segment|after a clean shutdown, recovered seq/.test(message)) return 'probably bug D: recovery does not sync what it replays'
  if (/history at seq/.test(message) && /process crash/.test(trace)) return 'possibly bug D: unsynced state of a previous process'
  return 'unclassified'
}

export const formatSummary = (label: string, s: SweepSummary): string => {
  const t = s.totals
  return [
    `${label}: ${s.seeds} seeds (always ${s.byPolicy.always}, everysec ${s.byPolicy.everysec}, no ${s.byPolicy.no}), ${s.failures.length} failing`,
    `  crashes ${t.crashes} (process ${t.crashesByKind.process}, power-writeback ${t.crashesByKind['power-writeback']}, power-ordered ${t.crashesByKind['power-ordered']}, power-reordered ${t.crashesByKind['power-reordered']}; mid-checkpoint ${t.crashesMidCheckpoint}, during recovery ${t.crashesInRecovery}); ${t.cleanShutdowns} clean shutdowns + power loss`,
    `  commands ${t.commands}, records ${t.records}, acknowledged ${t.acked}, acknowledged lost ${t.ackedLost}, unacknowledged dropped ${t.unackedDropped}`,
    ...(s.acksByPolicy === undefined
      ? []
      : [
          `  acknowledged/lost by policy (passing seeds): ${(['always', 'everysec', 'no'] as const).map((p) => `${p} ${s.acksByPolicy![p].acked}/${s.acksByPolicy![p].lost}`).join(', ')}`,
        ]),
    `  transfers ${t.transfers}, checkpoints ${t.checkpoints} (+${t.checkpointFailures} failed), injected I/O faults ${t.injectedFaults}, MISCONF replies ${t.misconfReplies}, refused writes ${t.refusedWrites}, torn tails truncated ${t.truncatedTails}`,
    ...s.failures.map((f) => `  failing seed ${f.seed}: ${/\[((?:probably|possibly) [^\]]*|unclassified)\]/.exec(f.message)?.[1] ?? 'unclassified'}`),
  ].join('\n')
}

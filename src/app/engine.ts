/**
 * The engine: the only mutable holder of Redust's state, around the pure Decider.
 *
 * Every execution unit (one command, or one whole EXEC) runs synchronously in one tick
 * (invariant I8):
 *   1. take `now` from the clock once (rule R2);
 *   2. decide — pure: command + state + ctx → events + reply;
 *   3. append the events to the log as one record with the next sequence number;
 *   4. evolve the state with the same events;
 *   5. hand back the reply, tied to the record's commit when there was one: the caller sends it
 *      only once the log says the record is durable per policy (group commit).
 * Reads and no-op writes append nothing (invariant I5) and their replies go out at once.
 *
 * Users: the TCP server (app/server), the inspection CLI and the tests; it also makes Redust
 * embeddable (`new Engine().call(['SET', 'k', 'v'])`).
 *
 * @category app
 */
import { arityOk, type CommandMeta, type Context } from '../domain/command.js'
import { decideExpireDue } from '../domain/commands/expiry.js'
import { decideBatch, evolve, fold, initialState, lookupCommand, dataCommands, type BatchItem, type Command } from '../domain/decide.js'
import { applyEvent } from '../domain/evolve.js'
import { touchedKeys, type Event } from '../domain/event.js'
import * as Keyspace from '../domain/keyspace.js'
import type { State } from '../domain/keyspace.js'
import { isPastDeadline } from '../domain/live.js'
import { DATABASE_COUNT, type Bytes, type EpochMs, type Key } from '../domain/primitives.js'
import { array, error, Errors, NIL_ARRAY, OK, QUEUED, type Reply } from '../domain/reply.js'
import { DiscardLog, type EventLog } from './eventLog.js'
import { ExpiryIndex } from './expiryIndex.js'
import { WatchRegistry, type WatchedKey, type Watcher } from './watch.js'

// ---------------------------------------------------------------------------------------------
// capabilities
// ---------------------------------------------------------------------------------------------

/** Wall-clock time in Unix ms. Tests inject a fake one. */
export interface Clock {
  now(): EpochMs
}

export const systemClock: Clock = { now: () => Date.now() }

// ---------------------------------------------------------------------------------------------
// sessions, replies, extensions
// ---------------------------------------------------------------------------------------------

/** Per-client engine state: selected database, MULTI queue and WATCHed keys. */
export class Session implements Watcher {
  /** The client's selected database. */
  db = 0
  /** The MULTI queue while a transaction is open. */
  queue: BatchItem[] | undefined = undefined
  /** Set when queueing failed (unknown command, wrong arity): EXEC will answer EXECABORT. */
  queueFailed = false
  /** Any queued command writes (for refusing EXEC while the log refuses writes). */
  queueWrites = false
  readonly watched = new Map<string, WatchedKey>()
  /** Set when a watched key was touched since WATCH: EXEC will answer a null array. */
  watchDirty = false

  constructor(readonly id: number) {}

  inTransaction(): boolean {
    return this.queue !== undefined
  }
}

/**
 * A write's reply: send `reply` once `commit` resolves. If the commit rejects, the record was not
 * persisted and the client must get `failedReply(err)` instead — never a false OK.
 */
export class PendingReply {
  constructor(
    readonly reply: Reply,
    readonly commit: Promise<void>,
  ) {}

  failedReply(err: unknown): Reply {
    return misconf(err)
  }

  /** The reply to send, once the commit settles. */
  settled(): Promise<Reply> {
    return this.commit.then(
      () => this.reply,
      (err: unknown) => misconf(err),
    )
  }
}

/**
 * The error for a write the log could not persist. Adapters reject commits with a complete
 * `MISCONF …` line (AofLog's LogWriteError) or any other Error, which is wrapped in Redis's text.
 */
const misconf = (err: unknown): Reply => {
  const message = err instanceof Error ? err.message : String(err)
  const line = message.startsWith('MISCONF ') ? message : `MISCONF Errors writing to the AOF file: ${message}`
  return error(line.replace(/[\r\n]+/g, ' '))
}

/** The error for a write refused while the log is failed; `reason` follows `MISCONF `. */
const refusedWrite = (reason: string): Reply => error(`MISCONF ${reason}`.replace(/[\r\n]+/g, ' '))

/**
 * A connection or server command registered by the server (PING, INFO, CLIENT, CONFIG…), so that
 * MULTI can queue it and COMMAND can list it. It must not touch the keyspace and must answer
 * synchronously.
 */
export interface ExternalCommand extends CommandMeta {
  readonly run: (session: Session, args: ReadonlyArray<Bytes>) => Reply
}

export interface EngineOptions {
  /** Where records go (default: a DiscardLog — nothing kept, as with `appendonly no`). */
  readonly log?: EventLog
  readonly clock?: Clock
  /**
   * A recovered state and the sequence number of the last record it includes. The engine takes it
   * over: read it afterwards through `engine.state` (the engine updates its state in place unless
   * a state it handed out is still reachable, and a state given up that way throws when read).
   */
  readonly state?: State
  readonly seq?: number
  readonly extensions?: ReadonlyArray<ExternalCommand>
  /** A source of random 32-bit seeds for RANDOMKEY; defaults to Math.random. */
  readonly random?: () => number
  /** How many keys one active-expiry unit may expire at most (the rest follow on the next tick). */
  readonly activeExpiryBatch?: number
}

/** Counters reported by INFO. */
export interface EngineStats {
  readonly commandCalls: Map<string, number>
  commandsProcessed: number
  expiredKeys: number
  recordsAppended: number
  eventsAppended: number
  rejectedWrites: number
}

// ---------------------------------------------------------------------------------------------
// transaction command metadata (MULTI/EXEC/DISCARD/WATCH/UNWATCH live in the engine: they act on
// sessions, not on the keyspace)
// ---------------------------------------------------------------------------------------------

const txMeta = (name: string, arity: number, summary: string, since: string, keys = false, syntax = ''): CommandMeta => ({
  name,
  arity,
  flags: name === 'exec' ? ['noscript', 'loading', 'stale', 'skip_slowlog'] : ['noscript', 'loading', 'stale', 'fast', 'allow_busy'],
  firstKey: keys ? 1 : 0,
  lastKey: keys ? -1 : 0,
  keyStep: keys ? 1 : 0,
  group: 'transactions',
  since,
  summary,
  complexity: keys ? 'O(1) for every key.' : name === 'exec' ? 'Depends on commands in the transaction' : name === 'discard' ? 'O(N), when N is the number of queued commands' : 'O(1)',
  syntax,
})

const TRANSACTION_COMMANDS: ReadonlyArray<CommandMeta> = [
  txMeta('multi', 1, 'Starts a transaction.', '1.2.0'),
  txMeta('exec', 1, 'Executes all commands in a transaction.', '1.2.0'),
  txMeta('discard', 1, 'Discards a transaction.', '2.0.0'),
  txMeta('watch', -2, 'Monitors changes to keys to determine the execution of a transaction.', '2.2.0', true, 'key [key ...]'),
  txMeta('unwatch', 1, 'Forgets about watched keys of a transaction.', '2.2.0'),
]
const TRANSACTION_NAMES = new Map(TRANSACTION_COMMANDS.map((m) => [m.name, m]))

/** Redis's unknown-command text: each argument quoted with a trailing space, ~128 chars at most. */
export const unknownCommand = (name: string, args: ReadonlyArray<string>): Reply => {
  let list = ''
  for (const arg of args) {
    if (list.length >= 128) break
    list += `'${arg.slice(0, 128 - list.length)}' `
  }
  return error(`ERR unknown command '${name.slice(0, 128)}', with args beginning with: ${list}`.replace(/[\r\n]/g, ' '))
}

// ---------------------------------------------------------------------------------------------
// the engine
// ---------------------------------------------------------------------------------------------

export class Engine {
  private current: State
  private lastSeq: number
  readonly log: EventLog
  readonly clock: Clock
  private readonly random: () => number
  private readonly extensions = new Map<string, ExternalCommand>()
  /** Known command names as clients send them (lower or upper case) → lower case. */
  private readonly lowerNames = new Map<string, string>()
  private nextSessionId = 1
  private readonly watches = new WatchRegistry()
  private readonly expiryIndex = new ExpiryIndex()
  private readonly activeExpiryBatch: number
  private expiryTimer: ReturnType<typeof setTimeout> | undefined
  private expiryTimerAt: EpochMs | undefined
  private started = false
  readonly stats: EngineStats = {
    commandCalls: new Map(),
    commandsProcessed: 0,
    expiredKeys: 0,
    recordsAppended: 0,
    eventsAppended: 0,
    rejectedWrites: 0,
  }
  /** Called for every command a client sends, before it runs (MONITOR). */
  onExecuted: ((session: Session, argv: ReadonlyArray<Bytes>) => void) | undefined = undefined
  /** Called after every appended record, with the record's events (change feeds, WATCH, stats). */
  onAppended: ((seq: number, events: ReadonlyArray<Event>) => void) | undefined = undefined

  constructor(options: EngineOptions = {}) {
    this.current = options.state ?? initialState
    this.lastSeq = options.seq ?? 0
    this.log = options.log ?? new DiscardLog()
    this.clock = options.clock ?? systemClock
    // An int32 (a small integer to V8: no heap number per command).
    this.random = options.random ?? (() => (Math.random() * 0x100000000) | 0)
    this.activeExpiryBatch = options.activeExpiryBatch ?? 1000
    for (const ext of options.extensions ?? []) this.registerExtension(ext)
    for (const meta of [...dataCommands, ...TRANSACTION_COMMANDS]) this.knowName(meta.name)
    this.rebuildExpiryIndex()
  }

  /**
   * The current state: an immutable value, safe to keep (e.g. for a snapshot at `seq`). While a
   * state handed out here is reachable, the engine records how to go back to it; otherwise it
   * updates its state in place (Keyspace.updateOwned), which halves the cost of a write.
   */
  get state(): State {
    const state = this.current
    if (state !== this.lastShared) {
      this.lastShared = state
      this.sharedStates++
      this.sharedRegistry.register(state, undefined)
    }
    return state
  }
  private lastShared: State | undefined = undefined
  /** States handed out by `state` and not yet collected (an upper bound: finalizers lag). */
  private sharedStates = 0
  private readonly sharedRegistry = new FinalizationRegistry<undefined>(() => void this.sharedStates--)

  /**
   * Freezes the current state for a reader that needs it as it is now — a snapshot at `seq` — in
   * O(1), without handing out a State: writes carry on in place (into an overlay) and no undo is
   * kept. Release it with Keyspace.release (AofLog.checkpoint does). One capture at a time.
   */
  capture(): Keyspace.Capture {
    return Keyspace.capture(this.current)
  }

  /**
   * Background upkeep between commands (the server's cron): moves up to `budget` entries of the
   * overlays a finished snapshot left back into the plain maps. Returns true when none is left.
   */
  settleOverlays(budget: number): boolean {
    return Keyspace.settleOverlays(this.current, budget)
  }

  /** The sequence number of the last record folded into `state`. */
  get seq(): number {
    return this.lastSeq
  }

  registerExtension(ext: ExternalCommand): void {
    this.extensions.set(ext.name, ext)
    this.knowName(ext.name)
  }

  /** Metadata of every command: data, transaction and registered extensions. */
  commands(): ReadonlyArray<CommandMeta> {
    return [...dataCommands, ...TRANSACTION_COMMANDS, ...this.extensions.values()]
  }

  newSession(): Session {
    return new Session(this.nextSessionId++)
  }

  /** Forgets a session's transaction and watched keys (client disconnected or RESET). */
  closeSession(session: Session): void {
    session.queue = undefined
    session.queueFailed = false
    this.watches.unwatchAll(session)
  }

  dbsize(db: number): number {
    return Keyspace.size(this.current, db)
  }

  /** Per-database key and deadline counts for INFO keyspace (only non-empty databases). */
  keyspaceInfo(): Array<{ db: number; keys: number; expires: number }> {
    const out: Array<{ db: number; keys: number; expires: number }> = []
    for (let db = 0; db < DATABASE_COUNT; db++) {
      const keys = Keyspace.size(this.current, db)
      if (keys > 0) out.push({ db, keys, expires: Keyspace.expiresCount(this.current, db) })
    }
    return out
  }

  // -------------------------------------------------------------------------------------------
  // executing commands
  // -------------------------------------------------------------------------------------------

  /** A command name in lower case; known names in lower or upper case cost no allocation. */
  lowerName(name: string): string {
    return this.lowerNames.get(name) ?? name.toLowerCase()
  }

  private knowName(name: string): void {
    this.lowerNames.set(name, name).set(name.toUpperCase(), name)
  }

  /**
   * Runs one command from a client. `argv[0]` is the command name as sent, in any case.
   * Returns the reply, or a PendingReply when the command appended a record.
   */
  execute(session: Session, argv: ReadonlyArray<Bytes>): Reply | PendingReply {
    const rawName = argv[0]
    if (rawName === undefined) return Errors.syntax
    const name = this.lowerName(rawName)
    this.onExecuted?.(session, argv)
    this.stats.commandsProcessed++
    this.stats.commandCalls.set(name, (this.stats.commandCalls.get(name) ?? 0) + 1)

    const tx = TRANSACTION_NAMES.get(name)
    if (tx !== undefined) {
      if (!arityOk(tx.arity, argv.length)) {
        // Redis's `rejectCommand` on EXEC discards the transaction (and the watches) at once.
        if (name === 'exec') return this.execAbort(session, `wrong number of arguments for 'exec' command`)
        return this.queueError(session, Errors.wrongArity(name))
      }
      return this.transactionCommand(session, name, argv)
    }

    const spec = lookupCommand(name)
    const ext = spec === undefined ? this.extensions.get(name) : undefined
    if (spec === undefined && ext === undefined) return this.queueError(session, unknownCommand(rawName, argv.slice(1)))
    const meta = (spec ?? ext)!
    if (!arityOk(meta.arity, argv.length)) return this.queueError(session, Errors.wrongArity(name))
    const args = argv.slice(1)

    if (session.queue !== undefined) {
      if (ext !== undefined) {
        if (ext.flags.includes('no_multi')) return this.queueError(session, error('ERR Command not allowed inside a transaction'))
        session.queue.push({ kind: 'external', run: () => ext.run(session, args) })
      } else {
        const parsed = spec!.parse(args)
        session.queue.push(parsed.type === 'error' ? { kind: 'reply', reply: parsed } : { kind: 'command', command: parsed as Command })
        if (spec!.flags.includes('write')) session.queueWrites = true
      }
      return QUEUED
    }

    if (ext !== undefined) return ext.run(session, args)

    const isWrite = spec!.flags.includes('write')
    const failure = this.log.failure()
    if (isWrite && failure !== undefined) {
      this.stats.rejectedWrites++
      return refusedWrite(failure.reason)
    }
    const parsed = spec!.parse(args)
    if (parsed.type === 'error') return parsed
    const ctx: Context = { now: this.clock.now(), db: session.db, seed: this.random() }
    const decision = spec!.decide(parsed, this.current, ctx)
    if (decision.selectDb !== undefined) session.db = decision.selectDb
    if (decision.events.length === 0) {
      this.touchWithoutEvents(decision.touched)
      return decision.reply
    }
    // A read that found expired keys while the log refuses writes: serve the read, log nothing.
    // The keys stay in state but read as missing, so state and log still agree (I1).
    if (failure !== undefined) return decision.reply
    return new PendingReply(decision.reply, this.commit(ctx.now, decision.events, decision.touched))
  }

  /**
   * Runs a command for an embedded caller and resolves with its reply once durable.
   * Uses a default session unless one is given.
   */
  call(argv: ReadonlyArray<Bytes>, session: Session = this.defaultSession): Promise<Reply> {
    const result = this.execute(session, argv)
    return result instanceof PendingReply ? result.settled() : Promise.resolve(result)
  }
  private readonly defaultSession = this.newSession()

  /** A queue-time error: replied at once, and it dooms an open transaction (EXECABORT). */
  private queueError(session: Session, reply: Reply): Reply {
    if (session.queue !== undefined) session.queueFailed = true
    return reply
  }

  private transactionCommand(session: Session, name: string, argv: ReadonlyArray<Bytes>): Reply | PendingReply {
    switch (name) {
      case 'multi':
        if (session.queue !== undefined) return Errors.multiNested
        session.queue = []
        session.queueFailed = false
        session.queueWrites = false
        return OK
      case 'discard':
        if (session.queue === undefined) return Errors.discardWithoutMulti
        this.endTransaction(session)
        return OK
      case 'watch':
        if (session.queue !== undefined) return Errors.watchInsideMulti
        this.watches.watch(session, session.db, argv.slice(1), this.current, this.clock.now())
        return OK
      case 'unwatch':
        if (session.queue !== undefined) {
          session.queue.push({ kind: 'external', run: () => (this.watches.unwatchAll(session), OK) })
          return QUEUED
        }
        this.watches.unwatchAll(session)
        return OK
      default:
        return this.exec(session)
    }
  }

  private exec(session: Session): Reply | PendingReply {
    const queue = session.queue
    if (queue === undefined) return Errors.execWithoutMulti
    const failedQueue = session.queueFailed
    const writes = session.queueWrites
    const now = this.clock.now()
    const failure = this.log.failure()
    if (writes && failure !== undefined) {
      this.stats.rejectedWrites++
      return this.execAbort(session, `MISCONF ${failure.reason}`)
    }
    const watchFailed = this.watches.failed(session, this.current, now)
    this.endTransaction(session)
    if (failedQueue) return Errors.execAbort
    if (watchFailed) return NIL_ARRAY
    const ctx: Context = { now, db: session.db, seed: this.random() }
    const batch = decideBatch(queue, this.current, ctx)
    session.db = batch.db
    const reply = array(batch.replies)
    if (batch.events.length === 0) {
      this.touchWithoutEvents(batch.touched)
      return reply
    }
    if (failure !== undefined) return reply // read-only transaction that only found expired keys
    return new PendingReply(reply, this.commit(now, batch.events, batch.touched, batch.state))
  }

  /** Redis's `execCommandAbort`: EXEC refused before running; the transaction and watches go. */
  private execAbort(session: Session, why: string): Reply {
    this.endTransaction(session)
    return error(`EXECABORT Transaction discarded because of: ${why}`.replace(/[\r\n]+/g, ' '))
  }

  private endTransaction(session: Session): void {
    session.queue = undefined
    session.queueFailed = false
    session.queueWrites = false
    this.watches.unwatchAll(session)
  }

  /**
   * Steps 3 and 4 of an execution unit: append one record, then fold its events into the state.
   * `folded` is the state after the events when the caller already computed it (EXEC).
   */
  private commit(
    now: EpochMs,
    events: ReadonlyArray<Event>,
    touched?: ReadonlyArray<readonly [number, Key]>,
    folded?: State,
  ): Promise<void> {
    const seq = this.lastSeq + 1
    const commit = this.log.append({ seq, at: now, events })
    this.lastSeq = seq
    this.stats.recordsAppended++
    this.stats.eventsAppended += events.length
    const before = this.current
    let after = folded
    if (after === undefined) {
      // The state before stays valid (undo recorded) only while someone may still read it: a
      // caller of the `state` getter, or WATCH below. Otherwise it is updated in place.
      after =
        this.sharedStates > 0 || this.watches.active
          ? fold(before, events)
          : Keyspace.updateOwned(before, (w) => {
              for (const event of events) applyEvent(w, event)
            })
    }
    this.current = after
    this.lastShared = undefined // only to avoid registering one state twice; must not keep it alive
    this.afterEvents(before, events, now)
    this.touchWithoutEvents(touched)
    this.onAppended?.(seq, events)
    return commit
  }

  // -------------------------------------------------------------------------------------------
  // WATCH
  // -------------------------------------------------------------------------------------------

  /** Keys a command modified without an event (Decision.touched): WATCH sees them changed. */
  private touchWithoutEvents(touched: ReadonlyArray<readonly [number, Key]> | undefined): void {
    if (touched === undefined || !this.watches.active) return
    for (const [db, key] of touched) this.watches.touchKey(db, key, this.current)
  }

  /**
   * Tells WATCH what each event of a record did, against the state before and after that very
   * event (an EXEC may flush a database it wrote to a moment earlier).
   */
  private touchWatched(before: State, events: ReadonlyArray<Event>, now: EpochMs): void {
    let state = before
    for (const event of events) {
      const next = evolve(state, event)
      if (event.type === 'DatabaseFlushed') this.watches.touchDatabase(event.db, undefined, state, now)
      else if (event.type === 'AllDatabasesFlushed') {
        for (let db = 0; db < DATABASE_COUNT; db++) this.watches.touchDatabase(db, undefined, state, now)
      } else if (event.type === 'DatabasesSwapped') {
        this.watches.touchDatabase(event.db, event.other, state, now)
        this.watches.touchDatabase(event.other, event.db, state, now)
      } else for (const [db, key] of touchedKeys(event)) this.watches.touchKey(db, key, next)
      state = next
    }
  }

  // -------------------------------------------------------------------------------------------
  // after a record: WATCH invalidation and the expiry index
  // -------------------------------------------------------------------------------------------

  private afterEvents(before: State, events: ReadonlyArray<Event>, now: EpochMs): void {
    if (this.watches.active) this.touchWatched(before, events, now)
    let rebuild = false
    for (const event of events) {
      switch (event.type) {
        case 'ValueSet':
          if (event.expireAt !== null) this.indexDeadline(event.expireAt, event.db, event.key)
          break
        case 'ExpirySet':
          this.indexDeadline(event.at, event.db, event.key)
          break
        case 'KeyExpired':
          this.stats.expiredKeys++
          break
        case 'KeyRenamed':
        case 'KeyMoved':
        case 'KeyCopied': {
          const [db, key] = event.type === 'KeyRenamed' ? [event.db, event.to] : event.type === 'KeyMoved' ? [event.toDb, event.key] : [event.toDb, event.to]
          const at = Keyspace.getExpireAt(this.current, db, key)
          if (at !== undefined) this.indexDeadline(at, db, key)
          break
        }
        case 'DatabasesSwapped':
          rebuild = true
          break
        default:
          break
      }
    }
    if (rebuild) this.rebuildExpiryIndex()
  }

  private indexDeadline(at: EpochMs, db: number, key: Key): void {
    this.expiryIndex.push(at, db, key)
    if (this.started && (this.expiryTimerAt === undefined || at < this.expiryTimerAt)) this.scheduleActiveExpiry()
  }

  private rebuildExpiryIndex(): void {
    this.expiryIndex.clear()
    for (let db = 0; db < DATABASE_COUNT; db++) {
      for (const [key, at] of Keyspace.deadlinesOf(this.current, db)) this.expiryIndex.push(at, db, key)
    }
    if (this.started) this.scheduleActiveExpiry()
  }

  // -------------------------------------------------------------------------------------------
  // active expiry
  // -------------------------------------------------------------------------------------------

  /** The earliest deadline the engine knows of (may be stale), or undefined. */
  nextDeadline(): EpochMs | undefined {
    return this.expiryIndex.peek()
  }

  /**
   * One active-expiry unit: pops due candidates, lets the domain re-check them, and logs the
   * KeyExpired events as one record. Returns how many keys expired. Does nothing while the log
   * refuses writes (expired keys still read as missing).
   */
  runActiveExpiry(): number {
    if (this.log.failure() !== undefined) return 0
    const now = this.clock.now()
    const due = this.expiryIndex.popDue(now, this.activeExpiryBatch)
    if (due.length === 0) return 0
    const decision = decideExpireDue(
      due.map((c) => [c.db, c.key] as const),
      this.current,
      now,
    )
    if (decision.events.length === 0) return 0
    // Nobody waits for this commit; a failure surfaces through log.failure().
    this.commit(now, decision.events).catch(() => undefined)
    return decision.events.length
  }

  /**
   * Starts the active-expiry timer: an untouched key is removed right after its deadline
   * (the timer fires at the earliest deadline, not on Redis's 100 ms sampling cycle).
   */
  start(): void {
    this.started = true
    this.scheduleActiveExpiry()
  }

  /** Stops the timer. */
  stop(): void {
    this.started = false
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer)
    this.expiryTimer = undefined
    this.expiryTimerAt = undefined
  }

  private scheduleActiveExpiry(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer)
    this.expiryTimer = undefined
    this.expiryTimerAt = undefined
    const next = this.expiryIndex.peek()
    if (next === undefined || !this.started) return
    // Expired means now > deadline, so fire 1 ms after it; cap the delay to setTimeout's range.
    const delay = Math.min(Math.max(next + 1 - this.clock.now(), 0), 0x7fffffff)
    this.expiryTimerAt = next
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined
      this.expiryTimerAt = undefined
      this.runActiveExpiry()
      if (this.log.failure() === undefined) return this.scheduleActiveExpiry()
      // The log refuses writes: retry later instead of spinning on keys that cannot expire yet.
      this.expiryTimer = setTimeout(() => this.scheduleActiveExpiry(), 100)
      this.expiryTimer.unref?.()
    }, delay)
    this.expiryTimer.unref?.()
  }

  /** Stops timers and closes the log (flushing what is buffered). */
  async close(): Promise<void> {
    this.stop()
    await this.log.close()
  }
}

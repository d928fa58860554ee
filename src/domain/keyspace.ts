/**
 * State: 16 databases of string keys with optional deadlines.
 *
 * This module is the **sole owner of the representation** (ARCHITECTURE.md, "State
 * representation"). A `State` is a persistent value: every update returns a new State and the
 * old one stays valid and unchanged, so `evolve` is genuinely pure. Underneath, it is the
 * *rerooting* technique (Baker's shallow binding; Conchon & Filliâtre's persistent arrays):
 *
 * - All versions derived from one another share one **store**: per database, two hash tables
 *   (`keyTable.ts`, each inside a `LayeredMap`) like Redis's `db->dict` and `db->expires`
 *   (`values`: key → stored value, see {@link Stored}; `expires`: key → deadline).
 * - The store holds the contents of exactly one version, its *current* one. Reading or updating
 *   the current version is a table operation — the common case by far (the engine always
 *   moves forward).
 * - Every other version holds the list of changes that turns the version it points to into
 *   itself. Touching such a version first *reroots* the store to it: the changes on the path are
 *   applied and each edge reversed, O(changes on the path). Old versions stay correct, only
 *   slower; unreferenced ones are garbage-collected with their changes.
 * - A snapshot needs a consistent view while the live state moves on: {@link capture} freezes
 *   the maps in O(1) (see `layeredMap.ts`) and {@link release} lets them move again.
 *
 * Iterators returned here are valid until the next update of any version of the same store.
 * Nothing here reads a clock: "expired" is always relative to a `now` passed in.
 *
 * @category model
 */
import { fnv1a, keyHashOf } from './keyTable.js'
import { LayeredMap } from './layeredMap.js'
import { DATABASE_COUNT, type Bytes, type EpochMs, type Key } from './primitives.js'

// ---------------------------------------------------------------------------------------------
// stored values: short ones are small integers
// ---------------------------------------------------------------------------------------------

/**
 * A value as the maps hold it: values of up to {@link MAX_PACKED_LENGTH} bytes are packed into a
 * small integer, longer ones are the byte string itself.
 *
 * Why: V8 keeps a small integer (Smi) in the map's slot itself. A string is a heap object; each
 * value written is young, the maps are old, so every write pays a write barrier and the value is
 * copied by the next two scavenges. Writing short values packed cut that cost (~0.2–0.6 µs per
 * write measured in a micro-benchmark with request-like garbage between writes). It is the
 * counterpart of Redis's shared integers and embedded strings, and of Dragonfly's small strings
 * stored inside the table entry. Packing is canonical (one encoding per value), so stored
 * values compare with `===`. Outside this module only a {@link Capture} hands out stored values,
 * to be read with {@link valueBytes}.
 */
export type Stored = Bytes | number

/** At most 3 bytes: length (2 bits) and bytes (24 bits) fit a Smi on every V8 configuration. */
const MAX_PACKED_LENGTH = 3

const stored = (value: Bytes): Stored => {
  switch (value.length) {
    case 0:
      return 0
    case 1:
      return 0x1000000 | value.charCodeAt(0)
    case 2:
      return 0x2000000 | (value.charCodeAt(0) << 8) | value.charCodeAt(1)
    case 3:
      return 0x3000000 | (value.charCodeAt(0) << 16) | (value.charCodeAt(1) << 8) | value.charCodeAt(2)
    default:
      return value
  }
}

/** The byte string a stored value stands for. */
const bytesOf = (s: Stored): Bytes => (typeof s === 'number' ? unpack(s) : s)

/** The bytes of a value read from a {@link Capture}. */
export const valueBytes: (s: Stored) => Bytes = bytesOf

const unpack = (packed: number): Bytes => {
  switch (packed >>> 24) {
    case 0:
      return ''
    case 1:
      return String.fromCharCode(packed & 0xff)
    case 2:
      return String.fromCharCode((packed >>> 8) & 0xff, packed & 0xff)
    default:
      return String.fromCharCode((packed >>> 16) & 0xff, (packed >>> 8) & 0xff, packed & 0xff)
  }
}

const bytesOrUndefined = (s: Stored | undefined): Bytes | undefined => (s === undefined ? undefined : bytesOf(s))

/** One database: values and deadlines, as two maps. */
interface Database {
  readonly values: LayeredMap<Stored>
  readonly expires: LayeredMap<EpochMs>
}

const newDatabase = (): Database => ({ values: new LayeredMap(), expires: new LayeredMap() })

/** Never written: what an empty State reads from. */
const EMPTY_DB: Database = newDatabase()

/** The maps shared by a family of versions, holding the contents of `current`. */
class Store {
  readonly dbs: Database[] = Array.from({ length: DATABASE_COUNT }, newDatabase)
  current!: State
}

const VALUE = 0
const DEADLINE = 1
const DATABASE = 2
const SWAP = 3
type ChangeKind = typeof VALUE | typeof DEADLINE | typeof DATABASE | typeof SWAP

/**
 * One elementary change to a store: set `key` to `prev` (delete when undefined) in values or
 * expires of database `db`; put database object `prev` at `db`; or swap databases `db` and `prev`.
 */
class Change {
  constructor(
    readonly kind: ChangeKind,
    readonly db: number,
    readonly key: Key,
    readonly prev: unknown,
  ) {}
}

/** A version of the keyspace: an immutable value (see the module comment). */
export class State {
  /** @internal Set iff this is its store's current version. */
  store: Store | undefined = undefined
  /** @internal Otherwise: applying `changes` in order to `toward` gives this version. */
  toward: State | undefined = undefined
  /** @internal */
  changes: ReadonlyArray<Change> | undefined = undefined
  /** @internal Given up to {@link updateOwned}: reading it is a bug. */
  consumed = false
}

/** A key's stored entry, independent of the representation. */
export interface Entry {
  readonly value: Bytes
  readonly expireAt: EpochMs | null
}

/** The empty keyspace. It has no store: the first update from it creates one. */
export const emptyState: State = new State()

// ---------------------------------------------------------------------------------------------
// versions: rerooting
// ---------------------------------------------------------------------------------------------

/** The store holding `state`'s contents (rerooting to it if needed); undefined when empty. */
const storeOf = (state: State): Store | undefined =>
  state.store ?? (state.toward !== undefined ? reroot(state) : state.consumed ? usedAfterGivenUp() : undefined)

const usedAfterGivenUp = (): never => {
  throw new Error('keyspace: a state given up to updateOwned was used again')
}

const reroot = (target: State): Store => {
  const path: State[] = []
  let at = target
  while (at.store === undefined) {
    path.push(at)
    at = at.toward ?? usedAfterGivenUp()
  }
  const store = at.store
  for (let i = path.length - 1; i >= 0; i--) {
    const next = path[i]!
    const inverse = applyChanges(store, next.changes!)
    at.store = undefined
    at.toward = next
    at.changes = inverse
    next.store = store
    next.toward = undefined
    next.changes = undefined
    store.current = next
    at = next
  }
  return store
}

/** Applies `changes` in order; returns the changes that undo them (to apply in order). */
const applyChanges = (store: Store, changes: ReadonlyArray<Change>): Change[] => {
  const undo: Change[] = []
  for (const c of changes) {
    switch (c.kind) {
      case VALUE:
      case DEADLINE: {
        const map: LayeredMap<unknown> = c.kind === VALUE ? store.dbs[c.db]!.values : store.dbs[c.db]!.expires
        const cur = c.prev === undefined ? map.delete(c.key) : map.set(c.key, c.prev)
        undo.push(new Change(c.kind, c.db, c.key, cur))
        break
      }
      case DATABASE: {
        const cur = store.dbs[c.db]!
        store.dbs[c.db] = c.prev as Database
        undo.push(new Change(DATABASE, c.db, '', cur))
        break
      }
      case SWAP: {
        const other = c.prev as number
        const a = store.dbs[c.db]!
        store.dbs[c.db] = store.dbs[other]!
        store.dbs[other] = a
        undo.push(c)
        break
      }
    }
  }
  return undo.reverse()
}

// ---------------------------------------------------------------------------------------------
// updates
// ---------------------------------------------------------------------------------------------

/**
 * The mutable view handed to {@link update}'s callback, valid only inside it. Reads see the
 * writes made so far. Every write records how to undo itself, unless the store is brand new.
 */
export class Writer {
  /** @internal */
  changed = 0

  /** @internal */
  constructor(
    /** @internal */
    readonly store: Store,
    private readonly undo: Change[] | undefined,
    /** The store was created for this writer: a key it has not written is absent. */
    private readonly fresh = false,
  ) {}

  value(db: number, key: Key): Bytes | undefined {
    return bytesOrUndefined(this.store.dbs[db]!.values.get(key))
  }

  entry(db: number, key: Key): Entry | undefined {
    const d = this.store.dbs[db]!
    const value = d.values.get(key)
    return value === undefined ? undefined : { value: bytesOf(value), expireAt: d.expires.size === 0 ? null : (d.expires.get(key) ?? null) }
  }

  /**
   * `put` for a key known to be absent, in a keyspace built from nothing (`builder()`): it skips
   * clearing a deadline the key cannot have. Loading a snapshot, where each key appears once,
   * spent ~11 % of its time on those misses. Anywhere else it is `put`.
   */
  putNew(db: number, key: Key, value: Bytes, expireAt: EpochMs | null): void {
    if (!this.fresh) return this.put(db, key, value, expireAt)
    const d = this.store.dbs[db]!
    this.changed++
    const h = keyHashOf(key)
    d.values.put(key, stored(value), h)
    if (expireAt !== null) d.expires.put(key, expireAt, h)
  }

  /** Sets a value and its deadline (null: none). */
  put(db: number, key: Key, value: Bytes, expireAt: EpochMs | null): void {
    const d = this.store.dbs[db]!
    // Hashed once for both tables.
    const h = keyHashOf(key)
    if (this.undo === undefined) {
      // No way back to record (a new store, or one given up to ownedUpdate): skip the lookups.
      this.changed++
      d.values.put(key, stored(value), h)
      if (expireAt !== null) d.expires.put(key, expireAt, h)
      else if (d.expires.size !== 0) d.expires.delete(key, h)
      return
    }
    this.record(VALUE, db, key, d.values.set(key, stored(value), h))
    if (expireAt !== null) this.record(DEADLINE, db, key, d.expires.set(key, expireAt, h))
    else if (d.expires.size !== 0) this.recordIfDefined(DEADLINE, db, key, d.expires.delete(key, h))
  }

  /** Sets a value and keeps whatever deadline the key had. */
  putKeepingDeadline(db: number, key: Key, value: Bytes): void {
    this.record(VALUE, db, key, this.store.dbs[db]!.values.set(key, stored(value)))
  }

  remove(db: number, key: Key): void {
    const d = this.store.dbs[db]!
    const prev = d.values.delete(key)
    if (prev === undefined) return
    this.record(VALUE, db, key, prev)
    if (d.expires.size !== 0) this.recordIfDefined(DEADLINE, db, key, d.expires.delete(key))
  }

  /** Sets a deadline on an existing key; a missing key is left alone. */
  setDeadline(db: number, key: Key, at: EpochMs): void {
    const d = this.store.dbs[db]!
    if (d.values.has(key)) this.record(DEADLINE, db, key, d.expires.set(key, at))
  }

  removeDeadline(db: number, key: Key): void {
    this.recordIfDefined(DEADLINE, db, key, this.store.dbs[db]!.expires.delete(key))
  }

  clearDb(db: number): void {
    const d = this.store.dbs[db]!
    if (d.values.size === 0 && d.expires.size === 0) return
    this.store.dbs[db] = newDatabase()
    this.record(DATABASE, db, '', d)
  }

  clearAll(): void {
    for (let db = 0; db < DATABASE_COUNT; db++) this.clearDb(db)
  }

  swapDbs(a: number, b: number): void {
    if (a === b) return
    const dbs = this.store.dbs
    const first = dbs[a]!
    dbs[a] = dbs[b]!
    dbs[b] = first
    this.record(SWAP, a, '', b)
  }

  private record(kind: ChangeKind, db: number, key: Key, prev: unknown): void {
    this.changed++
    this.undo?.push(new Change(kind, db, key, prev))
  }

  private recordIfDefined(kind: ChangeKind, db: number, key: Key, prev: unknown): void {
    if (prev !== undefined) this.record(kind, db, key, prev)
  }
}

/** A new version holding `store`'s contents, made its current one. */
const newCurrent = (store: Store): State => {
  const next = new State()
  next.store = store
  store.current = next
  return next
}

/**
 * Applies `apply`'s writes to `state` and returns the resulting version; `state` itself is not
 * changed (it keeps the way back). Returns `state` when nothing changed. Every update that keeps
 * the way back goes through here (evolve, fold); those that give `state` up go through
 * {@link ownedUpdate}.
 */
export const update = (state: State, apply: (writer: Writer) => void): State => {
  const existing = storeOf(state)
  const store = existing ?? new Store()
  const undo: Change[] | undefined = existing === undefined ? undefined : []
  const writer = new Writer(store, undo)
  try {
    apply(writer)
  } catch (err) {
    if (undo !== undefined) applyChanges(store, undo.reverse())
    throw err
  }
  if (writer.changed === 0) return state
  const next = newCurrent(store)
  if (undo !== undefined) {
    state.store = undefined
    state.toward = next
    state.changes = undo.reverse()
  }
  return next
}

/** A writer that stays open across calls, and the call that ends it (see {@link ownedUpdate}). */
export interface OwnedUpdate {
  readonly writer: Writer
  /** Ends the update (once, after the last write) and returns the resulting version. */
  finish(): State
}

/**
 * Like {@link update}, but `state` is given up: its store is updated in place with no way back,
 * and once `finish()` returns a new version, reading `state` (or a version older than it) throws.
 * The writer stays open across calls, for writes spread over many callbacks: recovery applies
 * events as the log is read, the snapshot loader entries as lines arrive. Nothing may read
 * `state` before `finish()`. For a caller that owns its intermediate states and never looks back,
 * where recording the undo would cost half the fold. (The empty state is never given up:
 * updating it creates a new store either way.)
 */
export const ownedUpdate = (state: State): OwnedUpdate => {
  const writer = ownedWriter(state)
  let finished = false
  return {
    writer,
    finish(): State {
      if (finished) throw new Error('keyspace: finish() called twice')
      finished = true
      return finishOwned(state, writer)
    },
  }
}

/**
 * {@link ownedUpdate} with all the writes made by one callback: the engine's writes, one per
 * command, so it builds no `OwnedUpdate` object.
 */
export const updateOwned = (state: State, apply: (writer: Writer) => void): State => {
  const writer = ownedWriter(state)
  apply(writer)
  return finishOwned(state, writer)
}

/** A writer over `state`'s store (a new one for the empty state) that records no way back. */
const ownedWriter = (state: State): Writer => {
  const existing = storeOf(state)
  return new Writer(existing ?? new Store(), undefined, existing === undefined)
}

/** Ends an owned update: the new version, with `state` given up (unless nothing changed). */
const finishOwned = (state: State, writer: Writer): State => {
  if (writer.changed === 0) return state
  const next = newCurrent(writer.store)
  if (state.store !== undefined) {
    state.store = undefined
    state.consumed = true
  }
  return next
}

/**
 * Builds a new state from nothing, for snapshot loading: the writes record no way back (there is
 * no earlier version to return to), and `Writer.putNew` may skip its lookups. Call `finish()`
 * once, after the last write.
 */
export const builder = (): OwnedUpdate => ownedUpdate(emptyState)

/** Sets a value and its deadline (null: none). */
export const put = (state: State, db: number, key: Key, value: Bytes, expireAt: EpochMs | null): State =>
  update(state, (w) => w.put(db, key, value, expireAt))

/** Sets a value and keeps whatever deadline the key had. */
export const putKeepingDeadline = (state: State, db: number, key: Key, value: Bytes): State =>
  update(state, (w) => w.putKeepingDeadline(db, key, value))

export const remove = (state: State, db: number, key: Key): State => update(state, (w) => w.remove(db, key))

/** Sets a deadline on an existing key; a missing key is left alone. */
export const setDeadline = (state: State, db: number, key: Key, at: EpochMs): State =>
  update(state, (w) => w.setDeadline(db, key, at))

export const removeDeadline = (state: State, db: number, key: Key): State =>
  update(state, (w) => w.removeDeadline(db, key))

export const clearDb = (state: State, db: number): State => update(state, (w) => w.clearDb(db))

export const clearAll = (state: State): State => update(state, (w) => w.clearAll())

export const swapDbs = (state: State, a: number, b: number): State => update(state, (w) => w.swapDbs(a, b))

// ---------------------------------------------------------------------------------------------
// reads (raw: they ignore deadlines; decide uses domain/live.ts for the live view)
// ---------------------------------------------------------------------------------------------

const database = (state: State, db: number): Database => {
  const store = storeOf(state)
  return store === undefined ? EMPTY_DB : (store.dbs[db] ?? EMPTY_DB)
}

export const getValue = (state: State, db: number, key: Key): Bytes | undefined =>
  bytesOrUndefined(database(state, db).values.get(key))

export const getExpireAt = (state: State, db: number, key: Key): EpochMs | undefined => {
  const expires = database(state, db).expires
  // Most keys have no deadline: skip the lookup when the database has none at all.
  return expires.size === 0 ? undefined : expires.get(key)
}

export const getEntry = (state: State, db: number, key: Key): Entry | undefined => {
  const d = database(state, db)
  const value = d.values.get(key)
  return value === undefined ? undefined : { value: bytesOf(value), expireAt: d.expires.size === 0 ? null : (d.expires.get(key) ?? null) }
}

export const hasKey = (state: State, db: number, key: Key): boolean => database(state, db).values.has(key)

export const size = (state: State, db: number): number => database(state, db).values.size

export const expiresCount = (state: State, db: number): number => database(state, db).expires.size

/** Every key of a database, in the representation's order (which depends on history; see keysInOrder). */
export const keysOf = (state: State, db: number): IterableIterator<Key> => database(state, db).values.keys()

/** Every key of a database with its value, in the representation's order. */
export const entriesOf = (state: State, db: number): IterableIterator<[Key, Bytes]> => decoded(database(state, db).values.entries())

function* decoded(entries: Iterable<[Key, Stored]>): IterableIterator<[Key, Bytes]> {
  for (const [key, value] of entries) yield [key, bytesOf(value)]
}

/** Every key of a database with a deadline, with that deadline. */
export const deadlinesOf = (state: State, db: number): IterableIterator<[Key, EpochMs]> =>
  database(state, db).expires.entries()

/** Every entry of a database sorted by key (byte order): the snapshot's canonical order. */
export const entriesSorted = (state: State, db: number): Array<readonly [Key, Entry]> => {
  const d = database(state, db)
  const out: Array<readonly [Key, Entry]> = []
  for (const [key, value] of d.values) out.push([key, { value: bytesOf(value), expireAt: d.expires.get(key) ?? null }])
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

/** Structural equality of two states (same keys, values and deadlines in every database). */
export const equals = (a: State, b: State): boolean => {
  if (a === b) return true
  // Copy one side first: both may be versions of one store, which holds only one at a time.
  const left = Array.from({ length: DATABASE_COUNT }, (_, db) => {
    const d = database(a, db)
    return { values: new Map(d.values), expires: new Map(d.expires) }
  })
  return left.every((l, db) => {
    const r = database(b, db)
    if (l.values.size !== r.values.size || l.expires.size !== r.expires.size) return false
    for (const [key, value] of l.values) if (r.values.get(key) !== value) return false
    for (const [key, at] of l.expires) if (r.expires.get(key) !== at) return false
    return true
  })
}

// ---------------------------------------------------------------------------------------------
// snapshots: a consistent view while the live state moves on
// ---------------------------------------------------------------------------------------------

/** A frozen view of one state for a snapshot writer. Valid until {@link release}. */
export interface Capture {
  /** Values are stored values: read them with {@link valueBytes}. */
  readonly dbs: ReadonlyArray<{ readonly values: ReadonlyMap<Key, Stored>; readonly expires: ReadonlyMap<Key, EpochMs> }>
  /** @internal The maps to thaw on release. */
  readonly frozen: ReadonlyArray<LayeredMap<unknown>>
}

/**
 * Freezes `state`'s maps in O(1) and returns them: they do not change until `release`, whatever
 * happens to the live state meanwhile (writes go to an overlay). One capture per store at a time.
 */
export const capture = (state: State): Capture => {
  const store = storeOf(state)
  if (store === undefined) {
    const empty = { values: new Map(), expires: new Map() }
    return { dbs: Array.from({ length: DATABASE_COUNT }, () => empty), frozen: [] }
  }
  const frozen: Array<LayeredMap<unknown>> = []
  const dbs = store.dbs.map((d) => {
    frozen.push(d.values, d.expires)
    return { values: d.values.freeze(), expires: d.expires.freeze() }
  })
  return { dbs, frozen }
}

/** Ends a capture: its maps may change from now on. */
export const release = (c: Capture): void => {
  for (const map of c.frozen) map.thaw()
}

/**
 * Moves up to `budget` entries of the overlays left by a released capture back into the plain
 * maps, without a write (see LayeredMap.settleSome); contents do not change, so this is not an
 * update of any version. Returns true when no overlay is left. Without it, an overlay shrinks
 * only as keys are written, and a server that stops writing after a checkpoint keeps two maps'
 * worth of memory for the keys written during it.
 */
export const settleOverlays = (state: State, budget: number): boolean => {
  const store = storeOf(state)
  if (store === undefined) return true
  let left = 0
  for (const d of store.dbs) {
    for (const map of [d.values, d.expires] as ReadonlyArray<LayeredMap<unknown>>) {
      const before = map.overlaySize
      if (before === 0) continue
      const remaining = budget === 0 ? before : map.settleSome(budget)
      budget -= Math.min(budget, before - remaining)
      left += remaining
    }
  }
  return left === 0
}

// ---------------------------------------------------------------------------------------------
// iteration helpers for SCAN and RANDOMKEY
// ---------------------------------------------------------------------------------------------

/** 32-bit FNV-1a of a byte string: the SCAN cursor space. */
export const keyHash: (key: Key) => number = fnv1a

interface HashOrder {
  readonly hashes: Float64Array
  readonly keys: ReadonlyArray<Key>
}
// One sorted view per map, rebuilt when the map changed: an idle database scans in
// O(log n + count) per call.
const hashOrderCache = new WeakMap<LayeredMap<Stored>, HashOrder & { readonly version: number }>()

/** Keys up to this count are sorted as packed `hash·2^21 + index` doubles (exact below 2^53). */
const PACKED_SORT_LIMIT = 1 << 21

const hashOrder = (values: LayeredMap<Stored>): HashOrder => {
  const cached = hashOrderCache.get(values)
  if (cached !== undefined && cached.version === values.version) return cached
  const unsorted = Array.from(values.keys())
  const n = unsorted.length
  const hashOf = new Float64Array(n)
  for (let i = 0; i < n; i++) hashOf[i] = keyHash(unsorted[i]!)
  let index: ArrayLike<number>
  if (n <= PACKED_SORT_LIMIT) {
    // A native numeric sort, several times faster than sorting pairs with a comparator.
    const packed = new Float64Array(n)
    for (let i = 0; i < n; i++) packed[i] = hashOf[i]! * PACKED_SORT_LIMIT + i
    packed.sort()
    const idx = new Uint32Array(n)
    for (let i = 0; i < n; i++) idx[i] = packed[i]! % PACKED_SORT_LIMIT
    index = idx
  } else {
    index = Uint32Array.from({ length: n }, (_, i) => i).sort((x, y) => hashOf[x]! - hashOf[y]!)
  }
  const hashes = new Float64Array(n)
  const keys: Key[] = new Array<Key>(n)
  for (let i = 0; i < n; i++) {
    hashes[i] = hashOf[index[i]!]!
    keys[i] = unsorted[index[i]!]!
  }
  // Equal hashes: order by key, so the order depends on the contents alone, not on history.
  for (let i = 1; i < n; i++) {
    if (hashes[i] !== hashes[i - 1]) continue
    let end = i + 1
    while (end < n && hashes[end] === hashes[i]) end++
    const run = keys.slice(i - 1, end).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
    for (let j = 0; j < run.length; j++) keys[i - 1 + j] = run[j]!
    i = end - 1
  }
  const order = { hashes, keys, version: values.version }
  hashOrderCache.set(values, order)
  return order
}

/**
 * Every key of a database in the canonical order: by `keyHash`, then by key. The order depends
 * on the contents alone (a table's own order would depend on history, and rerooting
 * changes it), so commands that expose an order — KEYS, RANDOMKEY, SCAN — stay deterministic
 * functions of the state. Cached until the database changes.
 */
export const keysInOrder = (state: State, db: number): ReadonlyArray<Key> => hashOrder(database(state, db).values).keys

/**
 * One SCAN step. Keys are visited in order of `keyHash`; the cursor is the next hash to visit.
 * A step returns at least `count` keys (fewer only at the end) and always every key sharing the
 * last returned hash, so a key present for the whole iteration is returned at least once — the
 * guarantee Redis's reverse-binary cursor gives — whatever is added or removed meanwhile.
 * Returns the next cursor (0 when done).
 */
export const scanStep = (
  state: State,
  db: number,
  cursor: number,
  count: number,
): { readonly next: number; readonly keys: ReadonlyArray<Key> } => {
  const { hashes, keys } = hashOrder(database(state, db).values)
  let lo = 0
  let hi = hashes.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (hashes[mid]! < cursor) lo = mid + 1
    else hi = mid
  }
  const out: Key[] = []
  let i = lo
  while (i < keys.length && (out.length < count || hashes[i] === hashes[i - 1])) out.push(keys[i++]!)
  if (i >= keys.length) return { next: 0, keys: out }
  const next = hashes[i - 1]! + 1
  return { next: next > 0xffffffff ? 0 : next, keys: out }
}

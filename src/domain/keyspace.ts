/**
 * State: 16 databases of string keys with optional deadlines.
 *
 * This module is the **sole owner of the representation** (ARCHITECTURE.md, "State
 * representation"). Each database is two persistent HAMTs from `immutable`, like Redis's
 * `db->dict` and `db->expires`: `values` (key → bytes) and `expires` (key → deadline). Every update
 * returns a new State that shares structure with the old one, so
 * - `evolve` is genuinely pure and old states stay valid (property tests, point-in-time reads);
 * - a snapshot is just a reference held at sequence N, serialized while the live state moves on.
 *
 * Nothing here reads a clock: "expired" is always relative to a `now` passed in.
 *
 * @category model
 */
import { Map as IMap } from 'immutable'
import { DATABASE_COUNT, type Bytes, type EpochMs, type Key } from './primitives.js'

export interface Database {
  readonly values: IMap<Key, Bytes>
  readonly expires: IMap<Key, EpochMs>
}

export interface State {
  readonly dbs: ReadonlyArray<Database>
}

/** A key's stored entry, independent of the representation. */
export interface Entry {
  readonly value: Bytes
  readonly expireAt: EpochMs | null
}

const EMPTY_DB: Database = { values: IMap(), expires: IMap() }

export const emptyState: State = { dbs: Array.from({ length: DATABASE_COUNT }, () => EMPTY_DB) }

// ---------------------------------------------------------------------------------------------
// reads (raw: they ignore deadlines; decide uses domain/expiry.ts for the live view)
// ---------------------------------------------------------------------------------------------

export const database = (state: State, db: number): Database => state.dbs[db] ?? EMPTY_DB

export const getValue = (state: State, db: number, key: Key): Bytes | undefined => database(state, db).values.get(key)

export const getExpireAt = (state: State, db: number, key: Key): EpochMs | undefined => {
  const expires = database(state, db).expires
  // Most keys have no deadline: skip the hash walk when the database has none at all.
  return expires.size === 0 ? undefined : expires.get(key)
}

export const getEntry = (state: State, db: number, key: Key): Entry | undefined => {
  const d = database(state, db)
  const value = d.values.get(key)
  return value === undefined ? undefined : { value, expireAt: d.expires.get(key) ?? null }
}

export const hasKey = (state: State, db: number, key: Key): boolean => database(state, db).values.has(key)

export const size = (state: State, db: number): number => database(state, db).values.size

export const expiresCount = (state: State, db: number): number => database(state, db).expires.size

/** Every key of a database, in the representation's order (not sorted). */
export const keysOf = (state: State, db: number): IterableIterator<Key> => database(state, db).values.keys()

/** Every key of a database with a deadline, with that deadline. */
export const deadlinesOf = (state: State, db: number): IterableIterator<[Key, EpochMs]> =>
  database(state, db).expires.entries()

/** Every entry of a database sorted by key (byte order): the snapshot's canonical order. */
export const entriesSorted = (state: State, db: number): Array<readonly [Key, Entry]> => {
  const d = database(state, db)
  const out: Array<readonly [Key, Entry]> = []
  for (const [key, value] of d.values) out.push([key, { value, expireAt: d.expires.get(key) ?? null }])
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

/** Structural equality of two states (same keys, values and deadlines in every database). */
export const equals = (a: State, b: State): boolean =>
  a.dbs.every((d, i) => {
    const o = database(b, i)
    return d.values.equals(o.values) && d.expires.equals(o.expires)
  })

// ---------------------------------------------------------------------------------------------
// updates (each returns a new State; used only by evolve and by snapshot loading)
// ---------------------------------------------------------------------------------------------

const withDb = (state: State, db: number, next: Database): State => {
  if (state.dbs[db] === next) return state
  const dbs = state.dbs.slice()
  dbs[db] = next
  return { dbs }
}

/** Sets a value and its deadline (null: none). */
export const put = (state: State, db: number, key: Key, value: Bytes, expireAt: EpochMs | null): State => {
  const d = database(state, db)
  // Skipping the lookup in an empty deadline map keeps the common "SET without TTL" path cheap.
  const expires =
    expireAt === null ? (d.expires.size === 0 ? d.expires : d.expires.remove(key)) : d.expires.set(key, expireAt)
  return withDb(state, db, { values: d.values.set(key, value), expires })
}

/** Sets a value and keeps whatever deadline the key had. */
export const putKeepingDeadline = (state: State, db: number, key: Key, value: Bytes): State => {
  const d = database(state, db)
  return withDb(state, db, { values: d.values.set(key, value), expires: d.expires })
}

export const remove = (state: State, db: number, key: Key): State => {
  const d = database(state, db)
  if (!d.values.has(key)) return state
  return withDb(state, db, { values: d.values.remove(key), expires: d.expires.remove(key) })
}

/** Sets a deadline on an existing key; a missing key is left alone. */
export const setDeadline = (state: State, db: number, key: Key, at: EpochMs): State => {
  const d = database(state, db)
  if (!d.values.has(key)) return state
  return withDb(state, db, { values: d.values, expires: d.expires.set(key, at) })
}

export const removeDeadline = (state: State, db: number, key: Key): State => {
  const d = database(state, db)
  if (!d.expires.has(key)) return state
  return withDb(state, db, { values: d.values, expires: d.expires.remove(key) })
}

export const clearDb = (state: State, db: number): State => withDb(state, db, EMPTY_DB)

export const clearAll = (_state: State): State => emptyState

export const swapDbs = (state: State, a: number, b: number): State => {
  const dbs = state.dbs.slice()
  dbs[a] = database(state, b)
  dbs[b] = database(state, a)
  return { dbs }
}

/**
 * Applies many updates to one state inside transient (mutable) maps, then freezes them: the fast
 * path for replay and snapshot loading. Pure from the outside: the input state is not changed.
 */
export const batch = (state: State, apply: (mutable: MutableState) => void): State => {
  const values = state.dbs.map((d) => d.values.asMutable())
  const expires = state.dbs.map((d) => d.expires.asMutable())
  apply({ values, expires })
  return { dbs: values.map((v, i) => ({ values: v.asImmutable(), expires: expires[i]!.asImmutable() })) }
}

/** The transient view handed to `batch`'s callback. Only valid inside that callback. */
export interface MutableState {
  readonly values: Array<IMap<Key, Bytes>>
  readonly expires: Array<IMap<Key, EpochMs>>
}

// ---------------------------------------------------------------------------------------------
// iteration helpers for SCAN and RANDOMKEY
// ---------------------------------------------------------------------------------------------

/** 32-bit FNV-1a of a byte string: the SCAN cursor space. */
export const keyHash = (key: Key): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

interface HashOrder {
  readonly hashes: Float64Array
  readonly keys: ReadonlyArray<Key>
}
// One sorted view per immutable map version: an idle database scans in O(log n + count) per call.
const hashOrderCache = new WeakMap<IMap<Key, Bytes>, HashOrder>()

const hashOrder = (values: IMap<Key, Bytes>): HashOrder => {
  const cached = hashOrderCache.get(values)
  if (cached !== undefined) return cached
  const pairs: Array<readonly [number, Key]> = []
  for (const key of values.keys()) pairs.push([keyHash(key), key])
  pairs.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
  const order = { hashes: Float64Array.from(pairs, (p) => p[0]), keys: pairs.map((p) => p[1]) }
  hashOrderCache.set(values, order)
  return order
}

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

/** The key at position `index` (0 ≤ index < size) in the representation's order. */
export const keyAt = (state: State, db: number, index: number): Key | undefined => {
  let i = 0
  for (const key of database(state, db).values.keys()) if (i++ === index) return key
  return undefined
}

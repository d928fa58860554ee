/**
 * A hash table from byte-string keys to values: the keyspace's main table (the `base` of a
 * {@link LayeredMap}), in place of a native `Map`.
 *
 * Open addressing with linear probing over **one array of slots**, each slot three consecutive
 * elements: the key's hash (a small integer; 0 marks an empty slot), the key, the value.
 *
 * Why not a native `Map`: V8's `Map` is a chained table whose buckets, entries and keys live in
 * three places, so a lookup in a table larger than the caches costs three or four cache misses —
 * the bucket, the entry, the key string (and again per collision: the chains hold ~1.5 entries
 * per bucket). Here the hash, key and value of a slot sit together, and a probe compares the
 * hash before touching the key string: a hit costs two misses (the slot, the key). Measured on
 * redis-benchmark's MSET (bench/RESULTS.md). It is what Redis's own `dict` does not do either,
 * and what Dragonfly's dashtable and SwissTable-style maps do.
 *
 * Contract: `Map` semantics for string keys (`size`, `get`, `has`, `set`, `delete`, iteration),
 * except the iteration order, which is the table's (it depends on history and on the table's
 * seed; the keyspace never exposes it) and iterators, which are invalid after any change. Values
 * are never `undefined`.
 *
 * Deletion shifts later entries of the probe run back (no tombstones), so a table that sees
 * many deletes does not slow down. The table doubles above 3/4 full and halves below 1/8.
 *
 * @category model
 */

/** Slots in a new table (a power of two). */
const MIN_CAPACITY = 8
/** Elements per slot: hash, key, value. */
const HASH = 0
const KEY = 1
const VALUE = 2
const SLOT = 3

/** 32-bit FNV-1a over a byte string's char codes, unsigned. */
export const fnv1a = (key: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/**
 * A key's hash in the table: FNV-1a folded to 30 bits so it is a small integer on every V8
 * configuration, and never 0 (the empty-slot mark).
 */
export const keyHashOf = (key: string): number => (fnv1a(key) & 0x3fffffff) || 1

// ---------------------------------------------------------------------------------------------
// per-table seeds
// ---------------------------------------------------------------------------------------------

/** MurmurHash3's 32-bit finaliser: a bijection in which every input bit flips every output bit with probability ~1/2. */
const fmix32 = (x: number): number => {
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  return x ^ (x >>> 16)
}

let seedSalt = 0
let tablesMade = 0

/**
 * Restarts the sequence of table seeds from `salt`: the n-th table made from now on gets a seed
 * determined by (salt, n). The server and the CLI call it once at start with a random number (the
 * domain has no random source of its own); a deterministic simulation calls it with its own seed
 * per run. Without it (tests, benchmarks) seeds still differ from table to table.
 */
export const saltTableSeeds = (salt: number): void => {
  seedSalt = salt | 0
  tablesMade = 0
}

const nextTableSeed = (): number => fmix32(seedSalt ^ Math.imul(++tablesMade, 0x9e3779b9))

/** Where the probe run of hash `h` starts in a table with `seed`, before masking to its size. */
export const probeStart = (h: number, seed: number): number => fmix32(h ^ seed)

export class KeyTable<V> implements ReadonlyMap<string, V> {
  /**
   * Mixed into every hash to place it (see {@link home}). Tables never share a seed, so no table
   * meets keys in an order that follows its own slots: filling a table in another table's
   * iteration order (loading a snapshot written from one) would otherwise pile them into one
   * run that grows with every insert — quadratic (measured: a 600k-key snapshot took 6.9 s to
   * load, a 1M-key one 1.0 s). The same trap as Rust's hash maps without per-map seeds.
   */
  readonly seed: number
  /** [hash, key, value] per slot; capacity × 3 elements. */
  private slots: unknown[] = newSlots(MIN_CAPACITY)
  /** capacity − 1 (capacity is a power of two). */
  private mask = MIN_CAPACITY - 1
  private count = 0

  /** `seed` is for tests that need to know where keys go; otherwise every table gets its own. */
  constructor(seed: number = nextTableSeed()) {
    this.seed = seed | 0
  }

  get size(): number {
    return this.count
  }

  get(key: string): V | undefined {
    const i = this.find(key, keyHashOf(key))
    return i < 0 ? undefined : (this.slots[i * SLOT + VALUE] as V)
  }

  has(key: string): boolean {
    return this.find(key, keyHashOf(key)) >= 0
  }

  set(key: string, value: V): this {
    this.swap(key, value)
    return this
  }

  /**
   * Sets `key` and returns its previous value (one probe for both). `h` is `keyHashOf(key)`, for
   * a caller that already has it (the keyspace hashes a key once for its two tables).
   */
  swap(key: string, value: V, h: number = keyHashOf(key)): V | undefined {
    const slots = this.slots
    const mask = this.mask
    for (let i = this.home(h, mask); ; i = (i + 1) & mask) {
      const at = i * SLOT
      const sh = slots[at + HASH]
      if (sh === 0) {
        if ((this.count + 1) * 4 > (mask + 1) * 3) {
          this.resize((mask + 1) * 2)
          this.insertNew(h, key, value)
        } else {
          slots[at + HASH] = h
          slots[at + KEY] = key
          slots[at + VALUE] = value
        }
        this.count++
        return undefined
      }
      if (sh === h && slots[at + KEY] === key) {
        const prev = slots[at + VALUE] as V
        slots[at + VALUE] = value
        return prev
      }
    }
  }

  /** Deletes `key` and returns the value it had. `h` is `keyHashOf(key)`, as for `swap`. */
  take(key: string, h: number = keyHashOf(key)): V | undefined {
    const slots = this.slots
    const mask = this.mask
    let hole = this.find(key, h)
    if (hole < 0) return undefined
    const prev = slots[hole * SLOT + VALUE] as V
    // Shift back every later entry of the run that may sit at the hole (its home slot is not
    // strictly between the hole and itself, cyclically), so every run stays unbroken.
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const at = j * SLOT
      const sh = slots[at + HASH] as number
      if (sh === 0) break
      const home = this.home(sh, mask)
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        const to = hole * SLOT
        slots[to + HASH] = sh
        slots[to + KEY] = slots[at + KEY]
        slots[to + VALUE] = slots[at + VALUE]
        hole = j
      }
    }
    const at = hole * SLOT
    slots[at + HASH] = 0
    slots[at + KEY] = undefined
    slots[at + VALUE] = undefined
    this.count--
    if (this.count * 8 < this.mask + 1 && this.mask + 1 > MIN_CAPACITY) this.resize((this.mask + 1) / 2)
    return prev
  }

  delete(key: string): boolean {
    return this.take(key) !== undefined
  }

  clear(): void {
    this.slots = newSlots(MIN_CAPACITY)
    this.mask = MIN_CAPACITY - 1
    this.count = 0
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [key, value] of this.entries()) fn(value, key, this)
  }

  *entries(): MapIterator<[string, V]> {
    const slots = this.slots
    for (let at = 0; at < slots.length; at += SLOT) {
      if (slots[at + HASH] !== 0) yield [slots[at + KEY] as string, slots[at + VALUE] as V]
    }
  }

  *keys(): MapIterator<string> {
    const slots = this.slots
    for (let at = 0; at < slots.length; at += SLOT) if (slots[at + HASH] !== 0) yield slots[at + KEY] as string
  }

  *values(): MapIterator<V> {
    const slots = this.slots
    for (let at = 0; at < slots.length; at += SLOT) if (slots[at + HASH] !== 0) yield slots[at + VALUE] as V
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries()
  }

  /** The slot where the probe run for hash `h` starts. */
  private home(h: number, mask: number): number {
    return probeStart(h, this.seed) & mask
  }

  /** The longest run of occupied slots (a diagnostic: how far the longest probe may walk). */
  longestRun(): number {
    const slots = this.slots
    const capacity = this.mask + 1
    let longest = 0
    let run = 0
    // Two laps, so a run wrapping past the last slot is counted whole.
    for (let i = 0; i < 2 * capacity && longest < capacity; i++) {
      run = slots[(i & this.mask) * SLOT + HASH] === 0 ? 0 : run + 1
      if (run > longest) longest = run
    }
    return Math.min(longest, capacity)
  }

  /** The slot index of `key`, or −1. */
  private find(key: string, h: number): number {
    const slots = this.slots
    const mask = this.mask
    for (let i = this.home(h, mask); ; i = (i + 1) & mask) {
      const sh = slots[i * SLOT + HASH]
      if (sh === 0) return -1
      if (sh === h && slots[i * SLOT + KEY] === key) return i
    }
  }

  /** Puts a key known to be absent, in a table known to have room. */
  private insertNew(h: number, key: string, value: unknown): void {
    const slots = this.slots
    const mask = this.mask
    let i = this.home(h, mask)
    while (slots[i * SLOT + HASH] !== 0) i = (i + 1) & mask
    const at = i * SLOT
    slots[at + HASH] = h
    slots[at + KEY] = key
    slots[at + VALUE] = value
  }

  private resize(capacity: number): void {
    const old = this.slots
    this.slots = newSlots(capacity)
    this.mask = capacity - 1
    for (let at = 0; at < old.length; at += SLOT) {
      const h = old[at + HASH] as number
      if (h !== 0) this.insertNew(h, old[at + KEY] as string, old[at + VALUE])
    }
  }
}

/** A slot array of `capacity` empty slots: packed (no holes), so element access stays fast. */
const newSlots = (capacity: number): unknown[] => {
  const slots: unknown[] = new Array<unknown>(capacity * SLOT).fill(undefined)
  for (let at = 0; at < slots.length; at += SLOT) slots[at + HASH] = 0
  return slots
}

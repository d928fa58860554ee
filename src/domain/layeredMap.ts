/**
 * A map from byte-string keys that a reader can **freeze** in O(1) while writers carry on: the
 * keyspace's answer to Redis's `fork()` for snapshots (ARCHITECTURE.md, "State representation").
 *
 * - Normally every operation goes straight to one table (`base`, a {@link KeyTable}).
 * - `freeze()` hands `base` to a reader (the snapshot writer) and promises it will not change:
 *   from then on writes go to a second Map (`delta`; deletions are tombstones), reads look in
 *   `delta` first.
 * - `thaw()` ends the promise. Writes go to `base` again, and each write also moves a few `delta`
 *   entries back into `base` — incremental, like Redis's per-operation dict rehash step — until
 *   `delta` is empty and the map is a plain table again.
 *
 * Values are never `undefined` (a missing key reads as `undefined`).
 *
 * @category model
 */

import { KeyTable } from './keyTable.js'

const TOMBSTONE: unique symbol = Symbol('deleted')
type Slot<V> = V | typeof TOMBSTONE

/** `delta` entries moved back into `base` per write after a thaw. */
const MIGRATE_PER_WRITE = 4

export class LayeredMap<V> {
  private base = new KeyTable<V>()
  /** Writes made since the last freeze; null when empty (the plain, fast state). */
  private delta: Map<string, Slot<V>> | null = null
  private frozen = false
  /** The logical size while `delta` exists (base.size otherwise). */
  private count = 0
  /** The iterator moving `delta` back into `base` after a thaw (see `migrate`). */
  private migration: Iterator<[string, Slot<V>]> | null = null
  /** Bumped on every change, so a cache derived from this map can tell it is stale. */
  version = 0

  /** Entries in the overlay (writes since a freeze not yet moved back); 0 for a plain map. */
  get overlaySize(): number {
    return this.delta === null ? 0 : this.delta.size
  }

  get size(): number {
    return this.delta === null ? this.base.size : this.count
  }

  get(key: string): V | undefined {
    const delta = this.delta
    if (delta === null) return this.base.get(key)
    const slot = delta.get(key)
    if (slot !== undefined) return slot === TOMBSTONE ? undefined : slot
    return this.base.get(key)
  }

  has(key: string): boolean {
    return this.get(key) !== undefined
  }

  /** Sets `key` and returns its previous value. `hash` as for `put`. */
  set(key: string, value: V, hash?: number): V | undefined {
    this.version++
    const delta = this.delta
    if (delta === null) return this.base.swap(key, value, hash)
    const prev = this.get(key)
    if (prev === undefined) this.count++
    if (this.frozen) delta.set(key, value)
    else {
      this.base.set(key, value)
      delta.delete(key)
      this.migrate(delta)
    }
    return prev
  }

  /**
   * Sets `key`, for callers that do not need the previous value (one lookup fewer). `hash` is
   * `keyHashOf(key)` when the caller has it (see KeyTable.swap).
   */
  put(key: string, value: V, hash?: number): void {
    if (this.delta === null) {
      this.version++
      this.base.swap(key, value, hash)
    } else this.set(key, value)
  }

  /** Deletes `key` and returns the value it had. `hash` as for `put`. */
  delete(key: string, hash?: number): V | undefined {
    const delta = this.delta
    if (delta === null) {
      const prev = this.base.take(key, hash)
      if (prev !== undefined) this.version++
      return prev
    }
    const prev = this.get(key)
    if (prev === undefined) return undefined
    this.version++
    this.count--
    if (this.frozen) {
      if (this.base.has(key)) delta.set(key, TOMBSTONE)
      else delta.delete(key)
    } else {
      this.base.delete(key)
      delta.delete(key)
      this.migrate(delta)
    }
    return prev
  }

  keys(): IterableIterator<string> {
    return this.delta === null ? this.base.keys() : this.layeredKeys(this.delta)
  }

  entries(): IterableIterator<[string, V]> {
    return this.delta === null ? this.base.entries() : this.layeredEntries(this.delta)
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries()
  }

  /**
   * Returns the current contents as a read-only map that will not change until `thaw()`. O(1),
   * unless writes since the previous thaw are still being moved back (then O(those writes)).
   * One freeze at a time.
   */
  freeze(): ReadonlyMap<string, V> {
    if (this.frozen) throw new Error('LayeredMap: already frozen')
    if (this.delta !== null) this.settle(this.delta)
    this.frozen = true
    this.count = this.base.size
    this.delta = new Map()
    return this.base
  }

  /** Ends the freeze: the Map `freeze()` returned may change from now on. */
  thaw(): void {
    if (!this.frozen) return
    this.frozen = false
    if (this.delta !== null && this.delta.size === 0) this.delta = null
  }

  /**
   * Moves up to `budget` overlay entries back into `base` without a write, for a map left with an
   * overlay after a thaw and then not written to (the server's cron calls this, like Redis's
   * `incrementallyRehash`). Contents do not change. Returns the entries still to move.
   */
  settleSome(budget: number): number {
    const delta = this.delta
    if (delta === null) return 0
    if (this.frozen) return delta.size
    this.migrate(delta, budget)
    return this.delta === null ? 0 : delta.size
  }

  /**
   * Moves the next few `delta` entries back into `base`. One iterator serves the whole migration:
   * a Map iterator stays valid across deletions, and a fresh one per write would first skip every
   * entry already deleted from the front of the table (V8 compacts it only when it shrinks to a
   * quarter), which made each write after a checkpoint cost O(entries migrated so far).
   */
  private migrate(delta: Map<string, Slot<V>>, budget = MIGRATE_PER_WRITE): void {
    const it = (this.migration ??= delta.entries())
    for (; budget > 0; budget--) {
      const next = it.next()
      if (next.done === true) break
      const [key, slot] = next.value
      this.moveToBase(key, slot)
      delta.delete(key)
    }
    if (delta.size === 0) {
      this.delta = null
      this.migration = null
    }
  }

  private settle(delta: Map<string, Slot<V>>): void {
    for (const [key, slot] of delta) this.moveToBase(key, slot)
    this.delta = null
    this.migration = null
  }

  private moveToBase(key: string, slot: Slot<V>): void {
    if (slot === TOMBSTONE) this.base.delete(key)
    else this.base.set(key, slot)
  }

  private *layeredEntries(delta: Map<string, Slot<V>>): IterableIterator<[string, V]> {
    for (const [key, slot] of delta) if (slot !== TOMBSTONE) yield [key, slot]
    for (const entry of this.base) if (!delta.has(entry[0])) yield entry
  }

  private *layeredKeys(delta: Map<string, Slot<V>>): IterableIterator<string> {
    for (const [key, slot] of delta) if (slot !== TOMBSTONE) yield key
    for (const key of this.base.keys()) if (!delta.has(key)) yield key
  }
}

/**
 * WATCH: which sessions watch which keys, and when a watched key counts as changed.
 *
 * Follows Redis 7.0's multi.c (`touchWatchedKey`, `touchAllWatchedKeysInDb`,
 * `isWatchedKeyExpired`), with one deliberate difference recorded in ARCHITECTURE.md:
 * a key that was already expired at WATCH time and is then written again marks the watcher dirty
 * (Redis 7.0.15 leaves it clean — a `break` in `touchWatchedKey` — so its EXEC would run
 * although the key changed).
 *
 * @category app
 */
import * as Keyspace from '../domain/keyspace.js'
import type { State } from '../domain/keyspace.js'
import { isPastDeadline } from '../domain/live.js'
import type { EpochMs, Key } from '../domain/primitives.js'

export interface WatchedKey {
  readonly db: number
  readonly key: Key
  /**
   * The key was past its deadline when watched (Redis's `wk->expired`): its lazy deletion is no
   * logical change, and its expiring does not fail EXEC.
   */
  expired: boolean
}

/** What a session needs for WATCH; the engine's Session implements it. */
export interface Watcher {
  readonly watched: Map<string, WatchedKey>
  /** Set when a watched key changed since WATCH: EXEC will answer a null array. */
  watchDirty: boolean
}

const watchId = (db: number, key: Key): string => `${db}\u0100${key}` // U+0100 never occurs in a byte string

export class WatchRegistry {
  /** db → key → watchers. */
  private readonly byDb = new Map<number, Map<Key, Set<Watcher>>>()

  get active(): boolean {
    return this.byDb.size > 0
  }

  watch(watcher: Watcher, db: number, keys: ReadonlyArray<Key>, state: State, now: EpochMs): void {
    for (const key of keys) {
      const id = watchId(db, key)
      if (watcher.watched.has(id)) continue
      const expired = isPastDeadline(Keyspace.getExpireAt(state, db, key), now)
      watcher.watched.set(id, { db, key, expired })
      let byKey = this.byDb.get(db)
      if (byKey === undefined) this.byDb.set(db, (byKey = new Map()))
      let watchers = byKey.get(key)
      if (watchers === undefined) byKey.set(key, (watchers = new Set()))
      watchers.add(watcher)
    }
  }

  unwatchAll(watcher: Watcher): void {
    for (const { db, key } of watcher.watched.values()) {
      const byKey = this.byDb.get(db)
      const watchers = byKey?.get(key)
      watchers?.delete(watcher)
      if (watchers?.size === 0) byKey!.delete(key)
      if (byKey?.size === 0) this.byDb.delete(db)
    }
    watcher.watched.clear()
    watcher.watchDirty = false
  }

  /**
   * A write touched `key` (Redis's `signalModifiedKey`); `after` is the state once applied.
   * A key expired at WATCH time that is now gone was merely deleted lazily: no logical change.
   */
  touchKey(db: number, key: Key, after: State): void {
    const watchers = this.byDb.get(db)?.get(key)
    if (watchers === undefined) return
    for (const watcher of watchers) {
      const w = watcher.watched.get(watchId(db, key))
      if (w !== undefined && w.expired && !Keyspace.hasKey(after, db, key)) {
        w.expired = false
        continue
      }
      watcher.watchDirty = true
    }
  }

  /**
   * Redis's `touchAllWatchedKeysInDb(emptied, replacedWith)`, run against the state *before* a
   * FLUSHDB/FLUSHALL (replacedWith undefined) or each direction of a SWAPDB.
   */
  touchDatabase(emptied: number, replacedWith: number | undefined, before: State, now: EpochMs): void {
    const byKey = this.byDb.get(emptied)
    if (byKey === undefined) return
    for (const [key, watchers] of byKey) {
      const existsInEmptied = Keyspace.hasKey(before, emptied, key)
      const existsInReplacement = replacedWith !== undefined && Keyspace.hasKey(before, replacedWith, key)
      if (!existsInEmptied && !existsInReplacement) continue
      const replacementExpired =
        replacedWith !== undefined && isPastDeadline(Keyspace.getExpireAt(before, replacedWith, key), now)
      for (const watcher of watchers) {
        const w = watcher.watched.get(watchId(emptied, key))
        if (w === undefined) continue
        if (w.expired) {
          if (!existsInReplacement) {
            w.expired = false // an expired key deleted: no logical change
            continue
          }
          if (replacementExpired) continue // an expired key replaced by another expired key
        } else if (!existsInEmptied && replacementExpired) {
          w.expired = true // a missing key replaced by an expired one: still logically missing
          continue
        }
        watcher.watchDirty = true
      }
    }
  }

  /** Redis's EXEC check: dirty, or a watched key that was live at WATCH is past its deadline now. */
  failed(watcher: Watcher, state: State, now: EpochMs): boolean {
    if (watcher.watchDirty) return true
    for (const w of watcher.watched.values()) {
      if (!w.expired && isPastDeadline(Keyspace.getExpireAt(state, w.db, w.key), now)) return true
    }
    return false
  }
}

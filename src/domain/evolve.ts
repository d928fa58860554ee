/**
 * evolve: applies one decided fact to the state. Trivial, total and clock-free (invariants I2, I6):
 * every rule was already applied by `decide`, so each case only sets, removes or moves entries.
 * Replay (infra/log → app/recovery) runs exactly this function, so it never expires anything.
 *
 * @category evolve
 */
import type { Event } from './event.js'
import * as Keyspace from './keyspace.js'
import type { State } from './keyspace.js'

export const evolve = (state: State, event: Event): State => {
  switch (event.type) {
    case 'ValueSet':
      return Keyspace.put(state, event.db, event.key, event.value, event.expireAt)
    case 'ValueAppended': {
      const old = Keyspace.getValue(state, event.db, event.key) ?? ''
      return Keyspace.putKeepingDeadline(state, event.db, event.key, old + event.suffix)
    }
    case 'RangeOverwritten': {
      const old = Keyspace.getValue(state, event.db, event.key) ?? ''
      return Keyspace.putKeepingDeadline(state, event.db, event.key, overwriteRange(old, event.offset, event.bytes))
    }
    case 'KeysDeleted': {
      let next = state
      for (const key of event.keys) next = Keyspace.remove(next, event.db, key)
      return next
    }
    case 'KeyExpired':
      return Keyspace.remove(state, event.db, event.key)
    case 'ExpirySet':
      return Keyspace.setDeadline(state, event.db, event.key, event.at)
    case 'ExpiryRemoved':
      return Keyspace.removeDeadline(state, event.db, event.key)
    case 'DatabaseFlushed':
      return Keyspace.clearDb(state, event.db)
    case 'AllDatabasesFlushed':
      return Keyspace.clearAll(state)
    case 'DatabasesSwapped':
      return Keyspace.swapDbs(state, event.db, event.other)
    case 'KeyRenamed': {
      const entry = Keyspace.getEntry(state, event.db, event.from)
      if (entry === undefined) return state
      const without = Keyspace.remove(state, event.db, event.from)
      return Keyspace.put(without, event.db, event.to, entry.value, entry.expireAt)
    }
    case 'KeyMoved': {
      const entry = Keyspace.getEntry(state, event.db, event.key)
      if (entry === undefined) return state
      const without = Keyspace.remove(state, event.db, event.key)
      return Keyspace.put(without, event.toDb, event.key, entry.value, entry.expireAt)
    }
    case 'KeyCopied': {
      const entry = Keyspace.getEntry(state, event.db, event.from)
      if (entry === undefined) return state
      return Keyspace.put(state, event.toDb, event.to, entry.value, entry.expireAt)
    }
    default:
      return absurd(event)
  }
}

/** Folds events over a state, left to right. */
export const fold = (state: State, events: Iterable<Event>): State => {
  let next = state
  for (const event of events) next = evolve(next, event)
  return next
}

/** `old` with `bytes` written at `offset`, zero-padded when `old` is shorter (SETRANGE/SETBIT). */
export const overwriteRange = (old: string, offset: number, bytes: string): string => {
  const padded = old.length < offset ? old + '\0'.repeat(offset - old.length) : old
  return padded.slice(0, offset) + bytes + padded.slice(offset + bytes.length)
}

/** Exhaustiveness check: a missing case fails to compile. */
export const absurd = (x: never): never => {
  throw new Error(`unreachable: ${JSON.stringify(x)}`)
}

/**
 * evolve: applies one decided fact to the state. Trivial, total and clock-free (invariants I2, I6):
 * every rule was already applied by `decide`, so each case only sets, removes or moves entries.
 * Replay (infra/log → app/recovery) runs exactly `applyEvent`, so it never expires anything.
 * Pure: the input state is a persistent value and stays valid (domain/keyspace.ts).
 *
 * @category evolve
 */
import type { Event } from './event.js'
import * as Keyspace from './keyspace.js'
import type { State } from './keyspace.js'

export const evolve = (state: State, event: Event): State => Keyspace.update(state, (w) => applyEvent(w, event))

/** Folds events over a state, left to right: one new version for the whole sequence. */
export const fold = (state: State, events: Iterable<Event>): State =>
  Keyspace.update(state, (w) => {
    for (const event of events) applyEvent(w, event)
  })

/** What one event does to the keyspace: the single definition `evolve`, `fold` and replay share. */
export const applyEvent = (w: Keyspace.Writer, event: Event): void => {
  switch (event.type) {
    case 'ValueSet':
      return w.put(event.db, event.key, event.value, event.expireAt)
    case 'ValueAppended':
      return w.putKeepingDeadline(event.db, event.key, (w.value(event.db, event.key) ?? '') + event.suffix)
    case 'RangeOverwritten': {
      const old = w.value(event.db, event.key) ?? ''
      return w.putKeepingDeadline(event.db, event.key, overwriteRange(old, event.offset, event.bytes))
    }
    case 'KeysDeleted':
      for (const key of event.keys) w.remove(event.db, key)
      return
    case 'KeyExpired':
      return w.remove(event.db, event.key)
    case 'ExpirySet':
      return w.setDeadline(event.db, event.key, event.at)
    case 'ExpiryRemoved':
      return w.removeDeadline(event.db, event.key)
    case 'DatabaseFlushed':
      return w.clearDb(event.db)
    case 'AllDatabasesFlushed':
      return w.clearAll()
    case 'DatabasesSwapped':
      return w.swapDbs(event.db, event.other)
    case 'KeyRenamed': {
      const entry = w.entry(event.db, event.from)
      if (entry === undefined) return
      w.remove(event.db, event.from)
      return w.put(event.db, event.to, entry.value, entry.expireAt)
    }
    case 'KeyMoved': {
      const entry = w.entry(event.db, event.key)
      if (entry === undefined) return
      w.remove(event.db, event.key)
      return w.put(event.toDb, event.key, entry.value, entry.expireAt)
    }
    case 'KeyCopied': {
      const entry = w.entry(event.db, event.from)
      if (entry === undefined) return
      return w.put(event.toDb, event.to, entry.value, entry.expireAt)
    }
    default:
      return absurd(event)
  }
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

/**
 * The live view of the keyspace at `ctx.now`, used by decide: keys past their deadline read as
 * missing, and each such key found is recorded as a synthetic KeyExpired event — Redis's
 * `expireIfNeeded`, which deletes lazily on access and propagates the deletion (rule R4).
 *
 * A decision starts its event list with `view.events`, so evolve removes the expired key before
 * the command's own events run against it (an APPEND to an expired key starts from empty).
 *
 * @category model
 */
import type { Decision } from './command.js'
import { keyExpired, type Event } from './event.js'
import * as Keyspace from './keyspace.js'
import type { State } from './keyspace.js'
import type { Bytes, EpochMs, Key } from './primitives.js'
import type { Reply } from './reply.js'

/** Redis: a key is expired when its deadline is strictly in the past (`now > when`). */
export const isPastDeadline = (expireAt: EpochMs | undefined | null, now: EpochMs): boolean =>
  expireAt !== undefined && expireAt !== null && now > expireAt

export class LiveView {
  /** KeyExpired events found so far, in the order found. */
  readonly events: Event[] = []
  private expired: Set<string> | undefined

  constructor(
    readonly state: State,
    readonly now: EpochMs,
  ) {}

  /** The value of a live key, or undefined (recording a KeyExpired if it just expired). */
  get(db: number, key: Key): Bytes | undefined {
    const value = Keyspace.getValue(this.state, db, key)
    if (value === undefined) return undefined
    if (this.checkExpired(db, key)) return undefined
    return value
  }

  exists(db: number, key: Key): boolean {
    return this.get(db, key) !== undefined
  }

  /** The deadline of a live key (null: none), or undefined when the key is missing. */
  expireAt(db: number, key: Key): EpochMs | null | undefined {
    if (this.get(db, key) === undefined) return undefined
    return Keyspace.getExpireAt(this.state, db, key) ?? null
  }

  private checkExpired(db: number, key: Key): boolean {
    const at = Keyspace.getExpireAt(this.state, db, key)
    if (!isPastDeadline(at, this.now)) return false
    const id = `${db}\u0100${key}` // U+0100 never occurs in a byte string
    this.expired ??= new Set()
    if (!this.expired.has(id)) {
      this.expired.add(id)
      this.events.push(keyExpired(db, key, this.now))
    }
    return true
  }

  /** The decision's events: the expirations found, then the command's own events. */
  with(own: ReadonlyArray<Event>): ReadonlyArray<Event> {
    if (this.events.length === 0) return own
    if (own.length === 0) return this.events
    return [...this.events, ...own]
  }
}

/** A write's decision: the expirations the view found, then the command's own events. */
export const decision = (view: LiveView, own: ReadonlyArray<Event>, reply: Reply): Decision => ({
  events: view.with(own),
  reply,
})

/** A read's decision: only lazily expired keys produce events. */
export const read = (view: LiveView, reply: Reply): Decision => ({ events: view.events, reply })

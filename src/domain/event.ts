/**
 * Events: the facts Redust logs. Past tense, outcomes not requests, absolute times only.
 *
 * This module **is the on-disk vocabulary**: the durable log and snapshots persist exactly these
 * shapes (see ARCHITECTURE.md, "Event catalogue"). Adding a field or an event is a format change:
 * append, never repurpose.
 *
 * The io-ts codecs are the schema. The live path builds events with the typed constructors below
 * and never calls `decode`; decoding happens only where bytes enter from disk (infra/log,
 * infra/snapshot, the CLI). Every codec encodes as the identity, so `encode` is free.
 *
 * @category model
 */
import * as t from 'io-ts'
import type { Bytes, EpochMs, Key } from './primitives.js'

// ---------------------------------------------------------------------------------------------
// field codecs
// ---------------------------------------------------------------------------------------------

/** A byte string: every char must be a single byte (U+0000..U+00FF). */
export const ByteString = new t.Type<string, string, unknown>(
  'ByteString',
  (u): u is string => typeof u === 'string' && isByteString(u),
  (u, c) => (typeof u === 'string' && isByteString(u) ? t.success(u) : t.failure(u, c, 'expected a byte string')),
  t.identity,
)

/** Whether every char of `s` is a single byte (U+0000..U+00FF). */
export const isByteString = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false
  return true
}

/** A number codec checked by `ok`, typed as plain `number` (no brand: events are built on the hot path). */
const checkedNumber = (name: string, ok: (n: number) => boolean): t.Type<number, number, unknown> =>
  new t.Type<number, number, unknown>(
    name,
    (u): u is number => typeof u === 'number' && ok(u),
    (u, c) => (typeof u === 'number' && ok(u) ? t.success(u) : t.failure(u, c)),
    t.identity,
  )

/** A database index 0..15. */
export const isDbIndex = (n: number): boolean => Number.isInteger(n) && n >= 0 && n < 16
/** An absolute time in Unix ms (any safe integer; Redis allows deadlines before 1970). */
export const isEpochMs = (n: number): boolean => Number.isSafeInteger(n)
/** A byte offset into a string value. */
export const isOffset = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

// The field predicates above are exported for the binary log decoder (infra/log/eventCodec.ts),
// which builds events field by field and checks each number with them instead of running `is`
// over the whole event: one definition of what a valid field is, in this module.
export const DbIndex = checkedNumber('DbIndex', isDbIndex)
export const Epoch = checkedNumber('EpochMs', isEpochMs)
export const Offset = checkedNumber('Offset', isOffset)

// ---------------------------------------------------------------------------------------------
// event codecs
// ---------------------------------------------------------------------------------------------

/** A key now holds `value`; its deadline is now `expireAt` (null: no TTL). Covers SET, INCR, … */
export const ValueSet = t.readonly(
  t.type({ type: t.literal('ValueSet'), db: DbIndex, key: ByteString, value: ByteString, expireAt: t.union([Epoch, t.null]) }),
)
/** `suffix` was appended to the key's value (created empty if missing, TTL unchanged). APPEND. */
export const ValueAppended = t.readonly(
  t.type({ type: t.literal('ValueAppended'), db: DbIndex, key: ByteString, suffix: ByteString }),
)
/**
 * The bytes at `offset` were overwritten with `bytes`; the value was zero-padded first if shorter
 * (created if missing, TTL unchanged). SETRANGE and SETBIT: logging the changed range instead of
 * the whole value keeps the log linear for large strings.
 */
export const RangeOverwritten = t.readonly(
  t.type({ type: t.literal('RangeOverwritten'), db: DbIndex, key: ByteString, offset: Offset, bytes: ByteString }),
)
/** These keys were removed by a user command (DEL, UNLINK, GETDEL, EXPIRE in the past, …). */
export const KeysDeleted = t.readonly(
  t.type({ type: t.literal('KeysDeleted'), db: DbIndex, keys: t.readonlyArray(ByteString) }),
)
/** The key's deadline is now `at`. */
export const ExpirySet = t.readonly(t.type({ type: t.literal('ExpirySet'), db: DbIndex, key: ByteString, at: Epoch }))
/** The key no longer has a deadline (PERSIST, GETEX PERSIST). */
export const ExpiryRemoved = t.readonly(t.type({ type: t.literal('ExpiryRemoved'), db: DbIndex, key: ByteString }))
/**
 * Synthetic: the key was found past its deadline at time `at` and removed (lazily on access or by
 * active expiry). Same effect as KeysDeleted; kept apart so history can say why a key vanished.
 */
export const KeyExpired = t.readonly(t.type({ type: t.literal('KeyExpired'), db: DbIndex, key: ByteString, at: Epoch }))
/** Every key of one database was removed (FLUSHDB). */
export const DatabaseFlushed = t.readonly(t.type({ type: t.literal('DatabaseFlushed'), db: DbIndex }))
/** Every key of every database was removed (FLUSHALL). */
export const AllDatabasesFlushed = t.readonly(t.type({ type: t.literal('AllDatabasesFlushed') }))
/** Two databases exchanged their contents (SWAPDB). */
export const DatabasesSwapped = t.readonly(t.type({ type: t.literal('DatabasesSwapped'), db: DbIndex, other: DbIndex }))
/** `from` now lives under `to` with its value and deadline; whatever `to` held is gone. RENAME(NX). */
export const KeyRenamed = t.readonly(
  t.type({ type: t.literal('KeyRenamed'), db: DbIndex, from: ByteString, to: ByteString }),
)
/** The key moved with its deadline from `db` to `toDb` (MOVE; the target had no such key). */
export const KeyMoved = t.readonly(t.type({ type: t.literal('KeyMoved'), db: DbIndex, key: ByteString, toDb: DbIndex }))
/** `to` in `toDb` is now a copy of `from` in `db`, deadline included; whatever it held is gone. COPY. */
export const KeyCopied = t.readonly(
  t.type({ type: t.literal('KeyCopied'), db: DbIndex, from: ByteString, toDb: DbIndex, to: ByteString }),
)

/** The closed union of every fact Redust can log. */
export const Event = t.union([
  ValueSet,
  ValueAppended,
  RangeOverwritten,
  KeysDeleted,
  ExpirySet,
  ExpiryRemoved,
  KeyExpired,
  DatabaseFlushed,
  AllDatabasesFlushed,
  DatabasesSwapped,
  KeyRenamed,
  KeyMoved,
  KeyCopied,
])
export type Event = t.TypeOf<typeof Event>
export type EventType = Event['type']

/** Every event type name, in catalogue order (used by the CLI and tests). */
export const EVENT_TYPES: ReadonlyArray<EventType> = [
  'ValueSet',
  'ValueAppended',
  'RangeOverwritten',
  'KeysDeleted',
  'ExpirySet',
  'ExpiryRemoved',
  'KeyExpired',
  'DatabaseFlushed',
  'AllDatabasesFlushed',
  'DatabasesSwapped',
  'KeyRenamed',
  'KeyMoved',
  'KeyCopied',
]

// ---------------------------------------------------------------------------------------------
// constructors (typed, allocation-light; the live path uses these, never `decode`)
// ---------------------------------------------------------------------------------------------

export const valueSet = (db: number, key: Key, value: Bytes, expireAt: EpochMs | null): Event => ({
  type: 'ValueSet',
  db,
  key,
  value,
  expireAt,
})
export const valueAppended = (db: number, key: Key, suffix: Bytes): Event => ({ type: 'ValueAppended', db, key, suffix })
export const rangeOverwritten = (db: number, key: Key, offset: number, bytes: Bytes): Event => ({
  type: 'RangeOverwritten',
  db,
  key,
  offset,
  bytes,
})
export const keysDeleted = (db: number, keys: ReadonlyArray<Key>): Event => ({ type: 'KeysDeleted', db, keys })
export const expirySet = (db: number, key: Key, at: EpochMs): Event => ({ type: 'ExpirySet', db, key, at })
export const expiryRemoved = (db: number, key: Key): Event => ({ type: 'ExpiryRemoved', db, key })
export const keyExpired = (db: number, key: Key, at: EpochMs): Event => ({ type: 'KeyExpired', db, key, at })
export const databaseFlushed = (db: number): Event => ({ type: 'DatabaseFlushed', db })
export const allDatabasesFlushed: Event = { type: 'AllDatabasesFlushed' }
export const databasesSwapped = (db: number, other: number): Event => ({ type: 'DatabasesSwapped', db, other })
export const keyRenamed = (db: number, from: Key, to: Key): Event => ({ type: 'KeyRenamed', db, from, to })
export const keyMoved = (db: number, key: Key, toDb: number): Event => ({ type: 'KeyMoved', db, key, toDb })
export const keyCopied = (db: number, from: Key, toDb: number, to: Key): Event => ({
  type: 'KeyCopied',
  db,
  from,
  toDb,
  to,
})

/** The keys an event touches, as `[db, key]` pairs (for WATCH, history and the CLI). */
export const touchedKeys = (event: Event): ReadonlyArray<readonly [number, Key]> => {
  switch (event.type) {
    case 'ValueSet':
    case 'ValueAppended':
    case 'RangeOverwritten':
    case 'ExpirySet':
    case 'ExpiryRemoved':
    case 'KeyExpired':
      return [[event.db, event.key]]
    case 'KeysDeleted':
      return event.keys.map((k) => [event.db, k] as const)
    case 'KeyRenamed':
      return [
        [event.db, event.from],
        [event.db, event.to],
      ]
    case 'KeyMoved':
      return [
        [event.db, event.key],
        [event.toDb, event.key],
      ]
    case 'KeyCopied':
      return [[event.toDb, event.to]]
    case 'DatabaseFlushed':
    case 'AllDatabasesFlushed':
    case 'DatabasesSwapped':
      return []
  }
}

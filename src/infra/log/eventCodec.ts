/**
 * Binary, byte-safe encoding of events inside an AOF frame payload (DURABILITY.md §8.3).
 *
 * ## Format (all integers little-endian)
 *
 * A payload is `count` events back to back; each event is
 *
 * ```
 * u8  type code (table below; codes are frozen: append, never reuse)
 * u32 body length in bytes (lets a reader skip an event it does not know)
 * ... body: the event's fields in the order listed, each encoded as
 *       db     u8 (0..15)
 *       str    u32 length + that many bytes (a byte string: one byte per char, latin1)
 *       i64    signed 64-bit integer (a Unix-ms time or an offset; must be a JS safe integer)
 *       ttl    u8 0 (no deadline) | u8 1 + i64 deadline
 *       strs   u32 count + count × str
 * ```
 *
 * | code | event               | body                          |
 * |------|---------------------|-------------------------------|
 * | 1    | ValueSet            | db key:str value:str expireAt:ttl |
 * | 2    | ValueAppended       | db key:str suffix:str         |
 * | 3    | RangeOverwritten    | db key:str offset:i64 bytes:str |
 * | 4    | KeysDeleted         | db keys:strs                  |
 * | 5    | ExpirySet           | db key:str at:i64             |
 * | 6    | ExpiryRemoved       | db key:str                    |
 * | 7    | KeyExpired          | db key:str at:i64             |
 * | 8    | DatabaseFlushed     | db                            |
 * | 9    | AllDatabasesFlushed | (empty)                       |
 * | 10   | DatabasesSwapped    | db other:db                   |
 * | 11   | KeyRenamed          | db from:str to:str            |
 * | 12   | KeyMoved            | db key:str toDb:db            |
 * | 13   | KeyCopied           | db from:str toDb:db to:str    |
 *
 * Keys and values are byte strings (domain/primitives.ts): the encoder writes each char's byte,
 * the decoder reads bytes back as latin1, so all 256 byte values round-trip.
 *
 * Decoding is the edge where bytes from disk become domain events, and every event it returns is
 * valid by construction (the CRC guarantees the bytes are what was written; this guarantees what
 * was written is a valid event):
 * - the shape is fixed per type code: the `type` literal, and every field read by its own reader;
 * - strings are byte strings because they are built one char per byte;
 * - every number is checked with the field predicate the io-ts codecs use (`isDbIndex`,
 *   `isEpochMs`, `isOffset` in domain/event.ts), so there is one definition of a valid field.
 * A property test checks that every event decoded from any bytes satisfies `Event.is`. Running
 * `is` over each whole event cost ~150 ns per event, 15 % of replay (bench/RESULTS.md).
 *
 * @category infra
 */
import * as E from '../../domain/event.js'
import type { Event, EventType } from '../../domain/event.js'
import { absurd } from '../../domain/evolve.js'
import { latin1 } from '../byteString.js'
import { i64le, u32le } from '../littleEndian.js'

// ---------------------------------------------------------------------------------------------
// type codes (frozen)
// ---------------------------------------------------------------------------------------------

/** The on-disk code of each event type. Exhaustive: a new event type fails to compile here. */
export const EVENT_CODES: { readonly [K in EventType]: number } = {
  ValueSet: 1,
  ValueAppended: 2,
  RangeOverwritten: 3,
  KeysDeleted: 4,
  ExpirySet: 5,
  ExpiryRemoved: 6,
  KeyExpired: 7,
  DatabaseFlushed: 8,
  AllDatabasesFlushed: 9,
  DatabasesSwapped: 10,
  KeyRenamed: 11,
  KeyMoved: 12,
  KeyCopied: 13,
}

/** The schema version written in every frame header; bump when a field's encoding changes. */
export const EVENT_SCHEMA_VERSION = 1

// ---------------------------------------------------------------------------------------------
// writer
// ---------------------------------------------------------------------------------------------

const TWO_32 = 4294967296

/**
 * A growable byte buffer the log encodes a whole batch into (one `write()` per batch). Not
 * reused after it is handed to a write: `take()` returns a view and the writer starts afresh.
 */
export class ByteWriter {
  buf: Buffer
  pos = 0

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial)
  }

  ensure(n: number): void {
    const need = this.pos + n
    if (need <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < need) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }

  u32(v: number): void {
    this.ensure(4)
    this.buf.writeUInt32LE(v >>> 0, this.pos)
    this.pos += 4
  }

  /** A safe integer as a signed 64-bit little-endian value. */
  i64(v: number): void {
    this.ensure(8)
    const hi = Math.floor(v / TWO_32)
    const lo = v - hi * TWO_32
    this.buf.writeUInt32LE(lo, this.pos)
    this.buf.writeInt32LE(hi, this.pos + 4)
    this.pos += 8
  }

  /** A byte string: u32 length + one byte per char. */
  str(s: string): void {
    const n = s.length
    this.ensure(4 + n)
    const buf = this.buf
    let p = this.pos
    buf.writeUInt32LE(n, p)
    p += 4
    if (n < 32) {
      for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i)
    } else {
      buf.write(s, p, n, 'latin1')
    }
    this.pos = p + n
  }
}

const db = (w: ByteWriter, n: number): void => {
  if ((n & 0xff) !== n) throw new RangeError(`database index out of range: ${n}`)
  w.u8(n)
}

/** Appends one event (type code, body length, body) to `w`. */
export const encodeEvent = (w: ByteWriter, event: Event): void => {
  w.u8(EVENT_CODES[event.type])
  w.u32(0) // body length, patched below
  const bodyStart = w.pos
  switch (event.type) {
    case 'ValueSet':
      db(w, event.db)
      w.str(event.key)
      w.str(event.value)
      if (event.expireAt === null) w.u8(0)
      else {
        w.u8(1)
        w.i64(event.expireAt)
      }
      break
    case 'ValueAppended':
      db(w, event.db)
      w.str(event.key)
      w.str(event.suffix)
      break
    case 'RangeOverwritten':
      db(w, event.db)
      w.str(event.key)
      w.i64(event.offset)
      w.str(event.bytes)
      break
    case 'KeysDeleted':
      db(w, event.db)
      w.u32(event.keys.length)
      for (const key of event.keys) w.str(key)
      break
    case 'ExpirySet':
    case 'KeyExpired':
      db(w, event.db)
      w.str(event.key)
      w.i64(event.at)
      break
    case 'ExpiryRemoved':
      db(w, event.db)
      w.str(event.key)
      break
    case 'DatabaseFlushed':
      db(w, event.db)
      break
    case 'AllDatabasesFlushed':
      break
    case 'DatabasesSwapped':
      db(w, event.db)
      db(w, event.other)
      break
    case 'KeyRenamed':
      db(w, event.db)
      w.str(event.from)
      w.str(event.to)
      break
    case 'KeyMoved':
      db(w, event.db)
      w.str(event.key)
      db(w, event.toDb)
      break
    case 'KeyCopied':
      db(w, event.db)
      w.str(event.from)
      db(w, event.toDb)
      w.str(event.to)
      break
    default:
      return absurd(event)
  }
  w.buf.writeUInt32LE(w.pos - bodyStart, bodyStart - 4)
}

// ---------------------------------------------------------------------------------------------
// reader
// ---------------------------------------------------------------------------------------------

/** The payload bytes do not decode to valid events (the CRC matched, so this is a writer bug or a newer schema). */
export class PayloadError extends Error {
  constructor(
    message: string,
    /** Byte offset of the problem relative to the payload start. */
    readonly at: number,
  ) {
    super(message)
    this.name = 'PayloadError'
  }
}

const badTime = (v: number): string => `time ${v} is not a safe integer`
const badOffset = (v: number): string => `invalid offset ${v}`

const NO_BYTES = Buffer.alloc(0)

/** A cursor over one frame payload. Every read is bounds-checked against `end`. */
class ByteReader {
  buf: Buffer = NO_BYTES
  pos = 0
  end = 0
  /** Where the payload starts (error offsets are relative to it). */
  origin = 0

  /** Points the reader at the payload `buf[start, end)`. */
  open(buf: Buffer, start: number, end: number): this {
    this.buf = buf
    this.pos = start
    this.end = end
    this.origin = start
    return this
  }

  /** Lets go of the buffer, so a scan's read buffer is not kept alive between decodes. */
  close(): void {
    this.buf = NO_BYTES
  }

  fail(what: string): never {
    throw new PayloadError(`${what} at payload byte ${this.pos - this.origin}`, this.pos - this.origin)
  }

  need(n: number): void {
    if (this.pos + n > this.end) this.fail(`truncated field (needs ${n} bytes)`)
  }

  u8(): number {
    this.need(1)
    return this.buf[this.pos++]!
  }

  u32(): number {
    this.need(4)
    const v = u32le(this.buf, this.pos)
    this.pos += 4
    return v
  }

  i64(): number {
    this.need(8)
    const v = i64le(this.buf, this.pos)
    this.pos += 8
    return v
  }

  /** A db index field: u8, checked with `isDbIndex`. */
  db(): number {
    const at = this.pos
    const d = this.u8()
    if (!E.isDbIndex(d)) {
      this.pos = at
      this.fail(`invalid db index ${d}`)
    }
    return d
  }

  /** A Unix-ms time field: i64, checked with `isEpochMs`. */
  epoch(): number {
    return this.checkedI64(E.isEpochMs, badTime)
  }

  /** A ttl field: u8 0 (no deadline, null) or u8 1 and an `epoch()`. */
  ttl(): number | null {
    const flag = this.u8()
    if (flag === 0) return null
    if (flag !== 1) {
      this.pos--
      this.fail(`invalid deadline flag ${flag}`)
    }
    return this.epoch()
  }

  /** A byte offset field: i64, checked with `isOffset`. */
  offset(): number {
    return this.checkedI64(E.isOffset, badOffset)
  }

  /** An i64 field checked with `ok` (a field predicate of domain/event.ts); fails at its start. */
  private checkedI64(ok: (n: number) => boolean, problem: (v: number) => string): number {
    const at = this.pos
    const v = this.i64()
    if (!ok(v)) {
      this.pos = at
      this.fail(problem(v))
    }
    return v
  }

  str(): string {
    const n = this.u32()
    this.need(n)
    const start = this.pos
    this.pos += n
    return latin1(this.buf, start, start + n)
  }
}

/** Decodes one event starting at `r.pos`. */
const decodeEvent = (r: ByteReader): Event => {
  const eventStart = r.pos
  const code = r.u8()
  const len = r.u32()
  r.need(len)
  const bodyEnd = r.pos + len
  const outerEnd = r.end
  r.end = bodyEnd
  let event: Event
  switch (code) {
    case 1: {
      const d = r.db()
      const key = r.str()
      const value = r.str()
      const expireAt = r.ttl()
      event = { type: 'ValueSet', db: d, key, value, expireAt }
      break
    }
    case 2: {
      const d = r.db()
      const key = r.str()
      event = { type: 'ValueAppended', db: d, key, suffix: r.str() }
      break
    }
    case 3: {
      const d = r.db()
      const key = r.str()
      const offset = r.offset()
      event = { type: 'RangeOverwritten', db: d, key, offset, bytes: r.str() }
      break
    }
    case 4: {
      const d = r.db()
      const n = r.u32()
      // Each key takes at least 4 bytes: bound n before allocating.
      if (n > (r.end - r.pos) / 4) r.fail(`key count ${n} exceeds the event body`)
      const keys: string[] = new Array<string>(n)
      for (let i = 0; i < n; i++) keys[i] = r.str()
      event = { type: 'KeysDeleted', db: d, keys }
      break
    }
    case 5: {
      const d = r.db()
      const key = r.str()
      event = { type: 'ExpirySet', db: d, key, at: r.epoch() }
      break
    }
    case 6: {
      const d = r.db()
      event = { type: 'ExpiryRemoved', db: d, key: r.str() }
      break
    }
    case 7: {
      const d = r.db()
      const key = r.str()
      event = { type: 'KeyExpired', db: d, key, at: r.epoch() }
      break
    }
    case 8:
      event = { type: 'DatabaseFlushed', db: r.db() }
      break
    case 9:
      event = { type: 'AllDatabasesFlushed' }
      break
    case 10: {
      const d = r.db()
      event = { type: 'DatabasesSwapped', db: d, other: r.db() }
      break
    }
    case 11: {
      const d = r.db()
      const from = r.str()
      event = { type: 'KeyRenamed', db: d, from, to: r.str() }
      break
    }
    case 12: {
      const d = r.db()
      const key = r.str()
      event = { type: 'KeyMoved', db: d, key, toDb: r.db() }
      break
    }
    case 13: {
      const d = r.db()
      const from = r.str()
      const toDb = r.db()
      event = { type: 'KeyCopied', db: d, from, toDb, to: r.str() }
      break
    }
    default:
      r.pos = eventStart
      return r.fail(`unknown event type code ${code}`)
  }
  if (r.pos !== bodyEnd) r.fail(`event body has ${bodyEnd - r.pos} unread bytes`)
  r.end = outerEnd
  return event
}

/**
 * The one reader every decode uses, reopened per payload: decoding is synchronous and never
 * re-entered, and recovery decodes about a million payloads a second, so a reader per payload
 * was a measurable share of its allocations (bench/RESULTS.md, issue 3).
 */
const reader = new ByteReader()

/**
 * Decodes the `count` events of a payload `buf[start, end)`. Throws {@link PayloadError} when the
 * bytes are not exactly `count` valid events.
 */
export const decodeEvents = (buf: Buffer, start: number, end: number, count: number): Event[] => {
  // Every event takes at least 5 bytes: bound count before allocating.
  if (count > (end - start) / 5) throw new PayloadError(`event count ${count} exceeds the payload`, 0)
  const r = reader.open(buf, start, end)
  try {
    const events: Event[] = new Array<Event>(count)
    for (let i = 0; i < count; i++) events[i] = decodeEvent(r)
    if (r.pos !== end) r.fail(`payload has ${end - r.pos} bytes after its ${count} events`)
    return events
  } finally {
    r.close()
  }
}

/**
 * `decodeEvents` for a payload of exactly one event, returning the event itself (no array): the
 * common record (one command, one event). Throws {@link PayloadError} like `decodeEvents`.
 */
export const decodeOnlyEvent = (buf: Buffer, start: number, end: number): Event => {
  if (end - start < 5) throw new PayloadError('event count 1 exceeds the payload', 0)
  const r = reader.open(buf, start, end)
  try {
    const event = decodeEvent(r)
    if (r.pos !== end) r.fail(`payload has ${end - r.pos} bytes after its 1 events`)
    return event
  } finally {
    r.close()
  }
}

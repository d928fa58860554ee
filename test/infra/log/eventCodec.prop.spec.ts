/**
 * The binary event codec and frame format: every event round-trips bit-exactly (all 256 byte
 * values, extreme times), and bytes that are not valid events are rejected with a PayloadError —
 * never turned into a different event.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Event } from '../../../src/domain/event.js'
import * as E from '../../../src/domain/event.js'
import { ByteWriter, decodeEvents, decodeOnlyEvent, encodeEvent, EVENT_CODES, PayloadError } from '../../../src/infra/log/eventCodec.js'
import {
  checksumMatches,
  decodeSegmentHeader,
  encodeFrame,
  encodeSegmentHeader,
  frameSeed,
  FRAME_HEADER_BYTES,
  newSegmentHeader,
  readFrameHeader,
} from '../../../src/infra/log/format.js'
import { assertProperty } from '../../support/fc.js'
import { ALL_BYTES, EPOCH, eventArb, everyEventType } from '../support/logFixtures.js'

const roundTrip = (events: ReadonlyArray<Event>): Event[] => {
  const w = new ByteWriter(16)
  for (const e of events) encodeEvent(w, e)
  return decodeEvents(w.buf, 0, w.pos, events.length)
}

describe('event codec', () => {
  it('gives every event type a distinct frozen code', () => {
    expect(Object.keys(EVENT_CODES).sort()).toEqual([...E.EVENT_TYPES].sort())
    expect(new Set(Object.values(EVENT_CODES)).size).toBe(E.EVENT_TYPES.length)
  })

  it('round-trips one event of every type with binary keys and values', () => {
    const events = everyEventType()
    expect(roundTrip(events)).toEqual(events)
  })

  it('round-trips all 256 byte values in keys, values and key lists', () => {
    const events = [E.valueSet(15, ALL_BYTES, ALL_BYTES, -1), E.keysDeleted(0, [ALL_BYTES, '', ALL_BYTES])]
    expect(roundTrip(events)).toEqual(events)
  })

  it('round-trips any sequence of events', () => {
    assertProperty(
      'event codec round trip',
      fc.property(fc.array(eventArb, { maxLength: 20 }), (events) => {
        expect(roundTrip(events)).toEqual(events)
      }),
    )
  })

  it('rejects truncated payloads at every length', () => {
    const events = everyEventType()
    const w = new ByteWriter()
    for (const e of events) encodeEvent(w, e)
    for (let end = 0; end < w.pos; end++) {
      expect(() => decodeEvents(w.buf, 0, end, events.length)).toThrow(PayloadError)
    }
  })

  it('rejects an unknown event type code, trailing bytes and an invalid database index', () => {
    const w = new ByteWriter()
    encodeEvent(w, E.valueSet(0, 'k', 'v', null))
    const good = Buffer.from(w.buf.subarray(0, w.pos))
    const unknown = Buffer.from(good)
    unknown[0] = 99
    expect(() => decodeEvents(unknown, 0, unknown.length, 1)).toThrow(/unknown event type code 99/)
    const trailing = Buffer.concat([good, Buffer.from([0])])
    expect(() => decodeEvents(trailing, 0, trailing.length, 1)).toThrow(PayloadError)
    const badDb = Buffer.from(good)
    badDb[5] = 16 // the db byte follows the 1-byte code and the 4-byte length
    expect(() => decodeEvents(badDb, 0, badDb.length, 1)).toThrow(/invalid db index 16/)
    const badFlag = Buffer.from(good)
    badFlag[good.length - 1] = 2 // the deadline flag is the last byte of a ValueSet without TTL
    expect(() => decodeEvents(badFlag, 0, badFlag.length, 1)).toThrow(/invalid deadline flag 2/)
  })

  it('rejects times and offsets outside the safe integers', () => {
    const w = new ByteWriter()
    encodeEvent(w, E.expirySet(0, 'k', 1))
    const at = Buffer.from(w.buf.subarray(0, w.pos))
    at.writeUInt32LE(0x7fffffff, at.length - 4) // the i64's high word: about 2^63, not a safe integer
    expect(() => decodeEvents(at, 0, at.length, 1)).toThrow(/time .* is not a safe integer/)
    const w2 = new ByteWriter()
    encodeEvent(w2, E.rangeOverwritten(0, 'k', 0, 'x'))
    const off = Buffer.from(w2.buf.subarray(0, w2.pos))
    off.writeInt32LE(-1, off.length - 9) // the offset's high word (before the 1-byte string): negative
    expect(() => decodeEvents(off, 0, off.length, 1)).toThrow(/invalid offset/)
  })

  // The decoder builds events field by field instead of running the io-ts guard over each one:
  // whatever bytes it accepts must still be events the schema accepts.
  it('returns only events that satisfy the io-ts schema, whatever the bytes', () => {
    const valid = everyEventType()
    const w = new ByteWriter()
    for (const e of valid) encodeEvent(w, e)
    const good = Buffer.from(w.buf.subarray(0, w.pos))
    assertProperty(
      'decoded events satisfy Event.is',
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat({ max: valid.length }),
        (edits, count) => {
          const bytes = Buffer.from(good)
          for (const [at, byte] of edits) bytes[at] = byte
          let decoded: Event[]
          try {
            decoded = decodeEvents(bytes, 0, bytes.length, count)
          } catch (err) {
            expect(err).toBeInstanceOf(PayloadError)
            return
          }
          for (const e of decoded) expect(E.Event.is(e)).toBe(true)
        },
      ),
    )
  })

  // Recovery decodes one-event payloads with decodeOnlyEvent (no array), everything else with
  // decodeEvents; both share one reader. Whatever the bytes, the two must agree: the same event,
  // or the same PayloadError at the same offset — and a failed decode must not disturb the next.
  it('decodeOnlyEvent agrees with decodeEvents(…, 1) on any bytes, and a failure leaves the next decode intact', () => {
    const outcome = (decode: () => Event): { event: Event } | { error: string; at: number } => {
      try {
        return { event: decode() }
      } catch (err) {
        if (!(err instanceof PayloadError)) throw err
        return { error: err.message, at: err.at }
      }
    }
    assertProperty(
      'decodeOnlyEvent = decodeEvents(…, 1)[0]',
      fc.property(
        eventArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.nat({ max: 8 }),
        fc.nat({ max: 8 }),
        (event, edits, cut, lead) => {
          const w = new ByteWriter()
          encodeEvent(w, event)
          // The payload sits `lead` bytes into its buffer, as inside a frame.
          const bytes = Buffer.concat([Buffer.alloc(lead, 0xee), w.buf.subarray(0, w.pos)])
          for (const [at, byte] of edits) bytes[lead + (at % w.pos)] = byte
          const end = Math.max(lead, bytes.length - cut)
          const only = outcome(() => decodeOnlyEvent(bytes, lead, end))
          expect(only).toEqual(outcome(() => decodeEvents(bytes, lead, end, 1)[0]!))
          // The shared reader is reopened cleanly after a success or a failure.
          const w2 = new ByteWriter()
          encodeEvent(w2, event)
          expect(decodeOnlyEvent(w2.buf, 0, w2.pos)).toEqual(event)
        },
      ),
    )
  })

  it('refuses to encode a database index that does not fit a byte', () => {
    expect(() => encodeEvent(new ByteWriter(), E.databaseFlushed(256))).toThrow(RangeError)
  })

  it('rejects an event count larger than the payload could hold without allocating it', () => {
    expect(() => decodeEvents(Buffer.alloc(10), 0, 10, 0xffffffff)).toThrow(PayloadError)
  })
})

describe('segment header and frames', () => {
  it('round-trips a segment header and detects any flipped bit in it', () => {
    const h = newSegmentHeader(7, 12345, EPOCH)
    const buf = encodeSegmentHeader(h)
    expect(decodeSegmentHeader(buf)).toEqual(h)
    for (let bit = 0; bit < 64 * 8; bit++) {
      const bad = Buffer.from(buf)
      bad[bit >> 3]! ^= 1 << (bit & 7)
      expect(typeof decodeSegmentHeader(bad)).toBe('string')
    }
  })

  it('writes len, lsn, kind, count, at and durable lsn in the frame header and a CRC seeded with the segment uid', () => {
    const h = newSegmentHeader(1, 1, EPOCH)
    const w = new ByteWriter()
    encodeFrame(w, frameSeed(h), { seq: 9, at: EPOCH + 3, events: [E.valueSet(0, 'a', 'b', null), E.expiryRemoved(0, 'a')] }, 7)
    const fh = readFrameHeader(w.buf, 0, w.pos)
    expect(fh).toMatchObject({ len: w.pos, lsn: 9, kind: 2, flags: 0, schema: 1, count: 2, at: EPOCH + 3, durableLsn: 7 })
    expect(checksumMatches(w.buf, 0, w.pos, frameSeed(h))).toBe(true)
    const other = newSegmentHeader(1, 1, EPOCH)
    expect(checksumMatches(w.buf, 0, w.pos, frameSeed(other))).toBe(false)
    expect(decodeEvents(w.buf, FRAME_HEADER_BYTES, w.pos, 2)).toEqual([E.valueSet(0, 'a', 'b', null), E.expiryRemoved(0, 'a')])
  })

  it('leaves the batch buffer unchanged when a record cannot be encoded', () => {
    const w = new ByteWriter()
    encodeFrame(w, 0, { seq: 1, at: EPOCH, events: [E.databaseFlushed(0)] })
    const before = w.pos
    expect(() => encodeFrame(w, 0, { seq: 2, at: EPOCH, events: [E.databaseFlushed(0), E.databaseFlushed(300)] })).toThrow()
    expect(() => encodeFrame(w, 0, { seq: 2, at: EPOCH, events: [] })).toThrow()
    expect(w.pos).toBe(before)
  })
})

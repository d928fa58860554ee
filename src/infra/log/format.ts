/**
 * The AOF segment format: a 64-byte segment header, then frames, one per log record (one per
 * execution unit: a command, or a whole EXEC). DURABILITY.md §8.2/§8.3, with the differences noted.
 *
 * ## Segment header (64 bytes, little-endian)
 *
 * | off | size | field                                                          |
 * |-----|------|----------------------------------------------------------------|
 * | 0   | 8    | magic `"RDUSTAOF"`                                             |
 * | 8   | 2    | format_version (1)                                             |
 * | 10  | 2    | min_reader_version (1)                                         |
 * | 12  | 4    | header_len (64)                                                |
 * | 16  | 8    | segment_uid: 8 random bytes; the CRC seed of every frame       |
 * | 24  | 8    | segment_seq: 1, 2, 3… one per segment ever created in this dir |
 * | 32  | 8    | first_lsn: the seq the first frame must carry                  |
 * | 40  | 8    | created_unix_ms                                                |
 * | 48  | 1    | checksum_algo (1 = CRC32C)                                     |
 * | 49  | 11   | reserved, zero                                                 |
 * | 60  | 4    | CRC32C of bytes 0..59                                          |
 *
 * A segment is created under a temp name, its header written and fdatasynced, then renamed into
 * place and the directory fsynced, so a segment file never exists with a partial header.
 *
 * The segment being written may end in zeros after its last frame: the writer writes them ahead
 * of its records so that most fdatasyncs leave the file's size alone (aofLog.ts `preallocate`).
 * A reader takes the first `len == 0` as the end of the log; close and rotation cut the zeros,
 * recovery cuts them like a torn tail, and only the last segment may have them.
 *
 * ## Frame (40-byte header + payload)
 *
 * | off | size | field                                                                  |
 * |-----|------|------------------------------------------------------------------------|
 * | 0   | 4    | len: whole frame length, header included; `0` = end of log (zero fill) |
 * | 4   | 4    | crc32c over `segment_uid ‖ bytes[8, len)`                              |
 * | 8   | 8    | lsn = LogRecord.seq; +1 per frame, first frame = header's first_lsn    |
 * | 16  | 1    | kind: 1 = one event, 2 = batch (several events: EXEC, multi-key units) |
 * | 17  | 1    | flags: 0 (bit0 BATCH_CONT is reserved and not written)                 |
 * | 18  | 2    | event schema version (./eventCodec.ts)                                 |
 * | 20  | 4    | count: number of events in the payload (≥ 1)                           |
 * | 24  | 8    | at: the record's wall-clock time (LogRecord.at, signed Unix ms)        |
 * | 32  | 8    | durable_lsn: the highest lsn known durable when this frame was written |
 * | 40  | …    | payload: `count` events (./eventCodec.ts)                              |
 *
 * Differences from DURABILITY.md §8.3: every record carries its time (`at`, the execution unit's
 * `ctx.now`) instead of separate tick frames (kinds 3/4 are not written; a reader refuses them),
 * and the writer's durable point (`durable_lsn`, a per-frame form of §8.5.7's DURABLE pointer):
 * damage to a frame that a later valid frame records as durable is corruption of synced data
 * (refused), while damage that no later frame vouches for can be a power loss that wrote back
 * later pages but not earlier ones (a torn tail). A frame is valid only if
 * `40 ≤ len ≤ MAX_FRAME_BYTES` and it fits in the file — `len` is bounded before anything is
 * allocated, so a torn length can never make the reader allocate gigabytes.
 *
 * Because the CRC is seeded with the segment's random uid, bytes from another segment or an older
 * generation of the same file name never validate, and because it covers the lsn, a frame copied
 * to the wrong place fails the sequence check.
 *
 * @category infra
 */
import { randomBytes } from 'node:crypto'
import { crc32c, crcHex } from './crc32c.js'
import { i64le, u16le, u32le, u64le } from '../littleEndian.js'
import { encodeEvent, EVENT_SCHEMA_VERSION, type ByteWriter } from './eventCodec.js'
import type { LogRecord } from '../../app/eventLog.js'

// ---------------------------------------------------------------------------------------------
// constants
// ---------------------------------------------------------------------------------------------

export const SEGMENT_MAGIC = 'RDUSTAOF'
export const FORMAT_VERSION = 1
export const MIN_READER_VERSION = 1
export const SEGMENT_HEADER_BYTES = 64
export const FRAME_HEADER_BYTES = 40
/** The largest frame a reader accepts (and a writer produces): 1 GiB. */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024
export const CHECKSUM_CRC32C = 1

export const FrameKind = { single: 1, batch: 2 } as const

const TWO_32 = 4294967296

// ---------------------------------------------------------------------------------------------
// segment header
// ---------------------------------------------------------------------------------------------

export interface SegmentHeader {
  readonly formatVersion: number
  readonly minReaderVersion: number
  /** 8 random bytes. */
  readonly uid: Buffer
  readonly segmentSeq: number
  readonly firstLsn: number
  readonly createdAt: number
  readonly checksumAlgo: number
}

/** A fresh header for a new segment (a new random uid). */
export const newSegmentHeader = (segmentSeq: number, firstLsn: number, createdAt: number): SegmentHeader => ({
  formatVersion: FORMAT_VERSION,
  minReaderVersion: MIN_READER_VERSION,
  uid: randomBytes(8),
  segmentSeq,
  firstLsn,
  createdAt,
  checksumAlgo: CHECKSUM_CRC32C,
})

/** The uid as 16 hex digits (as listed in the manifest). */
export const uidHex = (header: SegmentHeader): string => header.uid.toString('hex')

/** The CRC seed of every frame in the segment: CRC32C of the uid bytes. */
export const frameSeed = (header: SegmentHeader): number => crc32c(header.uid)

const writeU64 = (buf: Buffer, v: number, at: number): void => {
  const hi = Math.floor(v / TWO_32)
  buf.writeUInt32LE(v - hi * TWO_32, at)
  buf.writeUInt32LE(hi, at + 4)
}

const readU64 = u64le

const writeI64 = (buf: Buffer, v: number, at: number): void => {
  const hi = Math.floor(v / TWO_32)
  buf.writeUInt32LE(v - hi * TWO_32, at)
  buf.writeInt32LE(hi, at + 4)
}

const readI64 = i64le

export const encodeSegmentHeader = (h: SegmentHeader): Buffer => {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES)
  buf.write(SEGMENT_MAGIC, 0, 8, 'latin1')
  buf.writeUInt16LE(h.formatVersion, 8)
  buf.writeUInt16LE(h.minReaderVersion, 10)
  buf.writeUInt32LE(SEGMENT_HEADER_BYTES, 12)
  h.uid.copy(buf, 16, 0, 8)
  writeU64(buf, h.segmentSeq, 24)
  writeU64(buf, h.firstLsn, 32)
  writeI64(buf, h.createdAt, 40)
  buf[48] = h.checksumAlgo
  buf.writeUInt32LE(crc32c(buf, 0, 0, 60), 60)
  return buf
}

/**
 * Decodes and checks a segment header. Returns an error text (for a refusal message) when the
 * bytes are not a valid header this build can read.
 */
export const decodeSegmentHeader = (buf: Buffer): SegmentHeader | string => {
  if (buf.length < SEGMENT_HEADER_BYTES) return `segment header is truncated (${buf.length} of 64 bytes)`
  if (buf.toString('latin1', 0, 8) !== SEGMENT_MAGIC) return 'not a Redust AOF segment (bad magic)'
  const stored = buf.readUInt32LE(60)
  const actual = crc32c(buf, 0, 0, 60)
  if (stored !== actual) return `segment header checksum mismatch (stored ${crcHex(stored)}, computed ${crcHex(actual)})`
  const minReaderVersion = buf.readUInt16LE(10)
  if (minReaderVersion > FORMAT_VERSION) {
    return `segment needs reader version ${minReaderVersion}; this build reads version ${FORMAT_VERSION}`
  }
  if (buf.readUInt32LE(12) !== SEGMENT_HEADER_BYTES) return `unsupported header length ${buf.readUInt32LE(12)}`
  const checksumAlgo = buf[48]!
  if (checksumAlgo !== CHECKSUM_CRC32C) return `unsupported checksum algorithm ${checksumAlgo}`
  return {
    formatVersion: buf.readUInt16LE(8),
    minReaderVersion,
    uid: Buffer.from(buf.subarray(16, 24)),
    segmentSeq: readU64(buf, 24),
    firstLsn: readU64(buf, 32),
    createdAt: readI64(buf, 40),
    checksumAlgo,
  }
}

// ---------------------------------------------------------------------------------------------
// frames
// ---------------------------------------------------------------------------------------------

/**
 * Appends one record as one frame to `w`, its CRC seeded with `seed` (see {@link frameSeed}), and
 * `durableLsn` the highest lsn the writer knows durable. On any error (a record too large, an
 * event that cannot be encoded) `w` is left as it was and the error is thrown.
 */
export const encodeFrame = (w: ByteWriter, seed: number, record: LogRecord, durableLsn = 0): void => {
  const start = w.pos
  try {
    if (record.events.length === 0) throw new RangeError('a log record needs at least one event')
    w.ensure(FRAME_HEADER_BYTES)
    w.pos += FRAME_HEADER_BYTES
    for (const event of record.events) encodeEvent(w, event)
    const len = w.pos - start
    if (len > MAX_FRAME_BYTES) throw new RangeError(`log record ${record.seq} is ${len} bytes; the limit is ${MAX_FRAME_BYTES}`)
    const buf = w.buf
    buf.writeUInt32LE(len, start)
    writeU64(buf, record.seq, start + 8)
    buf[start + 16] = record.events.length === 1 ? FrameKind.single : FrameKind.batch
    buf[start + 17] = 0
    buf.writeUInt16LE(EVENT_SCHEMA_VERSION, start + 18)
    buf.writeUInt32LE(record.events.length, start + 20)
    writeI64(buf, record.at, start + 24)
    writeU64(buf, durableLsn, start + 32)
    buf.writeUInt32LE(crc32c(buf, seed, start + 8, start + len), start + 4)
  } catch (err) {
    w.pos = start
    throw err
  }
}

/** A frame's decoded header fields; the payload is `buf[payloadStart, payloadEnd)`. */
export interface FrameHeader {
  readonly len: number
  readonly lsn: number
  readonly kind: number
  readonly flags: number
  readonly schema: number
  readonly count: number
  readonly at: number
  readonly durableLsn: number
}

/** Why a frame at some offset is not the next valid frame. */
export type FrameProblem = 'zero-length' | 'bad-length' | 'incomplete' | 'checksum' | 'sequence' | 'unsupported'

/**
 * Checks the length field of the frame at `buf[at]` against the bytes left in the file.
 * Returns the problem, or undefined when a whole frame of that length may follow.
 */
export const checkLength = (len: number, remainingInFile: number): FrameProblem | undefined => {
  if (len === 0) return 'zero-length'
  if (len < FRAME_HEADER_BYTES || len > MAX_FRAME_BYTES) return 'bad-length'
  if (len > remainingInFile) return 'incomplete'
  return undefined
}

/** True when the frame `buf[at, at+len)` carries the CRC it should under `seed`. */
export const checksumMatches = (buf: Buffer, at: number, len: number, seed: number): boolean =>
  u32le(buf, at + 4) === crc32c(buf, seed, at + 8, at + len)

/**
 * The header fields of a frame whose length and CRC were checked, written into `into` when given
 * (the scanner reuses one object per scan) or a new object.
 */
export const readFrameHeader = (
  buf: Buffer,
  at: number,
  len: number,
  into: { -readonly [K in keyof FrameHeader]: FrameHeader[K] } = { len: 0, lsn: 0, kind: 0, flags: 0, schema: 0, count: 0, at: 0, durableLsn: 0 },
): FrameHeader => {
  into.len = len
  into.lsn = readU64(buf, at + 8)
  into.kind = buf[at + 16]!
  into.flags = buf[at + 17]!
  into.schema = u16le(buf, at + 18)
  into.count = u32le(buf, at + 20)
  into.at = readI64(buf, at + 24)
  into.durableLsn = readU64(buf, at + 32)
  return into
}

/** The lsn field alone (for cheap resync filtering before a CRC). */
export const readFrameLsn = (buf: Buffer, at: number): number => readU64(buf, at + 8)

/** The durable_lsn field alone. */
export const readFrameDurableLsn = (buf: Buffer, at: number): number => readU64(buf, at + 32)

/**
 * Why a CRC-valid frame cannot be read by this build (an unknown kind, a continuation flag, a
 * newer event schema, no events), or undefined when it can.
 */
export const unsupportedFrame = (h: FrameHeader): string | undefined => {
  if (h.kind !== FrameKind.single && h.kind !== FrameKind.batch) return `unsupported frame kind ${h.kind}`
  if (h.flags !== 0) return `unsupported frame flags ${h.flags}`
  if (h.schema === 0 || h.schema > EVENT_SCHEMA_VERSION) return `unsupported event schema version ${h.schema}`
  if (h.count === 0) return 'frame holds no events'
  if (h.kind === FrameKind.single && h.count !== 1) return `single-event frame holds ${h.count} events`
  return undefined
}

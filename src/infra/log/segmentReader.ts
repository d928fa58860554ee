/**
 * Scans one AOF segment (format: ./format.ts): checks the header, walks the frames, hands each
 * valid frame to a callback, and reports where the valid prefix ends and why.
 *
 * ## End of log (DURABILITY.md §8.5.3)
 *
 * The valid prefix ends at the first of: end of file; `len == 0`; `len` out of bounds; a frame
 * running past the end of file; a CRC mismatch; an lsn other than the next one; a frame this build
 * cannot read; a payload that does not decode. The scan then **classifies** what follows:
 *
 * - `clean`: the prefix is the whole file.
 * - `torn`: what follows looks like an interrupted append — every remaining byte is zero (the
 *   power-loss zero fill), or at most `tailTolerance` bytes of garbage in which no valid frame
 *   can be found at any byte offset. Recovery may truncate it (only in the last segment).
 * - `corrupt`: anything else — a valid frame appears after the bad one (a flipped bit or an
 *   overwritten record mid-log), a CRC-valid frame with the wrong lsn or an undecodable payload,
 *   or more garbage than the tolerance. Recovery refuses to start.
 *
 * The resync search that tells "torn" from "corrupt" tries every byte offset after the stop
 * point: a cheap filter (plausible length, lsn in the range still possible) then the CRC. Frames
 * are seeded with the segment uid, so a false match has probability about 2^-32 per candidate.
 *
 * Not covered (as in Dragonfly's design): a corrupted **last** frame of the last segment looks
 * exactly like a torn write and is truncated; a durable-lsn pointer (§8.5.7) would close that gap.
 *
 * Reading is chunked (4 MiB reads, grown for larger frames), so segments of any size scan in
 * bounded memory; frames are delivered synchronously as views into the read buffer, valid only
 * during the callback.
 *
 * @category infra
 */
import type { FileSystem } from './fileSystem.js'
import {
  checkLength,
  checksumMatches,
  decodeSegmentHeader,
  frameSeed,
  FRAME_HEADER_BYTES,
  MAX_FRAME_BYTES,
  readFrameHeader,
  readFrameLsn,
  SEGMENT_HEADER_BYTES,
  unsupportedFrame,
  type FrameHeader,
  type FrameProblem,
  type SegmentHeader,
} from './format.js'
import { PayloadError } from './eventCodec.js'

// ---------------------------------------------------------------------------------------------
// types
// ---------------------------------------------------------------------------------------------

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
const EMPTY = Buffer.alloc(0)

/**
 * A valid frame, as handed to the scan callback. The object and its buffer are reused: they are
 * only valid during the call.
 */
export interface FrameView extends FrameHeader {
  /** Byte offset of the frame in the file. */
  readonly offset: number
  readonly buf: Buffer
  readonly payloadStart: number
  readonly payloadEnd: number
}

/**
 * Why the valid prefix ended. `payload`: the callback rejected the frame's events (PayloadError);
 * `stopped`: the callback returned false (the reader had read enough).
 */
export type StopReason = 'eof' | 'stopped' | FrameProblem | 'payload'

export type TailClass = 'clean' | 'torn' | 'corrupt'

export interface SegmentScan {
  readonly file: string
  readonly header: SegmentHeader
  /** File size in bytes when scanned. */
  readonly size: number
  /** Offset just after the last valid frame: where a repair would truncate. */
  readonly end: number
  /** Number of valid frames. */
  readonly records: number
  /** lsn of the last valid frame (header.firstLsn - 1 when there is none). */
  readonly lastLsn: number
  readonly stop: {
    readonly reason: StopReason
    /** Offset of the first invalid byte (= `end`). */
    readonly offset: number
    /** The lsn the invalid frame should have carried. */
    readonly lsn: number
    readonly detail: string
  }
  readonly tail: TailClass
  /** Bytes after `end` (what a truncation discards). */
  readonly tailBytes: number
  /** For a corrupt tail: a valid frame found after the stop point, if any. */
  readonly resync?: { readonly offset: number; readonly lsn: number }
}

/** The segment header itself is unreadable: nothing in the file can be trusted. */
export class SegmentHeaderError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`)
    this.name = 'SegmentHeaderError'
  }
}

export interface ScanOptions {
  /**
   * Called for each valid frame, in order. Return false to stop after this frame; throw a
   * PayloadError to stop at it (its events are invalid).
   */
  readonly onFrame?: (frame: FrameView) => void | boolean
  /** Largest garbage tail classified as torn (default 1 MiB). Zero-filled tails of any size are torn. */
  readonly tailTolerance?: number
  /** Read chunk size (default 4 MiB); tests use small values to exercise chunk boundaries. */
  readonly chunkBytes?: number
}

export const DEFAULT_TAIL_TOLERANCE = 1024 * 1024
const DEFAULT_CHUNK = 4 * 1024 * 1024

// ---------------------------------------------------------------------------------------------
// scan
// ---------------------------------------------------------------------------------------------

/**
 * Scans `file`. Throws {@link SegmentHeaderError} when the header is missing or invalid, and the
 * file system's error when the file cannot be read; everything else is reported in the result.
 */
export const scanSegment = async (fsys: FileSystem, file: string, opts: ScanOptions = {}): Promise<SegmentScan> => {
  const fd = await fsys.open(file, 'r')
  try {
    return await scanOpen(fsys, fd, file, opts)
  } finally {
    await fsys.close(fd)
  }
}

/** Reads exactly `length` bytes at `position` (fewer only at end of file). */
const readAt = async (fsys: FileSystem, fd: number, buf: Buffer, offset: number, length: number, position: number) => {
  let got = 0
  while (got < length) {
    const n = await fsys.read(fd, buf, offset + got, length - got, position + got)
    if (n === 0) break
    got += n
  }
  return got
}

const scanOpen = async (fsys: FileSystem, fd: number, file: string, opts: ScanOptions): Promise<SegmentScan> => {
  const size = await fsys.fsize(fd)
  const headerBuf = Buffer.alloc(SEGMENT_HEADER_BYTES)
  const got = await readAt(fsys, fd, headerBuf, 0, SEGMENT_HEADER_BYTES, 0)
  const header = decodeSegmentHeader(headerBuf.subarray(0, got))
  if (typeof header === 'string') throw new SegmentHeaderError(file, header)
  const seed = frameSeed(header)
  const onFrame = opts.onFrame
  // One view object, refilled for every frame (the callback must not keep it).
  const view: Mutable<FrameView> = { len: 0, lsn: 0, kind: 0, flags: 0, schema: 0, count: 0, at: 0, offset: 0, buf: EMPTY, payloadStart: 0, payloadEnd: 0 }

  let buf = Buffer.allocUnsafe(Math.min(opts.chunkBytes ?? DEFAULT_CHUNK, Math.max(size, FRAME_HEADER_BYTES)))
  let bufStart = SEGMENT_HEADER_BYTES // file offset of buf[0]
  let bufLen = 0 // valid bytes in buf
  let pos = SEGMENT_HEADER_BYTES
  let lsn = header.firstLsn
  let records = 0
  let reason: StopReason = 'eof'
  let detail = ''

  /** Makes buf hold at least `need` bytes from `pos` (the caller knows they exist in the file). */
  const refill = async (need: number): Promise<void> => {
    const keep = bufStart + bufLen - pos
    if (need > buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, buf.length * 2))
      buf.copy(next, 0, pos - bufStart, pos - bufStart + keep)
      buf = next
    } else if (pos !== bufStart) {
      buf.copy(buf, 0, pos - bufStart, pos - bufStart + keep)
    }
    bufStart = pos
    bufLen = keep
    const want = Math.min(buf.length, size - pos) - bufLen
    if (want > 0) bufLen += await readAt(fsys, fd, buf, bufLen, want, pos + bufLen)
    if (bufLen < need) throw new Error(`${file}: file shrank while being scanned`)
  }

  scan: for (;;) {
    // Walk every whole frame already in the buffer without awaiting.
    for (;;) {
      const remaining = size - pos
      if (remaining === 0) break scan
      const rel = pos - bufStart
      const avail = bufLen - rel
      if (remaining < FRAME_HEADER_BYTES) {
        if (avail < remaining) break
        reason = 'incomplete'
        detail = `${remaining} bytes remain, fewer than a frame header`
        break scan
      }
      if (avail < 4) break
      const len = buf.readUInt32LE(rel)
      const problem = checkLength(len, remaining)
      if (problem !== undefined) {
        reason = problem
        detail =
          problem === 'zero-length'
            ? 'frame length is 0'
            : problem === 'bad-length'
              ? `frame length ${len} is out of bounds`
              : `frame of ${len} bytes runs past the end of the file (${remaining} bytes remain)`
        break scan
      }
      if (avail < len) {
        if (len > MAX_FRAME_BYTES) throw new Error('unreachable')
        await refill(len)
        continue
      }
      if (!checksumMatches(buf, rel, len, seed)) {
        reason = 'checksum'
        detail = 'frame checksum mismatch'
        break scan
      }
      const h = readFrameHeader(buf, rel, len, view)
      if (h.lsn !== lsn) {
        reason = 'sequence'
        detail = `frame carries seq ${h.lsn}, expected ${lsn}`
        break scan
      }
      const unsupported = unsupportedFrame(h)
      if (unsupported !== undefined) {
        reason = 'unsupported'
        detail = unsupported
        break scan
      }
      let more: void | boolean = true
      if (onFrame !== undefined) {
        try {
          view.offset = pos
          view.buf = buf
          view.payloadStart = rel + FRAME_HEADER_BYTES
          view.payloadEnd = rel + len
          more = onFrame(view)
        } catch (err) {
          if (!(err instanceof PayloadError)) throw err
          reason = 'payload'
          detail = err.message
          break scan
        }
      }
      pos += len
      lsn++
      records++
      if (more === false) {
        reason = 'stopped'
        break scan
      }
    }
    await refill(Math.min(FRAME_HEADER_BYTES, size - pos))
  }

  const end = pos
  const tailBytes = size - end
  let tail: TailClass = 'clean'
  let resync: { offset: number; lsn: number } | undefined
  if (reason !== 'eof' && reason !== 'stopped') {
    const verdict = await classifyTail(fsys, fd, end, size, lsn, seed, reason, opts.tailTolerance ?? DEFAULT_TAIL_TOLERANCE)
    tail = verdict.tail
    resync = verdict.resync
    if (verdict.note !== undefined) detail = `${detail}; ${verdict.note}`
  }
  return {
    file,
    header,
    size,
    end,
    records,
    lastLsn: lsn - 1,
    stop: { reason, offset: end, lsn, detail },
    tail,
    tailBytes,
    ...(resync === undefined ? {} : { resync }),
  }
}

// ---------------------------------------------------------------------------------------------
// tail classification
// ---------------------------------------------------------------------------------------------

interface Verdict {
  readonly tail: TailClass
  readonly note?: string
  readonly resync?: { offset: number; lsn: number }
}

const classifyTail = async (
  fsys: FileSystem,
  fd: number,
  from: number,
  size: number,
  lsn: number,
  seed: number,
  reason: StopReason,
  tolerance: number,
): Promise<Verdict> => {
  // A CRC-valid frame that is wrong (bad lsn, unreadable kind or payload) was written whole:
  // that is never an interrupted append.
  if (reason === 'sequence' || reason === 'unsupported' || reason === 'payload') return { tail: 'corrupt' }
  const rest = size - from
  if (await allZero(fsys, fd, from, size)) return { tail: 'torn', note: `${rest} zero bytes follow (zero-filled tail)` }
  if (rest > tolerance) {
    return { tail: 'corrupt', note: `${rest} bytes follow, more than the ${tolerance}-byte tail tolerance` }
  }
  const buf = Buffer.allocUnsafe(rest)
  const got = await readAt(fsys, fd, buf, 0, rest, from)
  const found = findValidFrame(buf.subarray(0, got), 1, lsn, seed)
  if (found !== undefined) {
    const at = from + found.offset
    return {
      tail: 'corrupt',
      note: `a valid frame (seq ${found.lsn}) follows at offset ${at}, so this is not a torn tail`,
      resync: { offset: at, lsn: found.lsn },
    }
  }
  return { tail: 'torn', note: `${rest} bytes of an incomplete append follow` }
}

const allZero = async (fsys: FileSystem, fd: number, from: number, size: number): Promise<boolean> => {
  const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, size - from))
  for (let pos = from; pos < size; ) {
    const n = await readAt(fsys, fd, chunk, 0, Math.min(chunk.length, size - pos), pos)
    if (n === 0) return true
    for (let i = 0; i < n; i++) if (chunk[i] !== 0) return false
    pos += n
  }
  return true
}

/**
 * The first offset ≥ `start` in `buf` where a valid frame with an lsn ≥ `minLsn` begins, or
 * undefined. Used only on tails of at most the tolerance (1 MiB by default).
 */
export const findValidFrame = (
  buf: Buffer,
  start: number,
  minLsn: number,
  seed: number,
): { offset: number; lsn: number } | undefined => {
  for (let at = start; at + FRAME_HEADER_BYTES <= buf.length; at++) {
    const len = buf.readUInt32LE(at)
    if (len < FRAME_HEADER_BYTES || len > buf.length - at) continue
    const lsn = readFrameLsn(buf, at)
    // Every frame takes ≥ 32 bytes, so a later frame's lsn is within this window of minLsn.
    if (lsn < minLsn || lsn > minLsn + (at >>> 5) + 1) continue
    if (checksumMatches(buf, at, len, seed)) return { offset: at, lsn }
  }
  return undefined
}

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
 * - `torn`: what follows is what a crash can leave after the last synced record —
 *   - every remaining byte is zero (the power-loss zero fill, or the writer's preallocated
 *     zeros: aofLog.ts `preallocate`), or
 *   - at most `tailTolerance` bytes of garbage in which no valid frame starts at any byte
 *     offset (an interrupted append), or
 *   - valid frames follow, but none of them was written after the damaged frame was durable
 *     (their `durable_lsn` is below its seq): page-cache writeback is not write order, so a power
 *     loss can keep a later unsynced batch and lose or garble an earlier one.
 *   Recovery may truncate it (only in the last segment).
 * - `corrupt`: anything else — a valid frame written when the damaged one was already durable
 *   follows (a flipped bit or an overwritten record in synced data), a CRC-valid frame with the
 *   wrong lsn or an undecodable payload, or more frameless garbage than the tolerance. Recovery
 *   refuses to start.
 *
 * Zeros at the very end of the file are set aside before the last two rules are applied: they
 * are what the writer's preallocation (or a zero fill) leaves after an interrupted append.
 *
 * The resync search tries every byte offset after the stop point: a cheap filter (plausible
 * length, lsn in the range still possible) then the CRC; then it walks valid frames by length.
 * Frames are seeded with the segment uid, so a false match has probability about 2^-32 per
 * candidate.
 *
 * Not covered: damage to frames no later frame vouches for as durable — the last frame, or the
 * last batches written before their fdatasync completed — looks exactly like a power loss and is
 * truncated (and reported). A bit flip in older, synced data is always refused.
 *
 * Reading is chunked (4 MiB reads, grown for larger frames), so segments of any size scan in
 * bounded memory, and the next chunk's read is in flight while the current one is scanned
 * ({@link ReadAhead}); frames are delivered synchronously as views into the read buffer, valid
 * only during the callback.
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
  readFrameDurableLsn,
  readFrameHeader,
  readFrameLsn,
  SEGMENT_HEADER_BYTES,
  unsupportedFrame,
  type FrameHeader,
  type FrameProblem,
  type SegmentHeader,
} from './format.js'
import { PayloadError } from './eventCodec.js'
import { u32le } from '../littleEndian.js'

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
 * `stopped`: the callback returned false (the reader had read enough); `limit`: the scan reached
 * `untilLsn` (the rest of the file is not read).
 */
export type StopReason = 'eof' | 'stopped' | 'limit' | FrameProblem | 'payload'

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
  /** durable_lsn of the last valid frame (0 when there is none): what the writer knew synced. */
  readonly lastDurableLsn: number
  readonly stop: {
    readonly reason: StopReason
    /** Offset of the first invalid byte (= `end`). */
    readonly offset: number
    /** The lsn the invalid frame should have carried. */
    readonly lsn: number
    /** What is wrong, then what follows (the tail classification's reason). */
    readonly detail: string
    /** What is wrong with the frame alone. */
    readonly cause: string
  }
  readonly tail: TailClass
  /** Bytes after `end` (what a truncation discards). */
  readonly tailBytes: number
  /**
   * Every byte after `end` is zero (and there is at least one): what a running writer's
   * preallocation leaves (aofLog.ts `preallocate`), or a power loss's zero fill.
   */
  readonly zeroTail: boolean
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
  /**
   * Resume at a frame boundary a previous scan reported (the offset after a frame and the next
   * lsn), instead of the first frame. `records` then counts from there.
   */
  readonly startAt?: { readonly offset: number; readonly lsn: number }
  /**
   * Stop before the frame that should carry this lsn, without reading it: the records from there
   * on belong to the next segment (a segment is read only up to the next one's first lsn).
   */
  readonly untilLsn?: number
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

/**
 * The bytes of a file from `start` on, in order, with the next chunk's read already in flight
 * while the caller works on the current one: a scan spends about a tenth of its time waiting for
 * reads otherwise (1M-event replay: 56–107 ms of ~900 in 21 reads of 4 MiB).
 *
 * A read that fails surfaces at the `read` call that needs its bytes; `settle` waits for a read
 * still in flight (so the file is not closed under it) and discards its outcome.
 */
class ReadAhead {
  private current: Buffer
  private spare: Buffer
  /** Valid bytes in `current`, and how many of them were handed out. */
  private currentLen = 0
  private used = 0
  /** The read into `spare`, if one is in flight. */
  private pending: Promise<number> | undefined
  /** File position of the next chunk to read. */
  private next: number
  /** Settled: no more reads. */
  private closed = false

  constructor(
    private readonly fsys: FileSystem,
    private readonly fd: number,
    start: number,
    /** The file's size when the scan began; reads never go past it. */
    private readonly size: number,
    chunk: number,
  ) {
    this.current = Buffer.allocUnsafe(chunk)
    this.spare = Buffer.allocUnsafe(chunk)
    this.next = start
    this.readNext()
  }

  /** Copies the next `n` bytes of the file into `target` at `at`; fewer only at end of file. */
  async read(target: Buffer, at: number, n: number): Promise<number> {
    let got = 0
    while (got < n) {
      if (this.used === this.currentLen) {
        if (this.pending === undefined) break
        const len = await this.pending
        ;[this.current, this.spare] = [this.spare, this.current]
        this.currentLen = len
        this.used = 0
        this.readNext()
        if (len === 0) break
      }
      const k = Math.min(n - got, this.currentLen - this.used)
      this.current.copy(target, at + got, this.used, this.used + k)
      this.used += k
      got += k
    }
    return got
  }

  /** Waits for the read in flight, if any, ignoring its outcome. */
  async settle(): Promise<void> {
    const pending = this.pending
    this.pending = undefined
    this.closed = true
    if (pending !== undefined) await pending.catch(() => undefined)
  }

  private readNext(): void {
    if (this.closed || this.next >= this.size) {
      this.pending = undefined
      return
    }
    const want = Math.min(this.spare.length, this.size - this.next)
    const position = this.next
    this.next += want
    const pending = readAt(this.fsys, this.fd, this.spare, 0, want, position).then((len) => {
      // Shorter: the file was cut under the scan (see refill). The next read starts where this
      // one's bytes ended, so nothing is skipped whatever the file does next.
      if (len < want) this.next = position + len
      return len
    })
    // Handled here so a read nobody ends up needing (the scan stopped) is not an unhandled
    // rejection; `read` still sees the failure when it awaits it.
    pending.catch(() => undefined)
    this.pending = pending
  }
}

const scanOpen = async (fsys: FileSystem, fd: number, file: string, opts: ScanOptions): Promise<SegmentScan> => {
  const size = await fsys.fsize(fd)
  const headerBuf = Buffer.alloc(SEGMENT_HEADER_BYTES)
  const got = await readAt(fsys, fd, headerBuf, 0, SEGMENT_HEADER_BYTES, 0)
  const header = decodeSegmentHeader(headerBuf.subarray(0, got))
  if (typeof header === 'string') throw new SegmentHeaderError(file, header)
  const buf = Buffer.allocUnsafe(Math.min(opts.chunkBytes ?? DEFAULT_CHUNK, Math.max(size, FRAME_HEADER_BYTES)))
  const start = opts.startAt ?? { offset: SEGMENT_HEADER_BYTES, lsn: header.firstLsn }
  const ahead = new ReadAhead(fsys, fd, start.offset, size, buf.length)
  try {
    return await scanFrames(fsys, fd, file, opts, header, size, buf, start, ahead)
  } finally {
    await ahead.settle()
  }
}

/** scanOpen's walk over the frames, reading through `ahead`; `buf` is its read buffer. */
const scanFrames = async (
  fsys: FileSystem,
  fd: number,
  file: string,
  opts: ScanOptions,
  header: SegmentHeader,
  size: number,
  buf: Buffer,
  start: { readonly offset: number; readonly lsn: number },
  ahead: ReadAhead,
): Promise<SegmentScan> => {
  const seed = frameSeed(header)
  const onFrame = opts.onFrame
  // One view object, refilled for every frame (the callback must not keep it).
  const view: Mutable<FrameView> = {
    len: 0,
    lsn: 0,
    kind: 0,
    flags: 0,
    schema: 0,
    count: 0,
    at: 0,
    durableLsn: 0,
    offset: 0,
    buf: EMPTY,
    payloadStart: 0,
    payloadEnd: 0,
  }

  let bufStart = start.offset // file offset of buf[0]
  let bufLen = 0 // valid bytes in buf
  let pos = start.offset
  let lsn = start.lsn
  let records = 0
  let lastDurableLsn = 0
  let reason: StopReason = 'eof'
  let detail = ''
  let tailNote: string | undefined

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
    // `ahead` delivers the file in order, and buf always ends where its last read ended.
    if (want > 0) bufLen += await ahead.read(buf, bufLen, want)
    if (bufLen < need) {
      // Shorter than when the scan began: a live writer cut the zeros it writes ahead of its
      // records (aofLog.ts, at rotation and close). Go on to the new end; anything cut before
      // what was already read is another matter.
      const now = await fsys.fsize(fd)
      if (now < pos + bufLen) throw new Error(`${file}: file shrank while being scanned`)
      size = Math.min(size, now)
    }
  }

  const untilLsn = opts.untilLsn ?? Number.POSITIVE_INFINITY
  scan: for (;;) {
    // Walk every whole frame already in the buffer without awaiting.
    for (;;) {
      if (lsn >= untilLsn) {
        reason = 'limit'
        break scan
      }
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
      const len = u32le(buf, rel)
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
      lastDurableLsn = h.durableLsn
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
  let zeroTail = false
  if (reason !== 'eof' && reason !== 'stopped' && reason !== 'limit') {
    const verdict = await classifyTail(fsys, fd, end, size, lsn, seed, reason, opts.tailTolerance ?? DEFAULT_TAIL_TOLERANCE)
    tail = verdict.tail
    zeroTail = verdict.zeros === true
    resync = verdict.resync
    if (verdict.note !== undefined) tailNote = verdict.note
  }
  return {
    file,
    header,
    size,
    end,
    records,
    lastLsn: lsn - 1,
    lastDurableLsn,
    stop: { reason, offset: end, lsn, detail: tailNote === undefined ? detail : `${detail}; ${tailNote}`, cause: detail },
    tail,
    tailBytes,
    zeroTail,
    ...(resync === undefined ? {} : { resync }),
  }
}

// ---------------------------------------------------------------------------------------------
// tail classification
// ---------------------------------------------------------------------------------------------

interface Verdict {
  readonly tail: TailClass
  readonly zeros?: true
  readonly note?: string
  readonly resync?: { offset: number; lsn: number }
}

/** A valid frame found after the stop point. */
interface Found {
  readonly offset: number
  readonly lsn: number
  readonly durableLsn: number
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
  // Zeros at the very end are the writer's preallocation or a power loss's zero fill: they do not
  // count against the tolerance. (The search for frames still runs to the end of the file: a
  // frame's own last bytes may be zeros.)
  const dataEnd = await endOfNonZero(fsys, fd, from, size)
  const zeros = size - dataEnd
  if (dataEnd === from) return { tail: 'torn', zeros: true, note: `${zeros} zero bytes follow (zero-filled tail)` }
  const rest = dataEnd - from
  // A few zeros are as likely the end of a cut-off record as a fill: name only a run of a sector.
  const shown = zeros < 512 ? size - from : rest
  const thenZeros = zeros < 512 ? '' : `, then ${zeros} zero bytes`
  const after = await framesAfter(fsys, fd, from, size, lsn, seed)
  if (after.first === undefined) {
    if (rest > tolerance) {
      return { tail: 'corrupt', note: `${shown} bytes follow${thenZeros}, more than the ${tolerance}-byte tail tolerance` }
    }
    return { tail: 'torn', note: `${shown} bytes of an incomplete append follow${thenZeros}` }
  }
  const resync = { offset: after.first.offset, lsn: after.first.lsn }
  const v = after.vouching
  if (v !== undefined) {
    return {
      tail: 'corrupt',
      note:
        `a valid frame (seq ${v.lsn}) at offset ${v.offset} was written when seq ${v.durableLsn} was durable, ` +
        'so this damages synced data: it is not a torn tail',
      resync,
    }
  }
  return {
    tail: 'torn',
    note:
      `valid frames follow (seq ${after.first.lsn} at offset ${after.first.offset}) but none was written after seq ${lsn} ` +
      'was durable: unsynced data lost or garbled by a power loss',
    resync,
  }
}

/** The offset just past the last non-zero byte in [from, size), or `from` if there is none. */
const endOfNonZero = async (fsys: FileSystem, fd: number, from: number, size: number): Promise<number> => {
  const chunk = Buffer.allocUnsafe(Math.min(1024 * 1024, size - from))
  for (let end = size; end > from; ) {
    const start = Math.max(from, end - chunk.length)
    const n = await readAt(fsys, fd, chunk, 0, end - start, start)
    for (let i = n - 1; i >= 0; i--) if (chunk[i] !== 0) return start + i + 1
    end = start
  }
  return from
}

/**
 * Valid frames after a stop at `from` (where seq `lsn` was expected): the first one, and the
 * first one whose durable_lsn covers `lsn` (which proves the damaged frame had been synced). Tries
 * every byte offset (cheap filter, then the CRC), then walks valid frames by their length; reads
 * the rest of the file in chunks, so any size can be searched. Stops at the first vouching frame.
 */
const framesAfter = async (
  fsys: FileSystem,
  fd: number,
  from: number,
  size: number,
  lsn: number,
  seed: number,
): Promise<{ first?: Found; vouching?: Found }> => {
  let buf = Buffer.allocUnsafe(Math.min(DEFAULT_CHUNK, Math.max(FRAME_HEADER_BYTES, size - from)))
  let bufStart = 0
  let bufLen = 0
  /** Makes buf hold [pos, pos + n) (n ≤ size - pos); returns pos's index in buf. */
  const window = async (pos: number, n: number): Promise<number> => {
    if (pos >= bufStart && pos + n <= bufStart + bufLen) return pos - bufStart
    if (n > buf.length) buf = Buffer.allocUnsafe(n)
    bufStart = pos
    bufLen = await readAt(fsys, fd, buf, 0, Math.min(buf.length, size - pos), pos)
    return 0
  }
  let first: Found | undefined
  for (let at = from + 1; at + FRAME_HEADER_BYTES <= size; ) {
    let rel = await window(at, FRAME_HEADER_BYTES)
    const len = u32le(buf, rel)
    const frameLsn = readFrameLsn(buf, rel)
    // Every frame takes ≥ FRAME_HEADER_BYTES, so a later frame's lsn is within this window.
    const plausible =
      len >= FRAME_HEADER_BYTES && len <= size - at && frameLsn >= lsn && frameLsn <= lsn + Math.floor((at - from) / FRAME_HEADER_BYTES) + 1
    if (plausible) {
      rel = await window(at, len)
      if (checksumMatches(buf, rel, len, seed)) {
        const found: Found = { offset: at, lsn: frameLsn, durableLsn: readFrameDurableLsn(buf, rel) }
        first ??= found
        if (found.durableLsn >= lsn) return { first, vouching: found }
        at += len
        continue
      }
    }
    at++
  }
  return first === undefined ? {} : { first }
}

/**
 * The first offset ≥ `start` in `buf` where a valid frame with an lsn ≥ `minLsn` begins, or
 * undefined (used by the inspection CLI to count the records after a damaged spot).
 */
export const findValidFrame = (
  buf: Buffer,
  start: number,
  minLsn: number,
  seed: number,
): { offset: number; lsn: number; durableLsn: number } | undefined => {
  for (let at = start; at + FRAME_HEADER_BYTES <= buf.length; at++) {
    const len = u32le(buf, at)
    if (len < FRAME_HEADER_BYTES || len > buf.length - at) continue
    const lsn = readFrameLsn(buf, at)
    // Every frame takes ≥ FRAME_HEADER_BYTES bytes, so a later frame's lsn is within this window.
    if (lsn < minLsn || lsn > minLsn + Math.floor(at / FRAME_HEADER_BYTES) + 1) continue
    if (checksumMatches(buf, at, len, seed)) return { offset: at, lsn, durableLsn: readFrameDurableLsn(buf, at) }
  }
  return undefined
}

/**
 * Following a live server's log (`redust log show --follow`) by polling its files.
 *
 * The tailer keeps the segment that holds the next expected record open and, on each poll, reads
 * what was appended since the last poll, delivering every complete, valid frame (same checks as
 * recovery: length bounds, CRC seeded with the segment uid, consecutive seq, decodable payload).
 * An incomplete frame at the end is a write in progress: it is read again on the next poll.
 *
 * Rotation: at a checkpoint the server closes the old segment and lists a new one (first seq =
 * the cut + 1) in the manifest **before** writing to it. When the manifest lists a segment that
 * starts at or before the next expected seq, newer than the one being read, the tailer reads the
 * old one to its end one last time and switches. The old file is usually deleted by then; the open
 * descriptor keeps it readable. A segment is read only up to the next listed one's first seq
 * (after a crash the old one may hold superseded bytes past it). If the reader fell so far behind
 * that the records it expects were compacted away, it reports the gap and continues with the
 * oldest listed segment.
 *
 * @category cli
 */
import * as path from 'node:path'
import type { LogRecord } from '../../eventLog.js'
import { decodeEvents, PayloadError } from '../../../infra/log/eventCodec.js'
import { errorCode, type FileSystem } from '../../../infra/log/fileSystem.js'
import {
  checkLength,
  checksumMatches,
  decodeSegmentHeader,
  FRAME_HEADER_BYTES,
  frameSeed,
  readFrameHeader,
  SEGMENT_HEADER_BYTES,
  uidHex,
  unsupportedFrame,
} from '../../../infra/log/format.js'
import type { ManifestSegment } from '../../../infra/log/manifest.js'
import { readManifestOf } from './dataDir.js'

interface Open {
  readonly entry: ManifestSegment
  readonly fd: number
  readonly seed: number
  /** Offset just after the last frame delivered. */
  pos: number
  /**
   * The first seq of the next listed segment, once the manifest lists one: this segment is read
   * only up to it (after a crash, recovery copies unvouched records to a new segment and leaves
   * superseded bytes behind in the old one, as walkLog's rule says).
   */
  until: number
}

export interface TailEvents {
  readonly onRecord: (record: LogRecord) => void
  /** Records nextSeq..to-1 can no longer be read (compacted into a snapshot). */
  readonly onGap: (from: number, to: number) => void
  /** Something that may be transient (a damaged frame, a header not yet readable). */
  readonly onWarning: (text: string) => void
}

const MAX_READ = 16 * 1024 * 1024

export class LogTailer {
  private current: Open | undefined
  private lastWarning = ''

  constructor(
    private readonly fsys: FileSystem,
    private readonly dir: string,
    /** The next seq to deliver. */
    private nextSeq: number,
    private readonly events: TailEvents,
  ) {}

  get next(): number {
    return this.nextSeq
  }

  /** One poll: delivers what was appended since the last one. */
  async poll(): Promise<void> {
    if (this.current === undefined && !(await this.openNext())) return
    const cur = this.current!
    await this.readNew(cur)
    const manifest = await readManifestOf(this.dir)
    const newer = manifest.segments.filter((s) => s.segmentSeq > cur.entry.segmentSeq)
    if (newer.length === 0) return
    cur.until = Math.min(cur.until, ...newer.map((s) => s.firstLsn))
    // A newer segment is listed only once this one is complete: drain it, then move on.
    await this.readNew(cur)
    const listed = manifest.segments.some((s) => s.file === cur.entry.file && s.uid === cur.entry.uid)
    if (listed && !newer.some((s) => s.firstLsn <= this.nextSeq)) return
    await this.close()
    await this.openNext()
  }

  async close(): Promise<void> {
    const cur = this.current
    this.current = undefined
    if (cur !== undefined) await this.fsys.close(cur.fd).catch(() => undefined)
  }

  private warn(text: string): void {
    if (text === this.lastWarning) return
    this.lastWarning = text
    this.events.onWarning(text)
  }

  /** Opens the listed segment holding nextSeq (or the oldest, after a gap). */
  private async openNext(): Promise<boolean> {
    const manifest = await readManifestOf(this.dir)
    let entry: ManifestSegment | undefined
    for (const s of manifest.segments) if (s.firstLsn <= this.nextSeq) entry = s
    if (entry === undefined) {
      entry = manifest.segments[0]
      if (entry === undefined) return false
      this.events.onGap(this.nextSeq, entry.firstLsn)
      this.nextSeq = entry.firstLsn
    }
    let fd: number
    try {
      fd = await this.fsys.open(path.join(this.dir, entry.file), 'r')
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return false // deleted between manifest and open: retry
      throw err
    }
    const buf = Buffer.alloc(SEGMENT_HEADER_BYTES)
    const got = await this.fsys.read(fd, buf, 0, SEGMENT_HEADER_BYTES, 0)
    const header = decodeSegmentHeader(buf.subarray(0, got))
    if (typeof header === 'string' || uidHex(header) !== entry.uid) {
      await this.fsys.close(fd)
      this.warn(`warning: ${entry.file}: ${typeof header === 'string' ? header : 'uid differs from the manifest'}; retrying`)
      return false
    }
    const next = manifest.segments.filter((s) => s.segmentSeq > entry.segmentSeq)
    const until = Math.min(Number.POSITIVE_INFINITY, ...next.map((s) => s.firstLsn))
    this.current = { entry, fd, seed: frameSeed(header), pos: SEGMENT_HEADER_BYTES, until }
    return true
  }

  private async readNew(cur: Open): Promise<void> {
    for (;;) {
      if (this.nextSeq >= cur.until) return
      const size = await this.fsys.fsize(cur.fd)
      const avail = size - cur.pos
      if (avail < FRAME_HEADER_BYTES) return
      // Read at least one whole frame when it is larger than MAX_READ.
      const head = Buffer.alloc(4)
      await this.fsys.read(cur.fd, head, 0, 4, cur.pos)
      const want = Math.min(avail, Math.max(MAX_READ, head.readUInt32LE(0)))
      const buf = Buffer.allocUnsafe(want)
      let n = 0
      while (n < want) {
        const r = await this.fsys.read(cur.fd, buf, n, want - n, cur.pos + n)
        if (r === 0) break
        n += r
      }
      let at = 0
      while (n - at >= FRAME_HEADER_BYTES && this.nextSeq < cur.until) {
        const len = buf.readUInt32LE(at)
        const problem = checkLength(len, n - at)
        if (problem === 'incomplete') break
        const bad = (why: string): void => this.warn(`warning: ${cur.entry.file}: ${why} at byte offset ${cur.pos + at} (record seq ${this.nextSeq}); waiting`)
        // Zeros: the end of what the server has written so far (it writes ahead of its records).
        if (problem === 'zero-length') return
        if (problem !== undefined) return bad(`frame length ${len} is out of bounds`)
        if (!checksumMatches(buf, at, len, cur.seed)) return bad('frame checksum mismatch')
        const h = readFrameHeader(buf, at, len)
        if (h.lsn < this.nextSeq) {
          at += len // delivered before (the segment was reopened)
          continue
        }
        if (h.lsn !== this.nextSeq) return bad(`frame carries seq ${h.lsn}, expected ${this.nextSeq}`)
        const unsupported = unsupportedFrame(h)
        if (unsupported !== undefined) return bad(unsupported)
        let events
        try {
          events = decodeEvents(buf, at + FRAME_HEADER_BYTES, at + len, h.count)
        } catch (err) {
          if (err instanceof PayloadError) return bad(err.message)
          throw err
        }
        this.events.onRecord({ seq: h.lsn, at: h.at, events })
        this.nextSeq++
        at += len
      }
      cur.pos += at
      if (at === 0 || n < want) return
    }
  }
}

/**
 * Reading a whole data directory's log: the manifest, then every segment in order, with the
 * continuity rules of DURABILITY.md §8.5. Shared by recovery (app/recovery.ts), and the inspection
 * CLI (`redust log show | stats | verify [--fix]`, point-in-time replay).
 *
 * ## Rules (the walk stops at the first problem)
 *
 * 1. Segments are read in manifest order. Each header must match its manifest line (segment
 *    seq, first lsn, uid).
 * 2. The first segment must start at or before `snapshot.seq + 1`; records at or below the
 *    snapshot's seq are already in the snapshot and are skipped (unless `includeCovered`). Each
 *    later segment must start exactly after the previous one's last record; a segment is read
 *    only up to the next one's first seq (after a crash, recovery moves records nothing vouched
 *    for to a new segment and leaves the old bytes unread).
 * 3. Inside a segment, frames must be valid and consecutive (./segmentReader.ts).
 * 4. Only the **last** segment may end in a torn tail (problem `torn-tail`, fixable by
 *    truncation), and only above the manifest's `durable` seq. Anything else — a bad frame before the tail, a torn non-last segment, a bad
 *    header, a missing file, a gap — is a `corrupt` problem: start-up refuses.
 * 5. The last segment must reach the snapshot's seq (otherwise the next append would leave a gap).
 *
 * @category infra
 */
import * as path from 'node:path'
import type { LogRecord } from '../../app/eventLog.js'
import type { Event } from '../../domain/event.js'
import { decodeEvents, decodeOnlyEvent } from './eventCodec.js'
import { errorCode, writeFileAtomic, type FileSystem } from './fileSystem.js'
import { newSegmentHeader, encodeSegmentHeader, uidHex } from './format.js'
import {
  MANIFEST_NAME,
  parseManifest,
  segmentFileName,
  writeManifest,
  type Manifest,
  type ManifestSegment,
} from './manifest.js'
import { scanSegment, SegmentHeaderError, type SegmentScan } from './segmentReader.js'

// ---------------------------------------------------------------------------------------------
// types
// ---------------------------------------------------------------------------------------------

/** Where a record lives on disk. */
export interface RecordLocation {
  /** Segment file name (inside the data directory). */
  readonly file: string
  /** Byte offset of the record's frame in that file. */
  readonly offset: number
  /** Frame length in bytes. */
  readonly length: number
}

export type ProblemKind = 'torn-tail' | 'corrupt-frame' | 'segment-header' | 'missing-segment' | 'sequence-gap'

/** The first thing wrong with the log. */
export interface LogProblem {
  readonly kind: ProblemKind
  /** Segment file name. */
  readonly file: string
  /** Index of the segment in the manifest. */
  readonly segment: number
  /** Byte offset in `file` where the valid data ends. */
  readonly offset: number
  /** The record seq that was expected there. */
  readonly seq: number
  readonly detail: string
  /** Bytes from `offset` to the end of the file. */
  readonly tailBytes: number
  /** A torn tail that is only zeros (SegmentScan.zeroTail): nothing but the zeros is cut. */
  readonly zeroFilled?: boolean
}

export interface SegmentReport {
  readonly entry: ManifestSegment
  /** Undefined when the file is missing or its header is unreadable. */
  readonly scan?: SegmentScan
}

export interface WalkReport {
  readonly manifest: Manifest
  readonly segments: ReadonlyArray<SegmentReport>
  /** Records delivered to `onRecord`. */
  readonly records: number
  readonly events: number
  /** The last seq the directory holds (snapshot or log), as far as the walk got. */
  readonly lastSeq: number
  /** True when `onRecord` asked to stop. */
  readonly stopped: boolean
  readonly problem?: LogProblem
}

export interface WalkOptions {
  /**
   * Receives each record (events decoded and validated) and where it lies; the location object is
   * reused, so copy its fields to keep them. Return `false` to stop the walk.
   */
  readonly onRecord?: (record: LogRecord, where: RecordLocation) => void | boolean
  /**
   * The lean form of `onRecord`, for recovery's replay: receives each record's events (decoded
   * and validated, all of them before the call) and its seq, with no record object built. The
   * array is reused: it is valid only during the call. Return `false` to stop the walk. When
   * given, `onRecord` is not called.
   */
  readonly onEvents?: (events: ReadonlyArray<Event>, seq: number) => void | boolean
  /** Also deliver records the snapshot already covers (history, for the CLI). */
  readonly includeCovered?: boolean
  /** Largest garbage tail classified as torn (default 1 MiB). */
  readonly tailTolerance?: number
  readonly chunkBytes?: number
}

// ---------------------------------------------------------------------------------------------
// manifest and directory
// ---------------------------------------------------------------------------------------------

/** Reads and parses `dir/MANIFEST`. Throws ManifestError, or the fs error (ENOENT when absent). */
export const readManifest = async (fsys: FileSystem, dir: string): Promise<Manifest> =>
  parseManifest((await fsys.readFile(path.join(dir, MANIFEST_NAME))).toString('utf8'))

// ---------------------------------------------------------------------------------------------
// walk
// ---------------------------------------------------------------------------------------------

/**
 * Walks the log of `dir` described by `manifest`, delivering records after the snapshot (or all,
 * with `includeCovered`). Never modifies anything. Errors reading files (other than a missing
 * segment) propagate.
 */
export const walkLog = async (
  fsys: FileSystem,
  dir: string,
  manifest: Manifest,
  opts: WalkOptions = {},
): Promise<WalkReport> => {
  const snapSeq = manifest.snapshot?.seq ?? 0
  const segments: SegmentReport[] = []
  let records = 0
  let events = 0
  let lastSeq = snapSeq
  let stopped = false
  let problem: LogProblem | undefined
  let expectedFirst: number | undefined // first lsn the next segment must have (after the first)
  const onRecord = opts.onRecord
  const onEvents = opts.onEvents
  // onEvents' array for one-event records (most of them), refilled per record.
  const onlyEvent: Event[] = []

  for (let i = 0; i < manifest.segments.length && problem === undefined && !stopped; i++) {
    const entry = manifest.segments[i]!
    const file = entry.file
    const isLast = i === manifest.segments.length - 1
    const at = (kind: ProblemKind, offset: number, seq: number, detail: string, tailBytes = 0): LogProblem => ({
      kind,
      file,
      segment: i,
      offset,
      seq,
      detail,
      tailBytes,
    })
    // Continuity of segment starts, checked against the manifest before reading.
    const needFirst = expectedFirst ?? snapSeq + 1
    if (expectedFirst !== undefined ? entry.firstLsn !== needFirst : entry.firstLsn > needFirst) {
      problem = at('sequence-gap', 0, needFirst, `segment starts at seq ${entry.firstLsn}, expected ${needFirst}`)
      segments.push({ entry })
      break
    }
    // One location object per segment, refilled per record (valid only during the callback).
    const where = { file, offset: 0, length: 0 }
    let scan: SegmentScan
    try {
      const following = manifest.segments[i + 1]
      scan = await scanSegment(fsys, path.join(dir, file), {
        ...(following === undefined ? {} : { untilLsn: following.firstLsn }),
        ...(opts.tailTolerance === undefined ? {} : { tailTolerance: opts.tailTolerance }),
        ...(opts.chunkBytes === undefined ? {} : { chunkBytes: opts.chunkBytes }),
        onFrame: (f) => {
          if (f.lsn <= snapSeq && opts.includeCovered !== true) return true
          if (onEvents !== undefined) {
            let evs: ReadonlyArray<Event>
            if (f.count === 1) {
              onlyEvent[0] = decodeOnlyEvent(f.buf, f.payloadStart, f.payloadEnd)
              evs = onlyEvent
            } else evs = decodeEvents(f.buf, f.payloadStart, f.payloadEnd, f.count)
            records++
            events += evs.length
            return onEvents(evs, f.lsn) !== false
          }
          if (onRecord === undefined) {
            // Still decode: a payload that does not decode is corruption.
            decodeEvents(f.buf, f.payloadStart, f.payloadEnd, f.count)
            return true
          }
          const evs = decodeEvents(f.buf, f.payloadStart, f.payloadEnd, f.count)
          records++
          events += evs.length
          where.offset = f.offset
          where.length = f.len
          return onRecord({ seq: f.lsn, at: f.at, events: evs }, where) !== false
        },
      })
    } catch (err) {
      if (err instanceof SegmentHeaderError) {
        problem = at('segment-header', 0, needFirst, err.detail)
      } else if (errorCode(err) === 'ENOENT') {
        problem = at('missing-segment', 0, needFirst, 'segment file listed in the manifest is missing')
      } else throw err
      segments.push({ entry })
      break
    }
    segments.push({ entry, scan })
    const h = scan.header
    const mismatch =
      h.segmentSeq !== entry.segmentSeq
        ? `header segment seq ${h.segmentSeq}, manifest says ${entry.segmentSeq}`
        : h.firstLsn !== entry.firstLsn
          ? `header first seq ${h.firstLsn}, manifest says ${entry.firstLsn}`
          : uidHex(h) !== entry.uid
            ? `header uid ${uidHex(h)}, manifest says ${entry.uid} (a different file)`
            : undefined
    if (mismatch !== undefined) {
      problem = at('segment-header', 0, needFirst, mismatch)
      break
    }
    if (scan.stop.reason === 'stopped') {
      stopped = true
      lastSeq = Math.max(lastSeq, scan.lastLsn)
      break
    }
    lastSeq = Math.max(lastSeq, scan.lastLsn)
    if (scan.stop.reason !== 'eof' && scan.stop.reason !== 'limit') {
      const durable = manifest.durable ?? 0
      const synced = scan.stop.lsn <= durable
      const torn = isLast && scan.tail === 'torn' && !synced
      const detail = torn
        ? scan.stop.detail
        : !isLast
          ? `${scan.stop.detail} (not the last segment, so not a torn tail)`
          : synced && scan.tail === 'torn'
            ? `${scan.stop.cause}${scan.resync === undefined ? '' : `; a valid frame (seq ${scan.resync.lsn}) follows at offset ${scan.resync.offset}`}` +
              `; the manifest records seq ${durable} as durable, so this damages synced data: it is not a torn tail`
            : scan.stop.detail
      problem = {
        ...at(torn ? 'torn-tail' : 'corrupt-frame', scan.end, scan.stop.lsn, detail, scan.tailBytes),
        ...(torn && scan.zeroTail ? { zeroFilled: true } : {}),
      }
      break
    }
    expectedFirst = scan.lastLsn + 1
    if (isLast && scan.lastLsn < snapSeq) {
      problem = at(
        'sequence-gap',
        scan.end,
        scan.lastLsn + 1,
        `the last segment ends at seq ${scan.lastLsn}, before the snapshot's seq ${snapSeq}`,
      )
    }
  }
  return {
    manifest,
    segments,
    records,
    events,
    lastSeq,
    stopped,
    ...(problem === undefined ? {} : { problem }),
  }
}

/** Human-readable one-line location of a problem, for messages. */
export const describeProblem = (p: LogProblem): string =>
  `${p.file}: ${p.kind} at byte offset ${p.offset} (record seq ${p.seq}): ${p.detail}`

// ---------------------------------------------------------------------------------------------
// repair (`redust log verify --fix`)
// ---------------------------------------------------------------------------------------------

export interface FixReport {
  /** The problem that was repaired, if any. */
  readonly problem?: LogProblem
  /** The segment truncated, the offset it was cut at and the bytes removed. */
  readonly truncated?: { readonly file: string; readonly at: number; readonly bytes: number }
  /** Segment files dropped from the manifest (renamed `<name>.discarded`, not deleted). */
  readonly discarded: ReadonlyArray<string>
  /** A fresh empty segment created because no segment was left. */
  readonly created?: string
  /** The last seq the repaired directory holds. */
  readonly lastSeq: number
}

/**
 * Repairs the log of `dir` at its first problem, like `redis-check-aof --fix`: the segment holding
 * the problem is truncated at the last valid frame and every later segment is dropped from the
 * manifest (renamed `.discarded`). A segment with an unreadable header, missing, or out of
 * sequence is dropped itself. **This discards every record after the problem**; the report says
 * which. The manifest and snapshot themselves cannot be repaired here (refused with an error).
 */
export const fixLog = async (fsys: FileSystem, dir: string, now: number): Promise<FixReport> => {
  const manifest = await readManifest(fsys, dir)
  const walk = await walkLog(fsys, dir, manifest)
  const problem = walk.problem
  if (problem === undefined) return { discarded: [], lastSeq: walk.lastSeq }
  const keepThrough = problem.kind === 'torn-tail' || problem.kind === 'corrupt-frame' ? problem.segment : problem.segment - 1
  let truncated: FixReport['truncated']
  if (keepThrough === problem.segment) {
    const file = path.join(dir, problem.file)
    const fd = await fsys.open(file, 'r+')
    try {
      await fsys.ftruncate(fd, problem.offset)
      await fsys.fdatasync(fd)
    } finally {
      await fsys.close(fd)
    }
    truncated = { file: problem.file, at: problem.offset, bytes: problem.tailBytes }
  }
  const kept = manifest.segments.slice(0, keepThrough + 1)
  const dropped = manifest.segments.slice(keepThrough + 1)
  let created: string | undefined
  let lastSeq = walk.lastSeq
  if (kept.length === 0) {
    // Nothing readable is left: continue after the snapshot in a fresh segment.
    const snapSeq = manifest.snapshot?.seq ?? 0
    const segmentSeq = Math.max(...manifest.segments.map((s) => s.segmentSeq)) + 1
    const header = newSegmentHeader(segmentSeq, snapSeq + 1, now)
    created = segmentFileName(segmentSeq)
    await writeFileAtomic(fsys, dir, created, encodeSegmentHeader(header))
    kept.push({ file: created, segmentSeq, firstLsn: snapSeq + 1, uid: uidHex(header) })
    lastSeq = snapSeq
  }
  if (dropped.length > 0 || created !== undefined) {
    await writeManifest(fsys, dir, { snapshot: manifest.snapshot, segments: kept })
    for (const s of dropped) {
      await fsys.rename(path.join(dir, s.file), path.join(dir, `${s.file}.discarded`)).catch((err: unknown) => {
        if (errorCode(err) !== 'ENOENT') throw err
      })
    }
    await fsys.fsyncDir(dir)
  }
  return {
    problem,
    ...(truncated === undefined ? {} : { truncated }),
    discarded: dropped.map((s) => s.file),
    ...(created === undefined ? {} : { created }),
    lastSeq,
  }
}

/**
 * Recovery at start: manifest → snapshot → replay of the AOF tail through `evolve` → (state, seq).
 * Shared by the server (before it opens the log for writing) and the inspection CLI (read-only,
 * point-in-time replay).
 *
 * ## Rules (DURABILITY.md §7.6, §8.5; formats in docs/durability.md)
 *
 * 1. Empty or missing directory: create it, a first segment and a manifest; start empty.
 * 2. Data files (a snapshot, or a segment holding records) but no MANIFEST: **refuse** — never
 *    start empty over existing data (redis#12762). A lone header-only segment (a crash during the
 *    very first start) is not data and is replaced.
 * 3. MANIFEST unreadable or failing its CRC: refuse. Snapshot listed but missing, failing its
 *    trailer CRC/count, or not the one the manifest names: refuse.
 * 4. Replay records after the snapshot's seq, segment by segment, through `evolve`'s definition
 *    (`applyEvent`), each record as soon as it is read, through one writer that gives up the loaded
 *    state (`Keyspace.ownedUpdate`). Replay never reads the clock and never expires
 *    keys: deadlines stay absolute; the engine's first expiry sweep after start removes keys
 *    whose deadline passed while the server was down, logging `KeyExpired` events.
 * 5. Torn tail — a partial record, or a zero-filled or garbage tail up to the tolerance, at the
 *    end of the **last** segment: truncate back to the last whole record (fdatasync), log the
 *    discarded bytes, continue. A transaction is one record, so it is all there or all gone.
 * 6. Anything else (bad checksum or seq gap before the tail, damaged header, missing segment):
 *    refuse with a {@link RecoveryError} naming the file, byte offset and record seq and pointing
 *    to `redust log verify --fix`.
 * 7. Before the log accepts writes, everything replayed is made durable: if the last segment holds
 *    records no frame or manifest vouches for as durable (a crash rather than a clean close),
 *    those records are copied to a new segment listed after it (which supersedes its bytes from
 *    there on); otherwise the segments are fdatasynced. After a process crash the previous process's unsynced records live only in the
 *    page cache — possibly in pages a failed fdatasync marked clean, which no later fdatasync
 *    would write (fsyncgate). The manifest then records the replayed seq as durable.
 *
 * @category app
 */
import * as path from 'node:path'
import * as Keyspace from '../domain/keyspace.js'
import type { State } from '../domain/keyspace.js'
import { applyEvent } from '../domain/evolve.js'
import type { LogRecord } from './eventLog.js'
import { AofLog, silentSink, type AofLogOptions, type LogPosition, type LogSink } from '../infra/log/aofLog.js'
import { errorCode, nodeFileSystem, writeFully, type FileSystem } from '../infra/log/fileSystem.js'
import { crc32c } from '../infra/log/crc32c.js'
import {
  encodeSegmentHeader,
  frameSeed,
  FRAME_HEADER_BYTES,
  newSegmentHeader,
  SEGMENT_HEADER_BYTES,
  type SegmentHeader,
} from '../infra/log/format.js'
import { describeProblem, walkLog } from '../infra/log/logReader.js'
import {
  MANIFEST_NAME,
  ManifestError,
  parseManifest,
  SEGMENT_FILE,
  segmentFileName,
  SNAPSHOT_FILE,
  writeManifest,
  type Manifest,
  type ManifestSegment,
} from '../infra/log/manifest.js'
import { createSegment, manifestEntry } from '../infra/log/segmentFile.js'
import { scanSegment } from '../infra/log/segmentReader.js'
import { loadSnapshot, SnapshotError } from '../infra/snapshot/snapshot.js'

// ---------------------------------------------------------------------------------------------
// types
// ---------------------------------------------------------------------------------------------

export interface RecoveryStats {
  /** Keys loaded from the snapshot. */
  readonly keysLoaded: number
  /** Log records replayed after the snapshot. */
  readonly recordsReplayed: number
  readonly eventsReplayed: number
  /** Wall-clock duration of the recovery in ms (measurement only). */
  readonly ms: number
  /** Bytes cut from a torn tail (0 when the log ended cleanly). */
  readonly truncatedBytes: number
  /** The seq the snapshot covers (0 without a snapshot). */
  readonly snapshotSeq: number
}

export interface Recovered {
  readonly state: State
  /** The last seq applied; the engine's next record is seq + 1. */
  readonly seq: number
  readonly stats: RecoveryStats
  /** Where the log continues (for `AofLog.open`). */
  readonly position: LogPosition
}

export interface RecoverOptions {
  /** Inspect only: never create, truncate or delete anything; a torn tail is reported, not cut. */
  readonly readOnly?: boolean
  /** Point-in-time replay (with `readOnly` only): apply records up to this seq. */
  readonly untilSeq?: number
  /** Largest garbage tail treated as torn (default 1 MiB). Zero-filled tails of any size are. */
  readonly tailTolerance?: number
  /** Wall clock for the header of a first segment. Default Date.now. */
  readonly now?: () => number
}

/**
 * Why a loaded snapshot is not the one the manifest lists (seq, key count or trailer CRC), or
 * undefined when it is. Shared by recovery and the inspection CLI.
 */
export const snapshotMismatch = (
  loaded: { readonly seq: number; readonly count: number; readonly crc: number },
  listed: { readonly seq: number; readonly count: number; readonly crc: number },
): string | undefined =>
  loaded.seq !== listed.seq
    ? `it covers seq ${loaded.seq}, the manifest says ${listed.seq}`
    : loaded.count !== listed.count
      ? `it holds ${loaded.count} keys, the manifest says ${listed.count}`
      : loaded.crc !== listed.crc
        ? 'its checksum differs from the one the manifest records (a different file)'
        : undefined

/** Start-up refused: the directory holds damaged or inconsistent files. */
export class RecoveryError extends Error {
  constructor(
    /** Path of the damaged file. */
    readonly file: string,
    readonly offset: number,
    /** The record seq concerned (0 when not about a record). */
    readonly seq: number,
    readonly detail: string,
    advice = 'Run `redust log verify --fix` to inspect and repair it (repair may discard records after the damage).',
  ) {
    super(`Refusing to start: ${file} is damaged at byte offset ${offset} (record seq ${seq}): ${detail}. ${advice}`)
    this.name = 'RecoveryError'
  }
}

// ---------------------------------------------------------------------------------------------
// replay
// ---------------------------------------------------------------------------------------------

/**
 * Applies records to a state with `applyEvent` (evolve's definition), as one update: the result
 * equals `fold` over every event. Pure: the input state stays valid.
 */
export const applyRecords = (state: State, records: ReadonlyArray<LogRecord>): State =>
  Keyspace.update(state, (w) => {
    for (const record of records) for (const event of record.events) applyEvent(w, event)
  })

// ---------------------------------------------------------------------------------------------
// recover
// ---------------------------------------------------------------------------------------------

/** Recovers the state of `dir`. See the module comment for the rules. */
export const recover = async (
  dir: string,
  fsys: FileSystem = nodeFileSystem,
  logger: LogSink = silentSink,
  opts: RecoverOptions = {},
): Promise<Recovered> => {
  const t0 = performance.now()
  const now = opts.now ?? Date.now
  const readOnly = opts.readOnly === true
  if (opts.untilSeq !== undefined && !readOnly) throw new TypeError('untilSeq needs readOnly: a partial replay cannot be written to')
  if (!readOnly) await fsys.mkdir(dir)
  const names = await fsys.readdir(dir)

  // 1–2. No manifest: a fresh directory, or data we must not overwrite.
  if (!names.includes(MANIFEST_NAME)) {
    const data: string[] = []
    const leftovers: string[] = []
    for (const name of names) {
      if (SNAPSHOT_FILE.test(name)) data.push(name)
      else if (SEGMENT_FILE.test(name)) {
        const size = (await fsys.size(path.join(dir, name))) ?? 0
        ;(size > SEGMENT_HEADER_BYTES ? data : leftovers).push(name)
      } else if (name.endsWith('.tmp')) leftovers.push(name)
    }
    if (data.length > 0) {
      throw new RecoveryError(
        path.join(dir, MANIFEST_NAME),
        0,
        0,
        `the manifest is missing but data files exist (${data.join(', ')}); refusing to start empty over them`,
        'Restore MANIFEST from a backup, or move the data files away to start empty (`redust log verify` shows what they hold).',
      )
    }
    const header = newSegmentHeader(1, 1, now())
    if (readOnly) return fresh(manifestEntry(segmentFileName(1), header), header, t0)
    for (const name of leftovers) await fsys.unlink(path.join(dir, name))
    const created = await createSegment(fsys, dir, header)
    await writeManifest(fsys, dir, { snapshot: undefined, segments: [created.entry] })
    logger.info({ dir }, 'empty data directory initialised')
    return fresh(created.entry, header, t0)
  }

  // 3. The manifest.
  const manifestPath = path.join(dir, MANIFEST_NAME)
  let manifest: Manifest
  try {
    manifest = parseManifest((await fsys.readFile(manifestPath)).toString('utf8'))
  } catch (err) {
    if (err instanceof ManifestError) throw new RecoveryError(manifestPath, err.offset, 0, err.detail)
    throw err
  }

  // 3. The snapshot.
  let state = Keyspace.emptyState
  let keysLoaded = 0
  let snapshotBytes = 0
  const snap = manifest.snapshot
  if (snap !== undefined) {
    const snapPath = path.join(dir, snap.file)
    try {
      const loaded = await loadSnapshot(fsys, snapPath)
      const mismatch = snapshotMismatch(loaded, snap)
      if (mismatch !== undefined) throw new RecoveryError(snapPath, 0, snap.seq, `snapshot does not match the manifest: ${mismatch}`)
      state = loaded.state
      keysLoaded = loaded.count
      snapshotBytes = loaded.bytes
    } catch (err) {
      if (err instanceof SnapshotError) throw new RecoveryError(snapPath, err.offset, snap.seq, `snapshot ${err.detail} (line ${err.line})`)
      if (errorCode(err) === 'ENOENT') throw new RecoveryError(snapPath, 0, snap.seq, 'the snapshot listed in the manifest is missing')
      throw err
    }
  }

  // 4. Replay: each record's events are applied as soon as the record is read and decoded,
  // through one writer that gives up the loaded state (no undo kept, no record objects built).
  const replay = Keyspace.ownedUpdate(state)
  let recordsReplayed = 0
  let eventsReplayed = 0
  const untilSeq = opts.untilSeq
  let lastApplied = snap?.seq ?? 0
  if (untilSeq !== undefined && untilSeq < lastApplied) {
    throw new RangeError(`cannot replay to seq ${untilSeq}: the snapshot already covers seq ${lastApplied}`)
  }
  const walk = await walkLog(fsys, dir, manifest, {
    ...(opts.tailTolerance === undefined ? {} : { tailTolerance: opts.tailTolerance }),
    onEvents: (events, seq) => {
      if (untilSeq !== undefined && seq > untilSeq) return false
      for (const event of events) applyEvent(replay.writer, event)
      lastApplied = seq
      recordsReplayed++
      eventsReplayed += events.length
      return true
    },
  })
  state = replay.finish()

  // 5–6. The end of the log.
  let truncatedBytes = 0
  const problem = walk.problem
  if (problem !== undefined && problem.kind !== 'torn-tail') {
    throw new RecoveryError(path.join(dir, problem.file), problem.offset, problem.seq, `${problem.kind}: ${problem.detail}`)
  }
  if (problem !== undefined) {
    truncatedBytes = problem.tailBytes
    if (readOnly) {
      logger.warn({ problem: describeProblem(problem) }, 'torn AOF tail (not truncated: read-only)')
    } else {
      const fd = await fsys.open(path.join(dir, problem.file), 'r+')
      try {
        await fsys.ftruncate(fd, problem.offset)
        await fsys.fdatasync(fd)
      } finally {
        await fsys.close(fd)
      }
      logger.warn(
        { file: problem.file, offset: problem.offset, seq: problem.seq, bytes: problem.tailBytes, detail: problem.detail },
        'torn AOF tail truncated back to the last whole record',
      )
    }
  }

  const lastReport = walk.segments[walk.segments.length - 1]
  const tailScan = lastReport?.scan
  if (tailScan === undefined) throw new Error('unreachable: the walk ended without scanning the last segment')

  let segmentBytes = 0
  for (const s of walk.segments) segmentBytes += s.scan?.size ?? 0
  segmentBytes -= truncatedBytes
  let tailHeader = tailScan.header
  let tailSize = problem !== undefined && !readOnly ? problem.offset : tailScan.size
  if (!readOnly) {
    const tailEntry = manifest.segments[manifest.segments.length - 1]!
    const vouched = Math.max(manifest.durable ?? 0, tailScan.lastDurableLsn, tailScan.header.firstLsn - 1)
    if (vouched < tailScan.lastLsn) {
      // Records nothing vouches for as durable (a crash, not a clean close): copy the tail
      // segment to a new one and list that instead (see copyTail).
      // The old segment stays listed when it holds vouched records; it is then read only up to
      // the copy's first seq.
      const keepOld = vouched >= tailEntry.firstLsn
      const copy = await copyTail(fsys, dir, tailEntry, vouched + 1, now())
      const segments = keepOld ? [...manifest.segments, copy.entry] : [...manifest.segments.slice(0, -1), copy.entry]
      manifest = { snapshot: manifest.snapshot, segments, durable: walk.lastSeq }
      await writeManifest(fsys, dir, manifest)
      logger.info({ from: tailEntry.file, to: copy.entry.file, fromSeq: vouched + 1, toSeq: tailScan.lastLsn }, 'copied records not known to be durable to a new segment')
      segmentBytes += keepOld ? copy.size : copy.size - tailSize
      tailHeader = copy.header
      tailSize = copy.size
    } else {
      await syncSegments(fsys, dir, manifest)
      if (walk.lastSeq > (manifest.durable ?? 0)) {
        // Everything replayed is on disk now: say so, so later damage to it is never taken for
        // a torn tail.
        manifest = { ...manifest, durable: walk.lastSeq }
        await writeManifest(fsys, dir, manifest)
      }
    }
    await removeOrphans(fsys, dir, manifest, logger)
  }

  const seq = walk.stopped ? lastApplied : walk.lastSeq
  const stats: RecoveryStats = {
    keysLoaded,
    recordsReplayed,
    eventsReplayed,
    ms: performance.now() - t0,
    truncatedBytes,
    snapshotSeq: snap?.seq ?? 0,
  }
  logger.info({ ...stats, seq }, 'data loaded')
  return {
    state,
    seq,
    stats,
    position: {
      manifest,
      tailHeader,
      tailSize,
      lastSeq: walk.lastSeq,
      snapshotBytes,
      segmentBytes,
    },
  }
}

const fresh = (entry: ManifestSegment, header: SegmentHeader, t0: number): Recovered => ({
  state: Keyspace.emptyState,
  seq: 0,
  stats: { keysLoaded: 0, recordsReplayed: 0, eventsReplayed: 0, ms: performance.now() - t0, truncatedBytes: 0, snapshotSeq: 0 },
  position: {
    manifest: { snapshot: undefined, segments: [entry] },
    tailHeader: header,
    tailSize: SEGMENT_HEADER_BYTES,
    lastSeq: 0,
    snapshotBytes: 0,
    segmentBytes: SEGMENT_HEADER_BYTES,
  },
})

/**
 * Copies the records `fromLsn`… of the tail segment `entry` (up to the valid end its scan found)
 * into a new segment — first seq `fromLsn`, next segment seq, fresh uid — written, fdatasynced and
 * renamed into place; returns it (not yet listed). Listed after the old segment, it supersedes
 * the old segment's bytes from `fromLsn` on (they are never read again).
 *
 * Why a copy: after a process crash, records the previous process had not synced yet live only in
 * the page cache — possibly in pages a failed fdatasync marked clean, which no later fdatasync
 * writes (fsyncgate) — and frames only vouch for what was durable when they were written.
 * Writing them to a new file makes them durable for certain. Rewriting them in place would not
 * do: an interrupted overwrite can damage a copy that was in fact on disk already.
 */
const copyTail = async (
  fsys: FileSystem,
  dir: string,
  entry: ManifestSegment,
  fromLsn: number,
  now: number,
): Promise<{ entry: ManifestSegment; header: SegmentHeader; size: number }> => {
  const file = path.join(dir, entry.file)
  const header = newSegmentHeader(entry.segmentSeq + 1, fromLsn, now)
  const seed = frameSeed(header)
  const name = segmentFileName(header.segmentSeq)
  const tmp = path.join(dir, `${name}.tmp`)
  const fd = await fsys.open(tmp, 'w')
  let size = SEGMENT_HEADER_BYTES
  try {
    await writeFully(fsys, fd, encodeSegmentHeader(header), 0, SEGMENT_HEADER_BYTES, 0)
    let at: { offset: number; lsn: number } | undefined
    for (;;) {
      const chunks: Buffer[] = []
      let bytes = 0
      const scan = await scanSegment(fsys, file, {
        ...(at === undefined ? {} : { startAt: at }),
        onFrame: (f) => {
          if (f.lsn < fromLsn) return true
          // The same frame under the new segment's CRC seed.
          const frame = Buffer.from(f.buf.subarray(f.payloadStart - FRAME_HEADER_BYTES, f.payloadEnd))
          frame.writeUInt32LE(crc32c(frame, seed, 8, frame.length), 4)
          chunks.push(frame)
          bytes += frame.length
          at = { offset: f.offset + f.len, lsn: f.lsn + 1 }
          return bytes < 4 * 1024 * 1024
        },
      })
      const out = Buffer.concat(chunks, bytes)
      await writeFully(fsys, fd, out, 0, out.length, size)
      size += out.length
      if (scan.stop.reason !== 'stopped') break
    }
    await fsys.fdatasync(fd)
  } finally {
    await fsys.close(fd)
  }
  await fsys.rename(tmp, path.join(dir, name))
  await fsys.fsyncDir(dir)
  return { entry: manifestEntry(name, header), header, size }
}

/**
 * fdatasyncs every segment replayed (and the directory). After a process crash, records the
 * previous process wrote but had not synced yet are in the page cache only: the new process
 * replays them, builds on them and reports them durable, so they must reach the disk first
 * (PostgreSQL syncs its data directory at start-up after a crash for the same reason).
 */
const syncSegments = async (fsys: FileSystem, dir: string, manifest: Manifest): Promise<void> => {
  for (const seg of manifest.segments) {
    const fd = await fsys.open(path.join(dir, seg.file), 'r+')
    try {
      await fsys.fdatasync(fd)
    } finally {
      await fsys.close(fd)
    }
  }
  await fsys.fsyncDir(dir)
}

/**
 * Deletes segments and snapshots the (valid) manifest does not list, and temp files: leftovers of
 * a checkpoint or a garbage collection interrupted by a crash. Never touches other files.
 */
const removeOrphans = async (fsys: FileSystem, dir: string, manifest: Manifest, logger: LogSink): Promise<void> => {
  const listed = new Set<string>([
    ...(manifest.snapshot === undefined ? [] : [manifest.snapshot.file]),
    ...manifest.segments.map((s) => s.file),
  ])
  const removed: string[] = []
  for (const name of await fsys.readdir(dir)) {
    const orphan = name.endsWith('.tmp') || ((SEGMENT_FILE.test(name) || SNAPSHOT_FILE.test(name)) && !listed.has(name))
    if (!orphan) continue
    await fsys.unlink(path.join(dir, name))
    removed.push(name)
  }
  if (removed.length > 0) {
    await fsys.fsyncDir(dir)
    logger.info({ removed }, 'removed files left over by an interrupted checkpoint')
  }
}

// ---------------------------------------------------------------------------------------------
// recover + open, for the server
// ---------------------------------------------------------------------------------------------

export interface OpenedLog {
  readonly log: AofLog
  readonly state: State
  readonly seq: number
  readonly stats: RecoveryStats
}

/** Recovers `dir` and opens its log for appending: the server's start-up in one call. */
export const openDurableLog = async (
  dir: string,
  opts: AofLogOptions & { readonly tailTolerance?: number } = {},
): Promise<OpenedLog> => {
  const fsys = opts.fs ?? nodeFileSystem
  const recovered = await recover(dir, fsys, opts.logger ?? silentSink, {
    ...(opts.tailTolerance === undefined ? {} : { tailTolerance: opts.tailTolerance }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  })
  const log = await AofLog.open(dir, recovered.position, opts)
  return { log, state: recovered.state, seq: recovered.seq, stats: recovered.stats }
}

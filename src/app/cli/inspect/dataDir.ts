/**
 * Reading a data directory for the inspection CLI: the manifest, the snapshot and the log's
 * records, read-only, with clear errors — offline or beside a running server.
 *
 * Beside a running server, a checkpoint may switch the manifest and delete the files the reader
 * was about to open. Files already open stay readable (POSIX), and a file that vanished is
 * retried from a fresh manifest (up to a few times) instead of being reported as damage; a
 * reader that already delivered records skips them on the retry.
 *
 * Nothing here writes: a torn tail is reported, never truncated (`redust log verify --fix` does
 * that).
 *
 * @category cli
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { LogRecord } from '../../eventLog.js'
import * as Keyspace from '../../../domain/keyspace.js'
import type { State } from '../../../domain/keyspace.js'
import { applyRecords, snapshotMismatch } from '../../recovery.js'
import { errorCode, nodeFileSystem, type FileSystem } from '../../../infra/log/fileSystem.js'
import { walkLog, type LogProblem, type RecordLocation, type WalkReport } from '../../../infra/log/logReader.js'
import {
  encodeManifest,
  MANIFEST_NAME,
  ManifestError,
  parseManifest,
  SEGMENT_FILE,
  SNAPSHOT_FILE,
  type Manifest,
} from '../../../infra/log/manifest.js'
import { SEGMENT_HEADER_BYTES } from '../../../infra/log/format.js'
import { loadSnapshot, SnapshotError } from '../../../infra/snapshot/snapshot.js'
import { CliError, EXIT_DAMAGED, usage } from './io.js'
import { describePoint, type Point } from './points.js'
import { isoTime, plural } from './text.js'

export const fsys: FileSystem = nodeFileSystem

const RETRIES = 5

/** A file vanished under us (a checkpoint's garbage collection): retry from a fresh manifest. */
class Vanished extends Error {}

// ---------------------------------------------------------------------------------------------
// manifest
// ---------------------------------------------------------------------------------------------

/** Checks that `dir` is an existing directory (usage error otherwise). */
export const checkDir = (dir: string): void => {
  let st: fs.Stats
  try {
    st = fs.statSync(dir)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') throw usage(`no such data directory: ${dir}`)
    throw err
  }
  if (!st.isDirectory()) throw usage(`not a directory: ${dir}`)
}

/** Reads and checks `dir/MANIFEST`, with a clear error for every way it can be wrong. */
export const readManifestOf = async (dir: string): Promise<Manifest> => {
  checkDir(dir)
  const file = path.join(dir, MANIFEST_NAME)
  let text: string
  try {
    text = (await fsys.readFile(file)).toString('utf8')
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err
    const names = await fsys.readdir(dir)
    const data = names.filter((n) => SNAPSHOT_FILE.test(n) || SEGMENT_FILE.test(n))
    if (data.length > 0) {
      throw new CliError(
        `${file} is missing but the directory holds data files (${data.sort().join(', ')}); restore MANIFEST from a backup`,
        EXIT_DAMAGED,
      )
    }
    throw usage(`${dir} is not a Redust data directory (no ${MANIFEST_NAME})`)
  }
  try {
    return parseManifest(text)
  } catch (err) {
    if (err instanceof ManifestError) throw new CliError(`${file} is damaged at byte offset ${err.offset}: ${err.detail}`, EXIT_DAMAGED)
    throw err
  }
}

const sameManifest = (a: Manifest, b: Manifest): boolean => encodeManifest(a) === encodeManifest(b)

/** Reruns `attempt` when a file vanished and the manifest changed meanwhile (a checkpoint ran). */
const withRetries = async <T>(dir: string, attempt: (manifest: Manifest) => Promise<T>): Promise<T> => {
  for (let i = 0; ; i++) {
    const manifest = await readManifestOf(dir)
    try {
      return await attempt(manifest)
    } catch (err) {
      if (!(err instanceof Vanished)) throw err
      const now = await readManifestOf(dir)
      if (i >= RETRIES || sameManifest(now, manifest)) throw new CliError(err.message, EXIT_DAMAGED)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// snapshot
// ---------------------------------------------------------------------------------------------

/** The state the log starts from: the snapshot's, or the empty state at seq 0. */
export interface Base {
  readonly state: State
  readonly seq: number
  /** When the snapshot was taken (undefined without a snapshot). */
  readonly at: number | undefined
  readonly file: string | undefined
  readonly keys: number
  readonly bytes: number
}

export const EMPTY_BASE: Base = { state: Keyspace.emptyState, seq: 0, at: undefined, file: undefined, keys: 0, bytes: 0 }

/** Loads and checks the manifest's snapshot (trailer CRC, count, and the manifest's record of it). */
export const loadBase = async (dir: string, manifest: Manifest): Promise<Base> => {
  const snap = manifest.snapshot
  if (snap === undefined) return EMPTY_BASE
  const file = path.join(dir, snap.file)
  try {
    const loaded = await loadSnapshot(fsys, file)
    const mismatch = snapshotMismatch(loaded, snap)
    if (mismatch !== undefined) throw new CliError(`${file} does not match the manifest: ${mismatch}`, EXIT_DAMAGED)
    return { state: loaded.state, seq: loaded.seq, at: loaded.at, file: snap.file, keys: loaded.count, bytes: loaded.bytes }
  } catch (err) {
    if (err instanceof SnapshotError) {
      throw new CliError(`${file} is damaged at byte offset ${err.offset} (line ${err.line}, snapshot of seq ${snap.seq}): ${err.detail}`, EXIT_DAMAGED)
    }
    if (errorCode(err) === 'ENOENT') throw new Vanished(`${file} (the snapshot the manifest lists) is missing`)
    throw err
  }
}

// ---------------------------------------------------------------------------------------------
// problems
// ---------------------------------------------------------------------------------------------

/** One line: `dir/file: kind at byte offset N (record seq S): detail`. */
export const describeAt = (dir: string, p: LogProblem): string =>
  `${path.join(dir, p.file)}: ${p.kind} at byte offset ${p.offset} (record seq ${p.seq}): ${p.detail}`

/** What the zeros after a segment's last record are: not damage (start-up cuts them). */
export const zeroTailNote = (zeroBytes: number): string =>
  `${plural(zeroBytes, 'zero byte')}, written ahead by a running server or left by a power loss: start-up cuts them`

/** The note printed when a read-only walk met a torn tail (a write in progress, or a crash). */
export const tornNote = (dir: string, p: LogProblem): string =>
  `note: ${path.join(dir, p.file)} ends with ${p.tailBytes} bytes of an incomplete record at byte offset ${p.offset} ` +
  `(record seq ${p.seq}): a write in progress, or a torn tail left by a crash (\`redust log verify\` tells)`

/** The error for damage a read must stop at. */
export const damageError = (dir: string, p: LogProblem, lastGood: number): CliError =>
  new CliError(
    `the log is damaged: ${describeAt(dir, p)}; records up to seq ${lastGood} are intact (run \`redust log verify --dir ${dir}\`)`,
    EXIT_DAMAGED,
  )

// ---------------------------------------------------------------------------------------------
// streaming records
// ---------------------------------------------------------------------------------------------

export interface StreamOptions {
  /**
   * Receives each record in seq order, once. Return false to stop. Records the snapshot already
   * covers are delivered too when the segments still hold them.
   */
  readonly onRecord: (record: LogRecord, where: RecordLocation, segmentIndex: number) => void | boolean
  /** Called once with the manifest the walk (finally) used. */
  readonly onManifest?: (manifest: Manifest) => void
  /** Records that could not be delivered (compacted by a checkpoint while reading). */
  readonly onGap?: (from: number, to: number) => void
}

export interface StreamResult {
  readonly manifest: Manifest
  readonly walk: WalkReport
  /** The last seq delivered (0 when none). */
  readonly lastDelivered: number
}

/** Streams every record of `dir` that its segments hold (snapshot-covered ones included). */
export const streamRecords = (dir: string, opts: StreamOptions): Promise<StreamResult> => {
  let delivered = 0
  return withRetries(dir, async (manifest) => {
    opts.onManifest?.(manifest)
    const index = new Map(manifest.segments.map((s, i) => [s.file, i]))
    const walk = await walkLog(fsys, dir, manifest, {
      includeCovered: true,
      onRecord: (record, where) => {
        if (record.seq <= delivered) return true
        if (delivered > 0 && record.seq > delivered + 1) opts.onGap?.(delivered + 1, record.seq - 1)
        delivered = record.seq
        return opts.onRecord(record, where, index.get(where.file) ?? 0)
      },
    })
    if (walk.problem?.kind === 'missing-segment') throw new Vanished(describeAt(dir, walk.problem))
    return { manifest, walk, lastDelivered: delivered }
  })
}

// ---------------------------------------------------------------------------------------------
// states at points
// ---------------------------------------------------------------------------------------------

export interface StateAt {
  readonly state: State
  /** The last record applied (the snapshot's seq when none was). */
  readonly seq: number
  /** That record's time (the snapshot's time, or undefined for the empty state at seq 0). */
  readonly at: number | undefined
}

export interface StatesResult {
  readonly states: ReadonlyArray<StateAt>
  readonly base: Base
  readonly manifest: Manifest
  /** The last seq the readable log holds. */
  readonly lastSeq: number
  /** A torn tail met at the end (a note for the user), if any. */
  readonly torn?: LogProblem
}

export interface StatesOptions {
  /** Progress in bytes of segments read, out of the total. */
  readonly onProgress?: (done: number, total: number) => void
}

const REPLAY_BATCH = 4096

const beyond = (record: LogRecord, p: Point): boolean =>
  p.kind === 'seq' ? record.seq > p.seq : p.kind === 'time' ? record.at > p.at : false

/**
 * The states at several points in one pass: snapshot, then records folded with `evolve` (in
 * transient batches) up to each point. Errors (usage or damage) name the point and the reason.
 */
export const statesAt = (dir: string, points: ReadonlyArray<Point>, opts: StatesOptions = {}): Promise<StatesResult> =>
  withRetries(dir, async (manifest) => {
    const base = await loadBase(dir, manifest)
    for (const p of points) {
      if (p.kind === 'seq' && p.seq < base.seq) {
        throw usage(
          `cannot go back to seq ${p.seq}: records up to seq ${base.seq} were compacted into the snapshot ${base.file}; the earliest point is seq ${base.seq}`,
        )
      }
    }
    const sizes: number[] = []
    for (const s of manifest.segments) sizes.push((await fsys.size(path.join(dir, s.file))) ?? 0)
    const total = sizes.reduce((a, b) => a + b, 0)
    const offsets = new Map<string, number>()
    let acc = 0
    manifest.segments.forEach((s, i) => {
      offsets.set(s.file, acc)
      acc += sizes[i]!
    })

    const found: Array<StateAt | undefined> = points.map(() => undefined)
    let open = points.length
    let state = base.state
    let seq = base.seq
    let at = base.at
    let pending: LogRecord[] = []
    const apply = (): void => {
      if (pending.length === 0) return
      state = applyRecords(state, pending)
      pending = []
    }
    const onProgress = opts.onProgress
    const walk = await walkLog(fsys, dir, manifest, {
      onRecord: (record, where) => {
        for (let i = 0; i < points.length; i++) {
          if (found[i] === undefined && beyond(record, points[i]!)) {
            apply()
            found[i] = { state, seq, at }
            open--
          }
        }
        if (open === 0 && !points.some((p) => p.kind === 'end')) return false
        pending.push(record)
        seq = record.seq
        at = record.at
        if (pending.length >= REPLAY_BATCH) apply()
        onProgress?.((offsets.get(where.file) ?? 0) + where.offset + where.length, total)
        return true
      },
    })
    apply()
    const problem = walk.problem
    if (problem?.kind === 'missing-segment') throw new Vanished(describeAt(dir, problem))
    const damaged = problem !== undefined && problem.kind !== 'torn-tail'
    const states = points.map((p, i): StateAt => {
      const got = found[i]
      if (got !== undefined) return checkNotBeforeSnapshot(p, got, base)
      if (p.kind === 'seq' && p.seq > seq) {
        if (damaged) {
          throw new CliError(`cannot reach seq ${p.seq}: ${describeAt(dir, problem)}; records up to seq ${seq} are intact`, EXIT_DAMAGED)
        }
        throw usage(`seq ${p.seq} is beyond the end of the log (the last record is seq ${seq})`)
      }
      if (damaged) {
        throw new CliError(
          `cannot tell the state at ${describePoint(p)}: ${describeAt(dir, problem)}; records up to seq ${seq} are intact`,
          EXIT_DAMAGED,
        )
      }
      return checkNotBeforeSnapshot(p, { state, seq, at }, base)
    })
    return {
      states,
      base,
      manifest,
      lastSeq: seq,
      ...(problem?.kind === 'torn-tail' ? { torn: problem } : {}),
    }
  })

const checkNotBeforeSnapshot = (p: Point, s: StateAt, base: Base): StateAt => {
  if (p.kind === 'time' && s.seq === base.seq && base.file !== undefined && base.at !== undefined && p.at < base.at) {
    throw usage(
      `cannot go back to ${isoTime(p.at)}: the history before the snapshot ${base.file} (seq ${base.seq}, taken ${isoTime(base.at)}) was compacted into it`,
    )
  }
  return s
}

// ---------------------------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------------------------

/** Sizes of the manifest's segments (0 for a missing one) and of its snapshot. */
export const fileSizes = async (dir: string, manifest: Manifest): Promise<{ segments: number; snapshot: number }> => {
  let segments = 0
  for (const s of manifest.segments) segments += (await fsys.size(path.join(dir, s.file))) ?? 0
  const snapshot = manifest.snapshot === undefined ? 0 : ((await fsys.size(path.join(dir, manifest.snapshot.file))) ?? 0)
  return { segments, snapshot }
}

export { SEGMENT_HEADER_BYTES }

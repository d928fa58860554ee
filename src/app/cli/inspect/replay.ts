/**
 * `redust replay --until-seq N | --until TIME --out DIR`: point-in-time recovery.
 *
 * Folds the snapshot and the log up to the point (./dataDir.ts `statesAt`) and writes a **new**
 * data directory holding exactly that state, in the durable log's own formats:
 *
 * ```
 * DIR/snap-<N>-00000001.jsonl   the state after record N (header seq N, time of record N)
 * DIR/log-00000001.aof          an empty segment whose first record will be N+1
 * DIR/MANIFEST                  lists both
 * ```
 *
 * so `redust serve --dir DIR` recovers it and continues numbering at N+1. The directory is built
 * under a temporary sibling name and renamed into place, so DIR never exists half-written. DIR
 * must not exist or be empty; the source is only read.
 *
 * Keys whose deadline had passed at the point but that no event had expired yet are kept, as the
 * server would hold them; they read as missing and are expired (and logged) once served.
 *
 * @category cli
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { SingleBar } from 'cli-progress'
import * as Keyspace from '../../../domain/keyspace.js'
import type { State } from '../../../domain/keyspace.js'
import { DATABASE_COUNT } from '../../../domain/primitives.js'
import { errorCode } from '../../../infra/log/fileSystem.js'
import { newSegmentHeader } from '../../../infra/log/format.js'
import { snapshotFileName, writeManifest } from '../../../infra/log/manifest.js'
import { createSegment } from '../../../infra/log/segmentFile.js'
import { writeSnapshot } from '../../../infra/snapshot/snapshot.js'
import { fsys, statesAt, tornNote } from './dataDir.js'
import { EXIT_OK, usage, type Io } from './io.js'
import { describePoint, type Point } from './points.js'
import { count, isoTime } from './text.js'

export interface ReplayResult {
  readonly out: string
  readonly seq: number
  /** Time of record `seq` (the snapshot header's time). */
  readonly at: number
  readonly keys: number
  readonly files: ReadonlyArray<string>
}

export interface ReplayOptions {
  readonly onProgress?: (done: number, total: number) => void
  /** Wall clock for the new segment's header (and the snapshot time of an empty state). */
  readonly now?: () => number
  readonly onTornTail?: (note: string) => void
}

const keyCount = (state: State): number => {
  let n = 0
  for (let db = 0; db < DATABASE_COUNT; db++) n += Keyspace.size(state, db)
  return n
}

/** Writes a data directory holding `state` as of record `seq`, atomically. */
export const writeDataDir = async (out: string, state: State, seq: number, at: number, now: number): Promise<ReadonlyArray<string>> => {
  const target = path.resolve(out)
  const parent = path.dirname(target)
  await fsys.mkdir(parent)
  let existing: string[] | undefined
  try {
    existing = await fsys.readdir(target)
  } catch (err) {
    if (errorCode(err) === 'ENOTDIR') throw usage(`--out ${out}: exists and is not a directory`)
    if (errorCode(err) !== 'ENOENT') throw err
  }
  if (existing !== undefined && existing.length > 0) throw usage(`--out ${out}: the directory exists and is not empty`)
  const tmp = path.join(parent, `.${path.basename(target)}.partial-${process.pid}-${now}`)
  await fs.promises.rm(tmp, { recursive: true, force: true })
  await fsys.mkdir(tmp)
  try {
    const segmentSeq = 1
    const snap = await writeSnapshot(fsys, tmp, state, { seq, at, file: snapshotFileName(seq, segmentSeq) })
    const segment = await createSegment(fsys, tmp, newSegmentHeader(segmentSeq, seq + 1, now))
    await writeManifest(fsys, tmp, {
      snapshot: { file: snap.file, seq, count: snap.count, crc: snap.crc },
      segments: [segment.entry],
    })
    if (existing !== undefined) await fs.promises.rmdir(target)
    await fsys.rename(tmp, target)
    await fsys.fsyncDir(parent)
    return [snap.file, segment.name, 'MANIFEST']
  } catch (err) {
    await fs.promises.rm(tmp, { recursive: true, force: true }).catch(() => undefined)
    throw err
  }
}

/** Replays `dir` up to `point` into the new data directory `out`. */
export const replayTo = async (dir: string, point: Point, out: string, opts: ReplayOptions = {}): Promise<ReplayResult> => {
  if (path.resolve(dir) === path.resolve(out)) throw usage('--out must be a new directory, not the source data directory')
  const now = (opts.now ?? Date.now)()
  const result = await statesAt(dir, [point], opts.onProgress === undefined ? {} : { onProgress: opts.onProgress })
  if (result.torn !== undefined) opts.onTornTail?.(tornNote(dir, result.torn))
  const s = result.states[0]!
  const at = s.at ?? now
  const files = await writeDataDir(out, s.state, s.seq, at, now)
  return { out, seq: s.seq, at, keys: keyCount(s.state), files }
}

export interface ReplayCommandOptions {
  readonly point: Point
  readonly out: string
  readonly quiet: boolean
}

export const replay = async (dir: string, o: ReplayCommandOptions, io: Io): Promise<number> => {
  let bar: SingleBar | undefined
  if (io.stderrIsTTY && !o.quiet) {
    bar = new SingleBar({
      stream: io.stderr,
      format: 'replaying |{bar}| {percentage}% {value}/{total} bytes',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    })
  }
  let started = false
  let last = 0
  let total = 0
  const result = await (async () => {
    try {
      return await replayTo(dir, o.point, o.out, {
        onTornTail: (note) => io.note(note),
        ...(bar === undefined
          ? {}
          : {
              onProgress: (done: number, all: number) => {
                if (!started) {
                  total = all
                  bar.start(total, 0)
                  started = true
                }
                // Redrawing per record would dominate the replay: update every 256 KiB.
                if (done - last >= 256 * 1024 || done === total) {
                  bar.update(done)
                  last = done
                }
              },
            }),
      })
    } finally {
      if (started) {
        bar?.update(total) // the point is reached: the rest of the log is not needed
        bar?.stop()
      }
    }
  })()
  io.line(
    `wrote ${result.out}: the state at seq ${result.seq} (${isoTime(result.at)}), ${count(result.keys)} key${result.keys === 1 ? '' : 's'}` +
      (o.point.kind === 'time' ? ` (requested ${describePoint(o.point)})` : ''),
  )
  if (!o.quiet) io.line(`serve it with: redust serve --dir ${result.out}`)
  return EXIT_OK
}

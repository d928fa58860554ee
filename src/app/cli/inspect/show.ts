/**
 * `redust log show`: one line per event (./render.ts), filtered; `--follow` keeps polling a live
 * server's log (./tail.ts) until interrupted.
 *
 * @category cli
 */
import type { LogRecord } from '../../eventLog.js'
import { damageError, fsys, streamRecords, tornNote } from './dataDir.js'
import { EXIT_OK, type Io } from './io.js'
import { eventJson, eventLine, eventMatches, recordMatches, type RecordFilter } from './render.js'
import { LogTailer } from './tail.js'

export interface ShowOptions extends RecordFilter {
  readonly json: boolean
  readonly maxValue: number
  readonly follow: boolean
  /** Poll period of --follow, in ms. */
  readonly interval: number
  /** Stops --follow (tests); by default SIGINT/SIGTERM do. */
  readonly signal?: AbortSignal
}

/** Prints the matching events of one record; returns how many. */
const printRecord = (io: Io, r: LogRecord, o: ShowOptions): number => {
  if (!recordMatches(r, o)) return 0
  let n = 0
  r.events.forEach((e, i) => {
    if (!eventMatches(e, o)) return
    io.line(o.json ? eventJson(r.seq, r.at, i, e) : eventLine(r.seq, r.at, e, o))
    n++
  })
  return n
}

export const logShow = async (dir: string, o: ShowOptions, io: Io): Promise<number> => {
  let first: number | undefined
  let snapSeq = 0
  const result = await streamRecords(dir, {
    onManifest: (m) => {
      snapSeq = m.snapshot?.seq ?? 0
    },
    onGap: (from, to) => io.note(`note: records ${from}..${to} were compacted by a checkpoint while reading`),
    onRecord: (r) => {
      first ??= r.seq
      if (o.toSeq !== undefined && r.seq > o.toSeq) return false
      printRecord(io, r, o)
      return true
    },
  })
  const from = o.fromSeq ?? 1
  const oldest = first ?? result.walk.lastSeq + 1
  if (snapSeq > 0 && from < oldest && from <= snapSeq) {
    io.note(`note: records up to seq ${Math.min(snapSeq, oldest - 1)} are compacted into the snapshot; the log holds seq ${oldest} onwards`)
  }
  const problem = result.walk.problem
  if (problem !== undefined && problem.kind !== 'torn-tail') {
    await io.flush()
    throw damageError(dir, problem, result.walk.lastSeq)
  }
  if (!o.follow) {
    if (problem !== undefined) io.note(tornNote(dir, problem))
    return EXIT_OK
  }
  if (o.toSeq !== undefined && result.walk.lastSeq >= o.toSeq) return EXIT_OK
  await io.flush()
  return follow(dir, result.walk.lastSeq + 1, o, io)
}

const follow = async (dir: string, nextSeq: number, o: ShowOptions, io: Io): Promise<number> => {
  const stop = new AbortController()
  const onSignal = (): void => stop.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  o.signal?.addEventListener('abort', onSignal)
  const tailer = new LogTailer(fsys, dir, nextSeq, {
    onRecord: (r) => {
      if (o.toSeq !== undefined && r.seq > o.toSeq) return stop.abort()
      printRecord(io, r, o)
      if (o.toSeq !== undefined && r.seq >= o.toSeq) stop.abort()
    },
    onGap: (from, to) => io.note(`note: records ${from}..${to - 1} were compacted into a snapshot before they could be read`),
    onWarning: (text) => io.note(text),
  })
  try {
    while (!stop.signal.aborted) {
      await tailer.poll()
      await io.flush()
      if (stop.signal.aborted) break
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t)
          stop.signal.removeEventListener('abort', done)
          resolve()
        }
        const t = setTimeout(done, o.interval)
        stop.signal.addEventListener('abort', done, { once: true })
      })
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await tailer.close()
  }
  return EXIT_OK
}

/**
 * `redust log stats`: what the log holds — records and events (by type), the seq and time
 * ranges, bytes on disk, the most written keys and the write rate over time (a sparkline and a
 * histogram). A table on a terminal, one JSON object with `--json`.
 *
 * One pass over the segments; memory is one number per record (the time, for the rate buckets)
 * plus one slot per distinct key (./keyCounter.ts).
 *
 * @category cli
 */
import Table from 'cli-table3'
import { EVENT_TYPES, touchedKeys, type EventType } from '../../../domain/event.js'
import type { LogProblem } from '../../../infra/log/logReader.js'
import { damageError, describeAt, fileSizes, streamRecords, zeroTailNote } from './dataDir.js'
import { EXIT_OK, type Io } from './io.js'
import { KeyCounter } from './keyCounter.js'
import { bar, bytes, count, duration, isoTime, reprCut, sparkline } from './text.js'

export interface StatsOptions {
  readonly json: boolean
  /** How many keys to list. */
  readonly top: number
  /** Buckets of the write-rate sparkline. */
  readonly buckets: number
  readonly maxValue: number
}

export interface LogStatsReport {
  readonly dir: string
  readonly records: number
  readonly events: number
  readonly seq: { readonly first: number | null; readonly last: number | null }
  readonly time: { readonly first: number | null; readonly last: number | null }
  readonly snapshot: { readonly file: string; readonly seq: number; readonly keys: number; readonly bytes: number } | null
  readonly segments: { readonly files: number; readonly bytes: number }
  readonly eventsByType: Readonly<Record<EventType, number>>
  readonly topKeys: ReadonlyArray<{ readonly db: number; readonly key: string; readonly writes: number }>
  readonly writeRate: { readonly start: number | null; readonly bucketMs: number; readonly counts: ReadonlyArray<number> }
  readonly problem: (LogProblem & { readonly description: string }) | null
}

/** Gathers the statistics of `dir` (throws on damage the walk cannot pass). */
export const collectStats = async (dir: string, o: Pick<StatsOptions, 'top' | 'buckets'>): Promise<LogStatsReport> => {
  let records = 0
  let events = 0
  let firstSeq: number | null = null
  let lastSeq: number | null = null
  let minAt = Infinity
  let maxAt = -Infinity
  let ats = new Float64Array(1 << 16)
  const byType = new Map<EventType, number>()
  for (const t of EVENT_TYPES) byType.set(t, 0)
  // Writes per key, one map per database (keys as they are: no concatenation on the hot path).
  const writes = new KeyCounter()
  const bump = (db: number, key: string): void => writes.add(db, key)

  const result = await streamRecords(dir, {
    onRecord: (r) => {
      if (records === ats.length) {
        const next = new Float64Array(ats.length * 2)
        next.set(ats)
        ats = next
      }
      ats[records++] = r.at
      firstSeq ??= r.seq
      lastSeq = r.seq
      if (r.at < minAt) minAt = r.at
      if (r.at > maxAt) maxAt = r.at
      for (const e of r.events) {
        events++
        byType.set(e.type, byType.get(e.type)! + 1)
        switch (e.type) {
          case 'ValueSet':
          case 'ValueAppended':
          case 'RangeOverwritten':
          case 'ExpirySet':
          case 'ExpiryRemoved':
          case 'KeyExpired':
            bump(e.db, e.key)
            break
          default:
            for (const [db, key] of touchedKeys(e)) bump(db, key)
        }
      }
    },
  })
  const problem = result.walk.problem
  if (problem !== undefined && problem.kind !== 'torn-tail' && problem.kind !== 'corrupt-frame') {
    throw damageError(dir, problem, result.walk.lastSeq)
  }

  const top = writes.top(o.top)

  const buckets = Math.max(1, o.buckets)
  const bucketMs = records === 0 ? 0 : niceBucket((maxAt - minAt + 1) / Math.max(1, buckets - 1))
  const start = records === 0 ? 0 : Math.floor(minAt / bucketMs) * bucketMs
  const used = records === 0 ? 0 : Math.floor((maxAt - start) / bucketMs) + 1
  const counts = new Array<number>(used).fill(0)
  for (let i = 0; i < records; i++) counts[Math.floor((ats[i]! - start) / bucketMs)]!++

  const sizes = await fileSizes(dir, result.manifest)
  const snap = result.manifest.snapshot
  return {
    dir,
    records,
    events,
    seq: { first: firstSeq, last: lastSeq },
    time: { first: records === 0 ? null : minAt, last: records === 0 ? null : maxAt },
    snapshot: snap === undefined ? null : { file: snap.file, seq: snap.seq, keys: snap.count, bytes: sizes.snapshot },
    segments: { files: result.manifest.segments.length, bytes: sizes.segments },
    eventsByType: Object.fromEntries(byType) as Record<EventType, number>,
    topKeys: top,
    writeRate: { start: records === 0 ? null : start, bucketMs, counts },
    problem: problem === undefined ? null : { ...problem, description: describeAt(dir, problem) },
  }
}

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const NICE = [
  1, 2, 5, 10, 20, 50, 100, 200, 250, 500,
  SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 7 * DAY,
]

/** The smallest "round" bucket width (1 ms … 1 week, then whole weeks) of at least `ms`. */
export const niceBucket = (ms: number): number => NICE.find((n) => n >= ms) ?? Math.ceil(ms / (7 * DAY)) * 7 * DAY

const plainTable = (head: string[], colAligns?: Array<'left' | 'right'>): Table.Table =>
  new Table({ head, style: { head: [], border: [], compact: true }, ...(colAligns === undefined ? {} : { colAligns }) })

const HISTOGRAM_ROWS = 10
const BAR_WIDTH = 40

export const renderStats = (s: LogStatsReport, o: StatsOptions): string => {
  const lines: string[] = []
  const summary = new Table({ style: { head: [], border: [], compact: true } })
  const range = <T>(a: T | null, b: T | null, f: (x: T) => string): string => (a === null || b === null ? '-' : `${f(a)} .. ${f(b)}`)
  summary.push(
    { 'data directory': s.dir },
    { records: count(s.records) },
    { events: count(s.events) },
    { 'seq range': range(s.seq.first, s.seq.last, String) },
    {
      'time range':
        s.time.first === null || s.time.last === null
          ? '-'
          : `${isoTime(s.time.first)} .. ${isoTime(s.time.last)} (${duration(s.time.last - s.time.first)})`,
    },
    { segments: `${s.segments.files} file${s.segments.files === 1 ? '' : 's'}, ${bytes(s.segments.bytes)}` },
    {
      snapshot:
        s.snapshot === null ? 'none' : `${s.snapshot.file}: seq ${s.snapshot.seq}, ${count(s.snapshot.keys)} keys, ${bytes(s.snapshot.bytes)}`,
    },
  )
  const p = s.problem
  if (p !== null) {
    if (p.zeroFilled === true) summary.push({ 'zeros ahead': `${p.file}: after byte ${count(p.offset)}, ${zeroTailNote(p.tailBytes)}` })
    else summary.push({ [p.kind === 'torn-tail' ? 'torn tail' : 'damage']: p.description })
  }
  lines.push(summary.toString(), '')

  lines.push('Events by type')
  const types = plainTable(['type', 'events', 'share'], ['left', 'right', 'right'])
  for (const [t, n] of Object.entries(s.eventsByType)) {
    if (n === 0) continue
    types.push([t, count(n), `${((n / Math.max(1, s.events)) * 100).toFixed(1)}%`])
  }
  lines.push(types.toString(), '')

  lines.push(`Top ${s.topKeys.length} keys by writes`)
  const keys = plainTable(['db', 'key', 'writes'], ['right', 'left', 'right'])
  for (const k of s.topKeys) keys.push([k.db, reprCut(k.key, o.maxValue), count(k.writes)])
  lines.push(keys.toString(), '')

  const c = s.writeRate.counts
  if (c.length > 0 && s.writeRate.start !== null) {
    const perSecond = (n: number): string => ((n * 1000) / s.writeRate.bucketMs).toFixed(1)
    const peak = Math.max(...c)
    lines.push(`Write rate (records per ${duration(s.writeRate.bucketMs)}; peak ${count(peak)} = ${perSecond(peak)}/s)`)
    lines.push(`[${sparkline(c)}]`)
    // A coarser histogram: up to 10 rows, each merging several sparkline buckets.
    const per = Math.ceil(c.length / HISTOGRAM_ROWS)
    const rows: Array<[number, number]> = []
    for (let i = 0; i < c.length; i += per) rows.push([s.writeRate.start + i * s.writeRate.bucketMs, c.slice(i, i + per).reduce((a, b) => a + b, 0)])
    const max = Math.max(...rows.map((r) => r[1]))
    const width = String(count(max)).length
    for (const [at, n] of rows) lines.push(`${isoTime(at)} ${count(n).padStart(width)} ${bar(n, max, BAR_WIDTH)}`.trimEnd())
  }
  return lines.join('\n').trimEnd()
}

export const logStats = async (dir: string, o: StatsOptions, io: Io): Promise<number> => {
  const s = await collectStats(dir, o)
  io.line(o.json ? JSON.stringify(s) : renderStats(s, o))
  if (s.problem !== null) {
    await io.flush()
    if (s.problem.kind !== 'torn-tail') throw damageError(dir, s.problem, s.seq.last ?? 0)
  }
  return EXIT_OK
}

/**
 * One line per event, for `log show`, `history` and `--follow`.
 *
 * ## Text
 *
 * ```
 *      12 2026-11-25T14:02:00.250Z db0  ValueSet            "user:1" = "alice" expires 2026-11-25T14:03:00.250Z
 *      13 2026-11-25T14:02:00.300Z db0  KeysDeleted         "a" "b"
 *      14 2026-11-25T14:02:01.000Z db0  KeyRenamed          "a" -> "b"
 *      15 2026-11-25T14:02:01.000Z *    AllDatabasesFlushed
 * ```
 *
 * Columns: seq (right-aligned to 7), the record's time (ISO-8601 UTC), the database, the event
 * type (padded to 19), then the event's own fields: keys and values escaped like redis-cli and
 * cut after `maxValue` bytes, deadlines as ISO times. The events of one record (a transaction)
 * share its seq and time.
 *
 * ## JSON (NDJSON, one object per event)
 *
 * `{"seq":12,"at":1764079320250,"time":"2026-11-25T14:02:00.250Z","index":0,"type":"ValueSet",
 * "db":0,"key":"user:1","value":"alice","expireAt":1764079380250}` — the event's fields exactly
 * as in the event catalogue (ARCHITECTURE.md), plus the record's `seq`, `at`, ISO `time` and the
 * event's `index` in the record. Byte strings are one char per byte (see ./text.ts).
 *
 * @category cli
 */
import type { Event, EventType } from '../../../domain/event.js'
import { touchedKeys } from '../../../domain/event.js'
import { globMatch } from '../../../domain/glob.js'
import type { LogRecord } from '../../eventLog.js'
import { isoTime, repr, reprCut } from './text.js'

export interface RenderOptions {
  /** Bytes of a value shown before it is cut (0: whole values). */
  readonly maxValue: number
}

const TYPE_WIDTH = 19

const deadline = (at: number | null): string => (at === null ? '' : ` expires ${isoTime(at)}`)

/** The event-specific part of a text line. */
export const eventFields = (e: Event, o: RenderOptions): string => {
  const v = (s: string): string => reprCut(s, o.maxValue)
  switch (e.type) {
    case 'ValueSet':
      return `${repr(e.key)} = ${v(e.value)}${deadline(e.expireAt)}`
    case 'ValueAppended':
      return `${repr(e.key)} += ${v(e.suffix)}`
    case 'RangeOverwritten':
      return `${repr(e.key)} [${e.offset}] = ${v(e.bytes)}`
    case 'KeysDeleted':
      return e.keys.map(repr).join(' ')
    case 'ExpirySet':
      return `${repr(e.key)} expires ${isoTime(e.at)}`
    case 'ExpiryRemoved':
      return `${repr(e.key)} persists`
    case 'KeyExpired':
      return `${repr(e.key)} (deadline passed, found at ${isoTime(e.at)})`
    case 'DatabaseFlushed':
      return ''
    case 'AllDatabasesFlushed':
      return ''
    case 'DatabasesSwapped':
      return `db${e.db} <-> db${e.other}`
    case 'KeyRenamed':
      return `${repr(e.from)} -> ${repr(e.to)}`
    case 'KeyMoved':
      return `${repr(e.key)} -> db${e.toDb}`
    case 'KeyCopied':
      return `${repr(e.from)} -> db${e.toDb} ${repr(e.to)}`
  }
}

const dbColumn = (e: Event): string => ('db' in e ? `db${e.db}` : '*').padEnd(4)

/** One text line for one event of a record. */
export const eventLine = (seq: number, at: number, e: Event, o: RenderOptions): string =>
  `${String(seq).padStart(7)} ${isoTime(at)} ${dbColumn(e)} ${e.type.padEnd(TYPE_WIDTH)} ${eventFields(e, o)}`.trimEnd()

/** One NDJSON line for one event of a record. */
export const eventJson = (seq: number, at: number, index: number, e: Event): string =>
  JSON.stringify({ seq, at, time: isoTime(at), index, ...e })

// ---------------------------------------------------------------------------------------------
// filters
// ---------------------------------------------------------------------------------------------

export interface EventFilter {
  readonly db?: number
  /** An exact key (byte string). */
  readonly key?: string
  /** A glob pattern (Redis's KEYS/SCAN MATCH syntax) over keys. */
  readonly match?: string
  readonly types?: ReadonlySet<EventType>
}

export interface RecordFilter extends EventFilter {
  readonly fromSeq?: number
  readonly toSeq?: number
  readonly since?: number
  readonly until?: number
}

/** The databases an event touches (all 16 for FLUSHALL). */
export const eventDbs = (e: Event): ReadonlyArray<number> => {
  switch (e.type) {
    case 'AllDatabasesFlushed':
      return ALL_DBS
    case 'DatabasesSwapped':
      return [e.db, e.other]
    case 'KeyMoved':
    case 'KeyCopied':
      return e.db === e.toDb ? [e.db] : [e.db, e.toDb]
    default:
      return [e.db]
  }
}

const ALL_DBS = Array.from({ length: 16 }, (_, i) => i)

/** The keys an event names, with their databases (a rename names both keys). */
const namedKeys = (e: Event): ReadonlyArray<readonly [number, string]> =>
  e.type === 'KeyCopied' ? [[e.db, e.from], [e.toDb, e.to]] : touchedKeys(e)

export const eventMatches = (e: Event, f: EventFilter): boolean => {
  if (f.types !== undefined && !f.types.has(e.type)) return false
  if (f.key === undefined && f.match === undefined) return f.db === undefined || eventDbs(e).includes(f.db)
  for (const [db, key] of namedKeys(e)) {
    if (f.db !== undefined && db !== f.db) continue
    if (f.key !== undefined ? key === f.key : globMatch(f.match!, key)) return true
  }
  return false
}

/** Whether the record itself (seq, time) passes; events are filtered separately. */
export const recordMatches = (r: LogRecord, f: RecordFilter): boolean =>
  (f.fromSeq === undefined || r.seq >= f.fromSeq) &&
  (f.toSeq === undefined || r.seq <= f.toSeq) &&
  (f.since === undefined || r.at >= f.since) &&
  (f.until === undefined || r.at <= f.until)

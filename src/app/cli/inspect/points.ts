/**
 * Parsing command-line numbers, times and points of the log.
 *
 * - A **seq** is a record's sequence number: a non-negative integer.
 * - A **time** is an ISO-8601 date or date-time (`2026-11-25`, `2026-11-25T14:02:00Z`,
 *   `2026-11-25T14:02:00.250+01:00`; without a zone, local time, as JavaScript's Date does) or
 *   Unix epoch milliseconds (`1764079320000`, or `@1764079320000`).
 * - A **point** (`--at`, `--from`, `--to`) is either: a plain integer is a seq; `@<ms>` or an ISO
 *   date is a time. A plain integer of 12 digits or more is refused as ambiguous (seqs are never
 *   that large; write `@<ms>` for a time).
 *
 * The state **at seq N** is the state after record N. The state **at time T** is the state
 * after the longest prefix of the log whose records all have times ≤ T (records are in seq
 * order; if the wall clock stepped back, the first record later than T ends the prefix).
 *
 * @category cli
 */
import { usage } from './io.js'

export type Point =
  | { readonly kind: 'seq'; readonly seq: number }
  | { readonly kind: 'time'; readonly at: number }
  | { readonly kind: 'end' }

const INT = /^(0|[1-9][0-9]*)$/
const EPOCH = /^@?-?(0|[1-9][0-9]*)$/
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$/

/** A non-negative safe integer. */
export const parseCount = (text: string, option: string): number => {
  const t = text.trim()
  if (!INT.test(t) || !Number.isSafeInteger(Number(t))) throw usage(`${option}: expected a non-negative integer, got ${JSON.stringify(text)}`)
  return Number(t)
}

/** A database index 0..15. */
export const parseDb = (text: string, option = '--db'): number => {
  const n = parseCount(text, option)
  if (n > 15) throw usage(`${option}: database index out of range (0..15), got ${n}`)
  return n
}

/** A time: ISO-8601 or epoch ms (optionally prefixed with `@`). */
export const parseTime = (text: string, option: string): number => {
  const t = text.trim()
  if (EPOCH.test(t)) {
    const n = Number(t.startsWith('@') ? t.slice(1) : t)
    if (Number.isSafeInteger(n)) return n
  } else if (ISO.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T'))
    if (!Number.isNaN(ms)) return ms
  }
  throw usage(`${option}: expected an ISO-8601 time (2026-11-25T14:02:00Z) or epoch milliseconds, got ${JSON.stringify(text)}`)
}

/** A point of the log: a seq (plain integer) or a time (ISO-8601, or `@<epoch ms>`). */
export const parsePoint = (text: string, option: string): Point => {
  const t = text.trim()
  if (INT.test(t)) {
    if (t.length >= 12) {
      throw usage(`${option}: ${t} is ambiguous: a plain integer is a record seq; write @${t} for epoch milliseconds`)
    }
    return { kind: 'seq', seq: Number(t) }
  }
  if (t.startsWith('@') || ISO.test(t)) return { kind: 'time', at: parseTime(t, option) }
  throw usage(`${option}: expected a record seq (42), an ISO-8601 time (2026-11-25T14:02:00Z) or @<epoch ms>, got ${JSON.stringify(text)}`)
}

/** How a point reads in messages: `seq 42`, `2026-11-25T14:02:00.000Z`, `the end of the log`. */
export const describePoint = (p: Point): string =>
  p.kind === 'seq' ? `seq ${p.seq}` : p.kind === 'time' ? isoOrMs(p.at) : 'the end of the log'

const isoOrMs = (ms: number): string => {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? `@${ms}` : d.toISOString()
}

/**
 * Text helpers of the inspection CLI: byte strings shown the way redis-cli shows them, times,
 * numbers and durations.
 *
 * Keys and values are byte strings (one char per byte). On a terminal they are printed like
 * redis-cli's `sdscatrepr`: in double quotes, printable ASCII as is, `\\` `\"` `\n` `\r` `\t`
 * `\a` `\b` escaped, every other byte as `\xhh`. Long values are cut after `max` bytes and say how
 * long they were: `"aaaa"...(1048576 bytes)`.
 *
 * In `--json` output byte strings stay what they are everywhere else on disk (the snapshot
 * format): JSON strings with one char per byte, U+0000..U+00FF; `Buffer.from(s, 'latin1')` gives
 * the bytes back.
 *
 * @category cli
 */

import { repr } from '../../../domain/repr.js'

export { repr }

/** `repr` of at most `max` bytes (0: no limit); a longer value ends with `...(N bytes)`. */
export const reprCut = (s: string, max: number): string =>
  max > 0 && s.length > max ? `${repr(s.slice(0, max))}...(${s.length} bytes)` : repr(s)

/** A time as ISO-8601 UTC with milliseconds, or the number when it is outside Date's range. */
export const isoTime = (ms: number): string => {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? `@${ms}` : d.toISOString()
}

/** `1234567` → `1,234,567`. */
export const count = (n: number): string => n.toLocaleString('en-US')

/** `n word` or `n words`, n with thousands separators. */
export const plural = (n: number, word: string): string => `${count(n)} ${word}${n === 1 ? '' : 's'}`

/** A byte size: `512 B`, `1.5 KiB`, `3.2 MiB`. */
export const bytes = (n: number): string => {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(1)} ${units[u]}`
}

/** A duration in ms: `850ms`, `12.3s`, `4m 05s`, `2h 03m`, `3d 04h`. */
export const duration = (ms: number): string => {
  if (ms < 1000) return `${ms}ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)}s`
  const two = (n: number): string => String(Math.floor(n)).padStart(2, '0')
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${two((s % 3600) / 60)}m`
  return `${Math.floor(s / 86400)}d ${two((s % 86400) / 3600)}h`
}

const SPARKS = '▁▂▃▄▅▆▇█'

/** A sparkline of non-negative counts: an empty bucket is a space, the largest a full block. */
export const sparkline = (values: ReadonlyArray<number>): string => {
  const max = Math.max(0, ...values)
  return values.map((v) => (v === 0 || max === 0 ? ' ' : SPARKS[Math.min(7, Math.floor((v / max) * 7.999))])).join('')
}

/** A horizontal bar of `width` cells for `value` out of `max`. */
export const bar = (value: number, max: number, width: number): string =>
  max === 0 ? '' : '█'.repeat(Math.max(value > 0 ? 1 : 0, Math.round((value / max) * width)))

/**
 * Argument parsing with Redis's exact rules (util.c `string2ll`, `string2ld`).
 *
 * @category parsers
 */
import { INT64_MAX, INT64_MIN } from './primitives.js'

const INTEGER_SYNTAX = /^(?:0|-?[1-9][0-9]*)$/

/**
 * Parses a signed 64-bit integer the way Redis's `string2ll` does: no sign '+', no spaces, no
 * leading zeros, at most 20 chars, within int64. Returns undefined when it is not one.
 */
export const parseInt64 = (s: string): bigint | undefined => {
  if (s.length === 0 || s.length > 20 || !INTEGER_SYNTAX.test(s)) return undefined
  const v = BigInt(s)
  return v < INT64_MIN || v > INT64_MAX ? undefined : v
}

/**
 * Parses an int64 (same rules as {@link parseInt64}) as a JS number. Values beyond ±2^53 lose
 * precision, so callers that must detect int64 overflow exactly use `parseInt64` instead.
 */
export const parseInteger = (s: string): number | undefined => {
  if (s.length <= 15) {
    if (!INTEGER_SYNTAX.test(s)) return undefined
    return Number(s)
  }
  const v = parseInt64(s)
  return v === undefined ? undefined : Number(v)
}

const FLOAT_SYNTAX = /^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)$/i

/**
 * Parses a float the way Redis's `string2ld` does: strtold over the whole string, no spaces,
 * rejecting NaN. Returns undefined when it is not a valid float.
 */
export const parseFloatStrict = (s: string): number | undefined => {
  if (s.length === 0 || s.length > 5000 || !FLOAT_SYNTAX.test(s)) return undefined
  const lower = s.toLowerCase()
  if (lower.includes('nan')) return undefined
  if (lower.includes('inf')) return lower.startsWith('-') ? -Infinity : Infinity
  const v = Number(s)
  return Number.isNaN(v) ? undefined : v
}

/** Formats a double reply the way Redis 7.0 does for RESP2 bulk doubles (`%.17g`). */
export const formatDouble = (x: number): string => {
  if (x === Infinity) return 'inf'
  if (x === -Infinity) return '-inf'
  if (Number.isInteger(x) && Math.abs(x) < 1e17) return String(x)
  return String(Number(x.toPrecision(17)))
}

/** Upper-cases an ASCII option name for case-insensitive matching. */
export const upper = (s: string): string => s.toUpperCase()

/**
 * x87 80-bit `long double` arithmetic, emulated exactly with BigInt, for INCRBYFLOAT.
 *
 * Redis parses both operands with `strtold`, adds them as `long double` (64-bit mantissa) and
 * prints `%.17Lf` with trailing zeros removed (util.c `ld2string`, LD_STR_HUMAN). A JS double
 * cannot reproduce that: Redis answers `10.6` for 10.5 + 0.1 and `5000.10000000000000009` for
 * 5000 + 0.1. So values are held as `mantissa × 2^exponent` with a 64-bit mantissa, rounded
 * half-to-even at every step, exactly as the FPU does.
 *
 * @category utils
 */

/** A finite long double: `mantissa × 2^exponent`, mantissa 0 or with exactly 64 significant bits. */
export interface LongDouble {
  readonly mantissa: bigint // signed
  readonly exponent: number
}

const MANTISSA_BITS = 64
/** Exponent bounds of the x87 extended format (value = m × 2^e with m < 2^64). */
const MAX_EXPONENT = 16384 - MANTISSA_BITS // m × 2^e < 2^16384
const MIN_EXPONENT = -16445 // smallest subnormal is 2^-16445

const bitLength = (n: bigint): number => (n === 0n ? 0 : n.toString(2).length)

/** Rounds num/den (positive) to the nearest integer, ties to even. */
const roundDiv = (num: bigint, den: bigint): bigint => {
  const q = num / den
  const r2 = (num % den) * 2n
  if (r2 > den || (r2 === den && (q & 1n) === 1n)) return q + 1n
  return q
}

/**
 * The long double nearest to `sign × num / den` (num, den > 0), or undefined on overflow.
 * Values below the smallest subnormal round to zero.
 */
const fromRatio = (negative: boolean, num: bigint, den: bigint): LongDouble | undefined => {
  if (num === 0n) return { mantissa: 0n, exponent: 0 }
  // Choose e so that num / den / 2^e has 64 bits before rounding.
  let e = bitLength(num) - bitLength(den) - MANTISSA_BITS
  let m: bigint
  for (;;) {
    if (e < MIN_EXPONENT) e = MIN_EXPONENT
    m = e >= 0 ? roundDiv(num, den << BigInt(e)) : roundDiv(num << BigInt(-e), den)
    if (bitLength(m) > MANTISSA_BITS) e++
    else if (bitLength(m) < MANTISSA_BITS && e > MIN_EXPONENT && m !== 0n) e--
    else break
  }
  if (e > MAX_EXPONENT) return undefined
  return { mantissa: negative ? -m : m, exponent: e }
}

const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/

export type ParsedLongDouble = LongDouble | 'overflow' | 'underflow' | undefined

/**
 * `strtold` for decimal literals: the nearest long double, 'overflow'/'underflow' where strtold
 * sets ERANGE (Redis's `string2ld` then rejects the string), undefined when not a decimal literal.
 */
export const parseLongDouble = (text: string): ParsedLongDouble => {
  const m = DECIMAL.exec(text)
  if (m === null) return undefined
  const [, sign, intPart = '', fracPart = '', expPart] = m
  if (intPart.length === 0 && fracPart.length === 0) return undefined
  const exp10 = (expPart === undefined ? 0 : Number(expPart)) - fracPart.length
  if (!Number.isSafeInteger(exp10) || Math.abs(exp10) > 20000) {
    return /[1-9]/.test(intPart + fracPart) ? (exp10 > 0 ? 'overflow' : 'underflow') : { mantissa: 0n, exponent: 0 }
  }
  const digits = BigInt(intPart + fracPart || '0')
  if (digits === 0n) return { mantissa: 0n, exponent: 0 }
  const num = exp10 >= 0 ? digits * 10n ** BigInt(exp10) : digits
  const den = exp10 >= 0 ? 1n : 10n ** BigInt(-exp10)
  const value = fromRatio(sign === '-', num, den)
  if (value === undefined) return 'overflow'
  return value.mantissa === 0n ? 'underflow' : value
}

/** a + b rounded to a long double, or undefined on overflow (infinity). */
export const addLongDouble = (a: LongDouble, b: LongDouble): LongDouble | undefined => {
  if (a.mantissa === 0n) return b
  if (b.mantissa === 0n) return a
  const e = Math.min(a.exponent, b.exponent)
  const sum = (a.mantissa << BigInt(a.exponent - e)) + (b.mantissa << BigInt(b.exponent - e))
  if (sum === 0n) return { mantissa: 0n, exponent: 0 }
  const abs = sum < 0n ? -sum : sum
  return e >= 0 ? fromRatio(sum < 0n, abs << BigInt(e), 1n) : fromRatio(sum < 0n, abs, 1n << BigInt(-e))
}

/** `%.17Lf` (exact value rounded half-to-even at 17 decimals) with trailing zeros removed; "-0" → "0". */
export const formatHuman = (x: LongDouble): string => {
  const negative = x.mantissa < 0n
  const abs = negative ? -x.mantissa : x.mantissa
  const scaled =
    x.exponent >= 0 ? (abs << BigInt(x.exponent)) * 10n ** 17n : roundDiv(abs * 10n ** 17n, 1n << BigInt(-x.exponent))
  let text = scaled.toString().padStart(18, '0')
  text = `${text.slice(0, -17)}.${text.slice(-17)}`.replace(/0+$/, '').replace(/\.$/, '')
  if (text === '0') return '0'
  return negative ? `-${text}` : text
}

/**
 * Exact decimal arithmetic for INCRBYFLOAT.
 *
 * Redis computes INCRBYFLOAT in `long double` (64-bit mantissa, ~19 significant digits) and
 * prints with `%.17Lf`, trailing zeros removed (`ld2string`, LD_STR_HUMAN). So `10.5 + 0.1` is
 * "10.6" and `0.1 + 0.2` is "0.3" — results a JS double cannot reproduce (0.1 + 0.2 =
 * 0.30000000000000004). Adding the two decimal strings exactly and rounding to 17 decimals gives
 * Redis's output whenever the operands have at most ~19 significant digits, i.e. in practice.
 *
 * @category utils
 */

/** A decimal number as `digits × 10^-scale`. */
export interface Decimal {
  readonly digits: bigint
  readonly scale: number
}

const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/

/** Parses a finite decimal literal (as accepted by strtold, minus hex/inf/nan); undefined if not one. */
export const parseDecimal = (text: string): Decimal | undefined => {
  const m = DECIMAL.exec(text)
  if (m === null) return undefined
  const [, sign, intPart = '', fracPart = '', expPart] = m
  if (intPart.length === 0 && fracPart.length === 0) return undefined
  const exponent = expPart === undefined ? 0 : Number(expPart)
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 5000) return undefined
  let digits = BigInt((intPart + fracPart).replace(/^0+(?=.)/, '') || '0')
  let scale = fracPart.length - exponent
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale)
    scale = 0
  }
  return { digits: sign === '-' ? -digits : digits, scale }
}

export const addDecimal = (a: Decimal, b: Decimal): Decimal => {
  const scale = Math.max(a.scale, b.scale)
  return { digits: a.digits * 10n ** BigInt(scale - a.scale) + b.digits * 10n ** BigInt(scale - b.scale), scale }
}

/** Largest magnitude a long double holds (~1.19e4932): beyond it Redis reports infinity. */
const LONG_DOUBLE_MAX_DIGITS = 4933

/** Whether the value would overflow a long double (Redis: "increment would produce NaN or Infinity"). */
export const overflowsLongDouble = (d: Decimal): boolean => {
  const abs = d.digits < 0n ? -d.digits : d.digits
  return abs.toString().length - d.scale > LONG_DOUBLE_MAX_DIGITS
}

/** Formats like `%.17Lf` with trailing zeros and dot removed; "-0" becomes "0". */
export const formatDecimal17 = (d: Decimal): string => {
  const negative = d.digits < 0n
  let abs = negative ? -d.digits : d.digits
  let scale = d.scale
  if (scale > 17) {
    // Round half away from zero at 17 decimals.
    const divisor = 10n ** BigInt(scale - 17)
    const quotient = abs / divisor
    const remainder = abs % divisor
    abs = remainder * 2n >= divisor ? quotient + 1n : quotient
    scale = 17
  }
  let text = abs.toString()
  if (scale > 0) {
    text = text.padStart(scale + 1, '0')
    text = `${text.slice(0, text.length - scale)}.${text.slice(text.length - scale)}`.replace(/0+$/, '').replace(/\.$/, '')
  }
  if (text === '0') return '0'
  return negative ? `-${text}` : text
}

/**
 * Inline-command splitting: Redis's `sdssplitargs` (sds.c), byte for byte.
 *
 * An inline request (telnet style, `SET k "a b"\r\n`) is one line split into arguments:
 * - blanks (C `isspace`: space, \t, \n, \v, \f, \r) separate arguments and are trimmed;
 * - inside `"…"` the escapes `\n \r \t \b \a \\ \"` and `\xHH` are decoded, any other `\c`
 *   gives `c`;
 * - inside `'…'` only `\'` is an escape;
 * - a quote may start in the middle of a token (`ab"cd"` is `abcd`), but a closing quote must be
 *   followed by a blank or the end of the line — otherwise, like an unterminated quote, the whole
 *   request is refused ("unbalanced quotes"), and the server closes the connection.
 *
 * Only blank, \n, \r, \t end an unquoted token; \v and \f are skipped between tokens but kept
 * inside one, exactly as the C code's `switch` does. The caller guarantees the line holds no NUL
 * byte (Redis never sees past one: it finds the newline with `strchr`).
 *
 * @category resp
 */
import { latin1 } from '../byteString.js'

const SPACE = 0x20
const TAB = 0x09
const LF = 0x0a
const VT = 0x0b
const FF = 0x0c
const CR = 0x0d
const DQUOTE = 0x22
const SQUOTE = 0x27
const BACKSLASH = 0x5c

/** C `isspace` in the "C" locale. */
const isSpace = (c: number): boolean => c === SPACE || (c >= TAB && c <= CR)

const hexValue = (c: number): number => {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10
  return -1
}

/**
 * Splits `buf[start, end)` into arguments (byte strings), or returns null when quotes are
 * unbalanced. An empty or blank line gives an empty array (Redis then sends no reply at all).
 */
export const splitArgs = (buf: Buffer, start: number, end: number): string[] | null => {
  const args: string[] = []
  let p = start
  for (;;) {
    while (p < end && isSpace(buf[p]!)) p++
    if (p >= end) return args

    // Fast path: a plain token (no quotes) is one slice of the buffer.
    const tokenStart = p
    while (p < end) {
      const c = buf[p]!
      if (c === SPACE || c === LF || c === CR || c === TAB || c === DQUOTE || c === SQUOTE) break
      p++
    }
    if (p >= end || (buf[p] !== DQUOTE && buf[p] !== SQUOTE)) {
      args.push(latin1(buf, tokenStart, p))
      if (p < end) p++ // the separator, as the C loop's trailing `p++`
      continue
    }

    // Slow path: a token with quotes, decoded char by char.
    let current = latin1(buf, tokenStart, p)
    let inDouble = false
    let inSingle = false
    let done = false
    while (!done) {
      const c = p < end ? buf[p]! : 0
      if (inDouble) {
        if (c === BACKSLASH && p + 3 < end && buf[p + 1] === 0x78 && hexValue(buf[p + 2]!) >= 0 && hexValue(buf[p + 3]!) >= 0) {
          current += String.fromCharCode(hexValue(buf[p + 2]!) * 16 + hexValue(buf[p + 3]!))
          p += 3
        } else if (c === BACKSLASH && p + 1 < end) {
          p++
          const e = buf[p]!
          current += String.fromCharCode(
            e === 0x6e ? LF : e === 0x72 ? CR : e === 0x74 ? TAB : e === 0x62 ? 0x08 : e === 0x61 ? 0x07 : e,
          )
        } else if (c === DQUOTE) {
          // The closing quote must be followed by a blank or nothing at all.
          if (p + 1 < end && !isSpace(buf[p + 1]!)) return null
          done = true
        } else if (p >= end) {
          return null // unterminated quotes
        } else {
          current += String.fromCharCode(c)
        }
      } else if (inSingle) {
        if (c === BACKSLASH && p + 1 < end && buf[p + 1] === SQUOTE) {
          p++
          current += "'"
        } else if (c === SQUOTE) {
          if (p + 1 < end && !isSpace(buf[p + 1]!)) return null
          done = true
        } else if (p >= end) {
          return null
        } else {
          current += String.fromCharCode(c)
        }
      } else if (p >= end || c === SPACE || c === LF || c === CR || c === TAB) {
        done = true
      } else if (c === DQUOTE) {
        inDouble = true
      } else if (c === SQUOTE) {
        inSingle = true
      } else {
        current += String.fromCharCode(c)
      }
      if (p < end) p++
    }
    args.push(current)
  }
}

/** Exposed for tests: the characters `isspace` accepts. */
export const INLINE_BLANKS: ReadonlyArray<number> = [SPACE, TAB, LF, VT, FF, CR]

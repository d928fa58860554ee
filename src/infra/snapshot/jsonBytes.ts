/**
 * Byte-level JSON for snapshot lines: writes byte strings as JSON string literals straight into a
 * UTF-8 buffer, and reads the canonical entry line back without building intermediate strings.
 *
 * Why not `JSON.stringify` + `Buffer.from` and `JSON.parse`: a million-key snapshot spends most of
 * its serialization time building and re-encoding intermediate strings (and the garbage they
 * leave lengthens GC pauses while clients are served); reading, the generic parser allocates an
 * object per line that is thrown away at once. Output is byte-identical to `JSON.stringify` (same
 * escapes, lowercase `\u00xx`), so `jq` and any JSON reader see the same text; the reader accepts
 * any JSON line through a fallback, so hand-edited snapshots still load.
 *
 * A byte string's char c (0..255) is written as: `\"`, `\\`, `\b \f \n \r \t`, `\u00xx` for the
 * other controls below 0x20, the byte itself for 0x20..0x7f, and the two UTF-8 bytes of U+00c0..
 * for 0x80..0xff.
 *
 * @category infra
 */
import { isByteString } from '../../domain/event.js'

// ---------------------------------------------------------------------------------------------
// writing
// ---------------------------------------------------------------------------------------------

const HEX = '0123456789abcdef'
const QUOTE = 0x22
const BACKSLASH = 0x5c

/** A growable output buffer; reused between slices once each slice's write has completed. */
export class JsonOut {
  buf: Buffer
  pos = 0

  constructor(initial = 256 * 1024) {
    this.buf = Buffer.allocUnsafe(initial)
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = Buffer.allocUnsafe(size)
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  /** Text known to be ASCII (field names, numbers, punctuation). */
  ascii(text: string): void {
    this.ensure(text.length)
    this.pos += this.buf.write(text, this.pos, 'latin1')
  }

  /** Pre-encoded bytes (short constant fragments). */
  bytes(b: Uint8Array): void {
    const n = b.length
    this.ensure(n)
    const buf = this.buf
    const p = this.pos
    for (let i = 0; i < n; i++) buf[p + i] = b[i]!
    this.pos = p + n
  }

  /** A safe integer in decimal. */
  integer(v: number): void {
    if (v >= 0 && v < 10) {
      this.ensure(1)
      this.buf[this.pos++] = 0x30 + v
      return
    }
    this.ascii(String(v))
  }

  /** A byte string as a JSON string literal, quotes included. */
  byteString(s: string): void {
    const n = s.length
    this.ensure(2 + 6 * n)
    const buf = this.buf
    let p = this.pos
    buf[p++] = QUOTE
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x20 && c < 0x80) {
        if (c === QUOTE || c === BACKSLASH) buf[p++] = BACKSLASH
        buf[p++] = c
      } else if (c >= 0x80) {
        buf[p++] = 0xc0 | (c >> 6)
        buf[p++] = 0x80 | (c & 0x3f)
      } else {
        buf[p++] = BACKSLASH
        switch (c) {
          case 0x08:
            buf[p++] = 0x62 // b
            break
          case 0x09:
            buf[p++] = 0x74 // t
            break
          case 0x0a:
            buf[p++] = 0x6e // n
            break
          case 0x0c:
            buf[p++] = 0x66 // f
            break
          case 0x0d:
            buf[p++] = 0x72 // r
            break
          default:
            buf[p++] = 0x75 // u
            buf[p++] = 0x30
            buf[p++] = 0x30
            buf[p++] = HEX.charCodeAt(c >> 4)
            buf[p++] = HEX.charCodeAt(c & 15)
        }
      }
    }
    buf[p++] = QUOTE
    this.pos = p
  }
}

// ---------------------------------------------------------------------------------------------
// reading the canonical entry line
// ---------------------------------------------------------------------------------------------

/**
 * A parsed entry line. `key` and `value` are byte strings; the numbers are unvalidated (the
 * caller checks them with the domain's field predicates).
 */
export interface RawEntry {
  db: number
  key: string
  value: string
  expireAt: number | null
}

const PREFIX_DB = Buffer.from('{"db":', 'latin1')
const MID_KEY = Buffer.from(',"key":', 'latin1')
const MID_VALUE = Buffer.from(',"value":', 'latin1')
const MID_EXPIRE = Buffer.from(',"expireAt":', 'latin1')
const NULL = Buffer.from('null', 'latin1')

/** A cursor over one line `buf[pos, end)`. Every method returns false when the text does not match. */
class LineCursor {
  pos = 0
  end = 0
  constructor(public buf: Buffer) {}

  literal(bytes: Buffer): boolean {
    const n = bytes.length
    if (this.pos + n > this.end) return false
    for (let i = 0; i < n; i++) if (this.buf[this.pos + i] !== bytes[i]) return false
    this.pos += n
    return true
  }

  /** An optional '-' and 1..16 digits; NaN when absent or too long for a safe integer. */
  integer(): number {
    const buf = this.buf
    let p = this.pos
    const negative = buf[p] === 0x2d
    if (negative) p++
    const start = p
    let v = 0
    while (p < this.end) {
      const d = buf[p]! - 0x30
      if (d < 0 || d > 9) break
      v = v * 10 + d
      p++
    }
    // JSON has no leading zeros; more than 16 digits cannot be a safe integer.
    if (p === start || p - start > 16 || (buf[start] === 0x30 && p - start > 1)) return NaN
    this.pos = p
    return negative ? -v : v
  }

  /**
   * A JSON string literal. Plain ASCII without escapes is sliced directly; anything else
   * (escapes, UTF-8 sequences) is decoded by JSON.parse on that literal alone.
   */
  string(): string | undefined {
    const buf = this.buf
    if (buf[this.pos] !== QUOTE) return undefined
    const start = this.pos + 1
    let p = start
    let plain = true
    for (;;) {
      if (p >= this.end) return undefined
      const c = buf[p]!
      if (c === QUOTE) break
      if (c === BACKSLASH) {
        plain = false
        p += 2
        continue
      }
      if (c >= 0x80 || c < 0x20) plain = false
      p++
    }
    this.pos = p + 1
    if (plain) return buf.toString('latin1', start, p)
    try {
      const s: unknown = JSON.parse(buf.toString('utf8', start - 1, p + 1))
      // Only byte strings (see RawEntry); anything else takes the general path and its error.
      return typeof s === 'string' && isByteString(s) ? s : undefined
    } catch {
      return undefined
    }
  }
}

/**
 * Reads `buf[start, end)` (a line without its newline) as the canonical entry line the writer
 * produces: `{"db":N,"key":"…","value":"…","expireAt":null|N}`. Returns undefined when the line
 * has another shape (the caller then falls back to JSON.parse), filling and returning `out`
 * otherwise.
 */
export const readCanonicalEntry = (cursor: EntryCursor, start: number, end: number, out: RawEntry): RawEntry | undefined => {
  const c = cursor.c
  c.pos = start
  c.end = end
  if (!c.literal(PREFIX_DB)) return undefined
  const db = c.integer()
  if (Number.isNaN(db) || !c.literal(MID_KEY)) return undefined
  const key = c.string()
  if (key === undefined || !c.literal(MID_VALUE)) return undefined
  const value = c.string()
  if (value === undefined || !c.literal(MID_EXPIRE)) return undefined
  let expireAt: number | null
  if (c.literal(NULL)) expireAt = null
  else {
    expireAt = c.integer()
    if (Number.isNaN(expireAt)) return undefined
  }
  if (c.pos !== end - 1 || c.buf[c.pos] !== 0x7d) return undefined
  out.db = db
  out.key = key
  out.value = value
  out.expireAt = expireAt
  return out
}

/** A reusable cursor over one read buffer (re-point it with `at` when the buffer changes). */
export class EntryCursor {
  readonly c: LineCursor
  constructor(buf: Buffer) {
    this.c = new LineCursor(buf)
  }
  at(buf: Buffer): this {
    this.c.buf = buf
    return this
  }
}

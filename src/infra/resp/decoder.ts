/**
 * The request decoder: bytes from a client socket → command argument vectors.
 *
 * Clients send commands either as a RESP multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or as an
 * inline line (`GET k\r\n`, see splitArgs.ts). This decoder reproduces Redis 7.0's
 * `processMultibulkBuffer` / `processInlineBuffer` (networking.c) exactly, including their quirks,
 * because clients and Redis's own test-suite depend on them:
 * - a frame may be split across reads at any byte; "not enough bytes yet" is the normal
 *   `undefined` result, never an error (rule R11), and parsing resumes where it stopped;
 * - the request type is chosen by the first byte: `*` is a multibulk, anything else inline;
 * - `*0` and `*-N` are empty requests and, like blank inline lines, get no reply at all;
 * - length lines are found with C `strchr`, which stops at a NUL byte: a NUL before the CR means
 *   the line never ends (the "protocol desync" case) until it passes 64 KiB;
 * - the two bytes after a bulk's payload are skipped without being checked, as Redis does;
 * - every malformed input gives Redis's exact "Protocol error: …" text; the connection answers it
 *   and closes (the decoder stays failed).
 *
 * Memory: declared counts and lengths are only compared with limits, never used to preallocate.
 * A large bulk still arriving is kept as the list of chunks that hold it and joined once when
 * complete, so a 512 MiB value costs one copy, not one per read. Smaller partial frames are
 * carried over in a growable buffer (amortized linear even when the client sends one byte per
 * packet).
 *
 * Arguments come out as byte strings (one JS char per byte, `latin1Slice`): binary-safe, never
 * decoded as UTF-8, and — being fresh strings — they pin no socket buffer once stored.
 *
 * @category resp
 */
import {
  DEFAULT_PROTO_MAX_BULK_LEN,
  INT_MAX,
  MAX_ARGUMENT_BYTES,
  PROTO_INLINE_MAX_SIZE,
  UNAUTHENTICATED_MAX_BULK,
  UNAUTHENTICATED_MAX_MULTIBULK,
} from './limits.js'
import { splitArgs } from './splitArgs.js'
import { latin1 } from '../byteString.js'

// ---------------------------------------------------------------------------------------------
// results
// ---------------------------------------------------------------------------------------------

/**
 * A malformed request. `message` is the error text after `-ERR ` (`Protocol error: …`); the
 * connection replies `-ERR <message>` and then closes.
 */
export class ProtocolError {
  constructor(readonly message: string) {}
}

// ---------------------------------------------------------------------------------------------
// byte constants
// ---------------------------------------------------------------------------------------------

const NUL = 0x00
const LF = 0x0a
const CR = 0x0d
const STAR = 0x2a // '*'
const DOLLAR = 0x24 // '$'
const MINUS = 0x2d // '-'
const ZERO = 0x30 // '0'

/** Partial bulks at least this long are collected as chunk lists (Redis's PROTO_MBULK_BIG_ARG). */
const BIG_BULK = 32 * 1024
/** Initial capacity of the carry-over buffer. */
const MIN_CARRY = 16 * 1024

const EMPTY = Buffer.alloc(0)

/**
 * Redis's `string2ll` over `buf[start, end)`: an optional '-', no '+', no leading zeros (except
 * "0" itself), no blanks, fewer than 21 chars, within int64. Returns undefined when invalid.
 * Values beyond 2^53 lose precision, which is harmless: every caller rejects them anyway.
 */
export const string2ll = (buf: Buffer, start: number, end: number): number | undefined => {
  const len = end - start
  if (len === 0 || len >= 21) return undefined
  if (len === 1 && buf[start] === ZERO) return 0
  let p = start
  const negative = buf[p] === MINUS
  if (negative && ++p === end) return undefined
  const first = buf[p]! - ZERO
  if (first < 1 || first > 9) return undefined
  let value = first
  for (p++; p < end; p++) {
    const d = buf[p]! - ZERO
    if (d < 0 || d > 9) return undefined
    value = value * 10 + d
  }
  // 19+ digits may overflow int64: check exactly (a rare path, only for hostile input).
  if (end - start >= 19) {
    const big = BigInt(latin1(buf, start, end))
    if (big > 9223372036854775807n || big < -9223372036854775808n) return undefined
    return Number(big)
  }
  return negative ? -value : value
}

// ---------------------------------------------------------------------------------------------
// the decoder
// ---------------------------------------------------------------------------------------------

/** Redis's `c->reqtype`: decided by the first byte of each request. */
const RequestType = { Unknown: 0, Inline: 1, Multibulk: 2 } as const
type RequestType = (typeof RequestType)[keyof typeof RequestType]

/**
 * Incremental decoder for one connection. Feed it with {@link push}; drain it with {@link next}
 * until `undefined`. Not reusable after a {@link ProtocolError}.
 */
export class RequestDecoder {
  /** `proto-max-bulk-len`; the server updates it on CONFIG SET. */
  maxBulkLen: number

  // The unread bytes are buf[pos, end). `owned` means buf is our carry-over buffer (writable,
  // possibly with spare capacity); otherwise it is a chunk handed to push(), read in place.
  private buf: Buffer = EMPTY
  private pos = 0
  private end = 0
  private owned = false
  /** buf is a transient chunk (a socket's static read buffer): {@link release} must copy it. */
  private borrowed = false

  // Multibulk progress, kept across reads like Redis's c->multibulklen / c->bulklen.
  private reqType: RequestType = RequestType.Unknown
  private remaining = 0
  private bulkLen = -1
  private argv: string[] = []
  private argvBytes = 0

  // A big bulk still arriving: the chunks that hold it (and possibly bytes after it).
  private parts: Buffer[] | undefined = undefined
  private partsLength = 0

  private failed: ProtocolError | undefined = undefined

  constructor(maxBulkLen: number = DEFAULT_PROTO_MAX_BULK_LEN) {
    this.maxBulkLen = maxBulkLen
  }

  /**
   * Bytes held for requests not yet returned: unread input plus the arguments of a partially
   * received multibulk. The connection compares it with client-query-buffer-limit.
   */
  get bufferedBytes(): number {
    return this.end - this.pos + this.partsLength + this.argvBytes
  }

  /**
   * Appends `chunk[0, length)`, bytes read from the socket. Without `transient`, the chunk must
   * not be modified afterwards. With `transient` (a static read buffer the next read
   * overwrites), the chunk is read in place until {@link release}, which the caller must call
   * before the memory is reused.
   */
  push(chunk: Buffer, transient = false, length = chunk.length): void {
    if (length === 0) return
    if (this.parts !== undefined) {
      const bytes = length === chunk.length ? chunk : chunk.subarray(0, length)
      this.parts.push(transient ? Buffer.from(bytes) : bytes)
      this.partsLength += length
      return
    }
    const leftover = this.end - this.pos
    if (leftover === 0) {
      // Everything was consumed: read the new chunk in place, without copying.
      this.buf = chunk
      this.pos = 0
      this.end = length
      this.owned = false
      this.borrowed = transient
      return
    }
    const needed = leftover + length
    if (this.owned && this.buf.length - this.end >= length) {
      chunk.copy(this.buf, this.end, 0, length)
      this.end += length
      return
    }
    if (this.owned && this.buf.length >= needed && this.pos >= leftover) {
      // Compact in place: the unread bytes move to the front, no allocation.
      this.buf.copy(this.buf, 0, this.pos, this.end)
    } else {
      const grown = Buffer.allocUnsafe(Math.max(MIN_CARRY, needed * 2))
      this.buf.copy(grown, 0, this.pos, this.end)
      this.buf = grown
      this.owned = true
      this.borrowed = false
    }
    this.pos = 0
    this.end = leftover
    chunk.copy(this.buf, this.end, 0, length)
    this.end += length
  }

  /**
   * Stops reading a transient chunk in place: copies its unread bytes (a partial request, or
   * requests a paused client has not run yet) into the decoder's own buffer. Cheap when all of
   * it was consumed, the usual case.
   */
  release(): void {
    if (!this.borrowed) return
    this.borrowed = false
    const leftover = this.end - this.pos
    if (leftover === 0) {
      this.buf = EMPTY
      this.pos = 0
      this.end = 0
      return
    }
    // Exactly what is left (as the chunk it replaces held it): a client idling on a partial
    // request keeps no spare capacity; the next push grows the buffer if it must.
    const own = Buffer.allocUnsafe(leftover)
    this.buf.copy(own, 0, this.pos, this.end)
    this.buf = own
    this.pos = 0
    this.end = leftover
    this.owned = true
  }

  /**
   * The next complete request's arguments (at least one), `undefined` when more bytes are
   * needed, or a {@link ProtocolError}. `authRequired` applies the unauthenticated limits (it can
   * change between two requests of the same read, after an AUTH).
   */
  next(authRequired = false): string[] | ProtocolError | undefined {
    if (this.failed !== undefined) return this.failed
    for (;;) {
      if (this.reqType === RequestType.Unknown) {
        if (this.pos >= this.end) return undefined
        this.reqType = this.buf[this.pos] === STAR ? RequestType.Multibulk : RequestType.Inline
      }
      const result = this.reqType === RequestType.Inline ? this.inline() : this.multibulk(authRequired)
      if (result === undefined) return undefined
      if (result instanceof ProtocolError) {
        this.failed = result
        return result
      }
      this.reqType = RequestType.Unknown
      if (result.length > 0) return result
      // An empty request (blank line, *0, *-1): no reply, carry on.
    }
  }

  // -------------------------------------------------------------------------------------------
  // inline
  // -------------------------------------------------------------------------------------------

  private inline(): string[] | ProtocolError | undefined {
    const { buf, pos, end } = this
    const newline = this.findByte(LF)
    if (newline === -1) {
      if (end - pos > PROTO_INLINE_MAX_SIZE) return new ProtocolError('Protocol error: too big inline request')
      return undefined
    }
    const lineEnd = newline > pos && buf[newline - 1] === CR ? newline - 1 : newline
    const args = splitArgs(buf, pos, lineEnd)
    if (args === null) return new ProtocolError('Protocol error: unbalanced quotes in request')
    this.pos = newline + 1
    return args
  }

  // -------------------------------------------------------------------------------------------
  // multibulk
  // -------------------------------------------------------------------------------------------

  private multibulk(authRequired: boolean): string[] | ProtocolError | undefined {
    if (this.remaining === 0) {
      const cr = this.findByte(CR)
      if (cr === -1) {
        if (this.end - this.pos > PROTO_INLINE_MAX_SIZE) return new ProtocolError('Protocol error: too big mbulk count string')
        return undefined
      }
      if (cr > this.end - 2) return undefined // the LF is not there yet
      const count = string2ll(this.buf, this.pos + 1, cr)
      if (count === undefined || count > INT_MAX) return new ProtocolError('Protocol error: invalid multibulk length')
      if (count > UNAUTHENTICATED_MAX_MULTIBULK && authRequired) {
        return new ProtocolError('Protocol error: unauthenticated multibulk length')
      }
      this.pos = cr + 2
      if (count <= 0) return EMPTY_ARGV
      this.remaining = count
      this.argv = []
      this.argvBytes = 0
    }

    while (this.remaining > 0) {
      if (this.bulkLen === -1) {
        if (this.parts !== undefined) throw new Error('unreachable: chunk list without a bulk length')
        const cr = this.findByte(CR)
        if (cr === -1) {
          if (this.end - this.pos > PROTO_INLINE_MAX_SIZE) return new ProtocolError('Protocol error: too big bulk count string')
          return undefined
        }
        if (cr > this.end - 2) return undefined
        const first = this.buf[this.pos]!
        if (first !== DOLLAR) {
          return new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(first)}'`)
        }
        const len = string2ll(this.buf, this.pos + 1, cr)
        // Redis's order: proto-max-bulk-len, then the unauthenticated limit; V8's longest string
        // (a Redust-only limit just under 512 MiB) comes last so its text never masks Redis's.
        if (len === undefined || len < 0 || len > this.maxBulkLen) return new ProtocolError('Protocol error: invalid bulk length')
        if (len > UNAUTHENTICATED_MAX_BULK && authRequired) return new ProtocolError('Protocol error: unauthenticated bulk length')
        if (len > MAX_ARGUMENT_BYTES) return new ProtocolError('Protocol error: invalid bulk length')
        this.pos = cr + 2
        this.bulkLen = len
      }

      const need = this.bulkLen + 2 // payload + CRLF (the CRLF is skipped unchecked, as Redis)
      if (this.parts !== undefined) {
        if (this.partsLength < need) return undefined
        this.takeBigBulk(need)
      } else if (this.end - this.pos < need) {
        if (this.bulkLen >= BIG_BULK) {
          // Switch to collecting chunks: the bytes so far become the first part.
          const head = this.buf.subarray(this.pos, this.end)
          this.parts = [this.borrowed ? Buffer.from(head) : head]
          this.borrowed = false
          this.partsLength = this.end - this.pos
          this.buf = EMPTY
          this.pos = 0
          this.end = 0
          this.owned = false
        }
        return undefined
      } else {
        this.argv.push(latin1(this.buf, this.pos, this.pos + this.bulkLen))
        this.pos += need
      }
      this.argvBytes += this.bulkLen
      this.bulkLen = -1
      this.remaining--
    }
    const argv = this.argv
    this.argv = []
    this.argvBytes = 0
    return argv
  }

  /** Joins the chunks of a completed big bulk into one argument; keeps the bytes after it. */
  private takeBigBulk(need: number): void {
    const parts = this.parts!
    const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.partsLength)
    this.argv.push(latin1(whole, 0, this.bulkLen))
    this.parts = undefined
    this.partsLength = 0
    this.buf = whole
    this.pos = need
    this.end = whole.length
    this.owned = false
  }

  /**
   * The index of the first `byte` in the unread bytes, with C `strchr` semantics: -1 when absent
   * or when a NUL byte comes first (Redis's scan stops there).
   */
  private findByte(byte: number): number {
    // A plain loop: the lines searched are short (a length line, an inline command), where a JS
    // loop beats a native indexOf call; it also spots the NUL in the same pass.
    const { buf, end } = this
    for (let i = this.pos; i < end; i++) {
      const c = buf[i]!
      if (c === byte) return i
      if (c === NUL) return -1
    }
    return -1
  }
}

const EMPTY_ARGV: string[] = []

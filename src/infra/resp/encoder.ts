/**
 * The reply encoder: protocol-free {@link Reply} → RESP2 or RESP3 bytes, per connection.
 *
 * The output is a **byte string** (one JS char per byte) that the connection writes with the
 * `latin1` encoding. Bulk payloads are byte strings already, so they are appended as they are —
 * never re-encoded — and small replies cost no Buffer allocation at all: a whole read batch of
 * replies is concatenated (V8 ropes make `+=` cheap) and written with one `socket.write`.
 *
 * Where the two protocols differ (CLIENTS.md §6, Redis 7.0's `addReply*` functions):
 *
 * | Reply      | RESP2                     | RESP3                 |
 * |------------|---------------------------|-----------------------|
 * | nil        | `$-1`                     | `_`                   |
 * | nilArray   | `*-1`                     | `_`                   |
 * | map        | `*2n` flat key/value list | `%n`                  |
 * | set        | `*n`                      | `~n`                  |
 * | double     | bulk string of the text   | `,text`               |
 * | verbatim   | bulk string (no format)   | `=len` `fmt:` payload |
 * | bool       | `:1` / `:0`               | `#t` / `#f`           |
 *
 * Error texts have CR and LF replaced by spaces, as Redis does before sending, so a reply can
 * never break the framing.
 *
 * @category resp
 */
import type { Reply } from '../../domain/reply.js'

/** The protocol a connection speaks: 2 until HELLO 3. */
export type Protocol = 2 | 3

const CRLF = '\r\n'
const NIL2 = '$-1\r\n'
const NIL_ARRAY2 = '*-1\r\n'
const NULL3 = '_\r\n'
const OK = '+OK\r\n'
const QUEUED = '+QUEUED\r\n'
const PONG = '+PONG\r\n'

/** `:0\r\n` … `:1023\r\n`, precomputed: the most common integer replies cost nothing. */
const SMALL_INTS: ReadonlyArray<string> = Array.from({ length: 1024 }, (_, i) => `:${i}\r\n`)

const HAS_NEWLINE = /[\r\n]/
const NEWLINES = /[\r\n]/g

/** Encodes an error text (the whole line after `-`), neutralizing CR/LF like Redis. */
export const encodeError = (message: string): string =>
  HAS_NEWLINE.test(message) ? `-${message.replace(NEWLINES, ' ')}\r\n` : `-${message}\r\n`

/** Encodes a bulk string. */
export const encodeBulk = (value: string): string => `$${value.length}\r\n${value}\r\n`

/**
 * Encodes one reply in the given protocol, as a byte string.
 * Recursion depth equals the reply's nesting depth, which command replies keep small.
 */
export const encodeReply = (reply: Reply, proto: Protocol): string => {
  switch (reply.type) {
    case 'simple':
      // The two most frequent replies by far.
      if (reply.value === 'OK') return OK
      if (reply.value === 'QUEUED') return QUEUED
      if (reply.value === 'PONG') return PONG
      return `+${reply.value}\r\n`
    case 'error':
      return encodeError(reply.message)
    case 'int': {
      const v = reply.value
      if (typeof v === 'number' && v >= 0 && v < 1024 && Number.isInteger(v)) return SMALL_INTS[v]!
      return `:${v}\r\n`
    }
    case 'bulk':
      return `$${reply.value.length}\r\n${reply.value}\r\n`
    case 'nil':
      return proto === 3 ? NULL3 : NIL2
    case 'nilArray':
      return proto === 3 ? NULL3 : NIL_ARRAY2
    case 'array':
      return encodeItems('*', reply.items, proto)
    case 'set':
      return encodeItems(proto === 3 ? '~' : '*', reply.items, proto)
    case 'map': {
      const entries = reply.entries
      let out = proto === 3 ? `%${entries.length}\r\n` : `*${entries.length * 2}\r\n`
      for (const [k, v] of entries) out += encodeReply(k, proto) + encodeReply(v, proto)
      return out
    }
    case 'double':
      return proto === 3 ? `,${reply.text}\r\n` : `$${reply.text.length}\r\n${reply.text}\r\n`
    case 'verbatim':
      return proto === 3
        ? `=${reply.value.length + 4}\r\n${reply.format}:${reply.value}\r\n`
        : `$${reply.value.length}\r\n${reply.value}\r\n`
    case 'bool':
      return proto === 3 ? (reply.value ? '#t\r\n' : '#f\r\n') : reply.value ? SMALL_INTS[1]! : SMALL_INTS[0]!
    default: {
      const never: never = reply
      throw new Error(`unknown reply ${JSON.stringify(never)}`)
    }
  }
}

const encodeItems = (prefix: string, items: ReadonlyArray<Reply>, proto: Protocol): string => {
  let out = `${prefix}${items.length}${CRLF}`
  for (const item of items) out += encodeReply(item, proto)
  return out
}

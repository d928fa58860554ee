/**
 * Reply: the protocol-free answer of a command. The RESP encoder (infra/resp) turns it into
 * RESP2 or RESP3 bytes per connection; the domain never knows which protocol a client speaks.
 *
 * @category model
 */
import type { Bytes } from './primitives.js'

export type Reply =
  | { readonly type: 'simple'; readonly value: string }
  /** `message` is the whole line after `-`, code prefix included: `ERR syntax error`. */
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'int'; readonly value: number | bigint }
  | { readonly type: 'bulk'; readonly value: Bytes }
  /** A missing value: RESP2 `$-1`, RESP3 `_`. */
  | { readonly type: 'nil' }
  /** A missing aggregate (EXEC after a WATCH conflict): RESP2 `*-1`, RESP3 `_`. */
  | { readonly type: 'nilArray' }
  | { readonly type: 'array'; readonly items: ReadonlyArray<Reply> }
  /** RESP3 map; flattened to an array of 2n items in RESP2. */
  | { readonly type: 'map'; readonly entries: ReadonlyArray<readonly [Reply, Reply]> }
  /** RESP3 set; an array in RESP2. */
  | { readonly type: 'set'; readonly items: ReadonlyArray<Reply> }
  /** RESP3 double; a bulk string in RESP2. `text` is Redis's formatting of the number. */
  | { readonly type: 'double'; readonly text: string }
  /** RESP3 verbatim string (`=`) with a 3-letter format; a bulk string in RESP2. */
  | { readonly type: 'verbatim'; readonly format: string; readonly value: Bytes }
  /** RESP3 boolean; the integers 1/0 in RESP2. */
  | { readonly type: 'bool'; readonly value: boolean }

// ---------------------------------------------------------------------------------------------
// constructors (shared constants avoid an allocation per reply on the hot path)
// ---------------------------------------------------------------------------------------------

export const OK: Reply = { type: 'simple', value: 'OK' }
export const QUEUED: Reply = { type: 'simple', value: 'QUEUED' }
export const NIL: Reply = { type: 'nil' }
export const NIL_ARRAY: Reply = { type: 'nilArray' }
export const EMPTY_ARRAY: Reply = { type: 'array', items: [] }
const SMALL_INTS: ReadonlyArray<Reply> = Array.from({ length: 256 }, (_, i) => ({ type: 'int', value: i }) as const)
export const ZERO: Reply = SMALL_INTS[0]!
export const ONE: Reply = SMALL_INTS[1]!

export const simple = (value: string): Reply => ({ type: 'simple', value })
export const bulk = (value: Bytes): Reply => ({ type: 'bulk', value })
export const bulkOrNil = (value: Bytes | undefined): Reply => (value === undefined ? NIL : { type: 'bulk', value })
export const int = (value: number | bigint): Reply =>
  typeof value === 'number' && value >= 0 && value < 256 && Number.isInteger(value)
    ? SMALL_INTS[value]!
    : { type: 'int', value }
export const array = (items: ReadonlyArray<Reply>): Reply => ({ type: 'array', items })
export const error = (message: string): Reply => ({ type: 'error', message })

// ---------------------------------------------------------------------------------------------
// Redis's error texts (Redis 7.0, byte-identical)
// ---------------------------------------------------------------------------------------------

export const Errors = {
  syntax: error('ERR syntax error'),
  notInteger: error('ERR value is not an integer or out of range'),
  notFloat: error('ERR value is not a valid float'),
  overflow: error('ERR increment or decrement would overflow'),
  nanOrInfinity: error('ERR increment would produce NaN or Infinity'),
  noSuchKey: error('ERR no such key'),
  dbIndexOutOfRange: error('ERR DB index is out of range'),
  sameObject: error('ERR source and destination objects are the same'),
  bitOffset: error('ERR bit offset is not an integer or out of range'),
  bitValue: error('ERR bit is not an integer or out of range'),
  stringTooLong: error('ERR string exceeds maximum allowed size (proto-max-bulk-len)'),
  offsetOutOfRange: error('ERR offset is out of range'),
  wrongType: error('WRONGTYPE Operation against a key holding the wrong kind of value'),
  execAbort: error('EXECABORT Transaction discarded because of previous errors.'),
  multiNested: error('ERR MULTI calls can not be nested'),
  execWithoutMulti: error('ERR EXEC without MULTI'),
  discardWithoutMulti: error('ERR DISCARD without MULTI'),
  watchInsideMulti: error('ERR WATCH inside MULTI is not allowed'),
  wrongArity: (name: string): Reply => error(`ERR wrong number of arguments for '${name.toLowerCase()}' command`),
  invalidExpire: (name: string): Reply => error(`ERR invalid expire time in '${name.toLowerCase()}' command`),
} as const

/**
 * Protocol limits, mirroring Redis 7.0's defaults (DURABILITY.md §7.7).
 *
 * They bound what one connection can make the server buffer before a command is complete, so a
 * hostile or broken client cannot exhaust memory: a declared multibulk count or bulk length is
 * never used to preallocate anything, and every limit produces Redis's exact protocol error.
 *
 * @category resp
 */
import { constants as bufferConstants } from 'node:buffer'

/** `PROTO_INLINE_MAX_SIZE` (server.h): an inline request, or a `*`/`$` length line, without CRLF. */
export const PROTO_INLINE_MAX_SIZE = 64 * 1024

/** `proto-max-bulk-len` default: 512 MiB. Configurable (CONFIG SET proto-max-bulk-len). */
export const DEFAULT_PROTO_MAX_BULK_LEN = 512 * 1024 * 1024

/**
 * The longest bulk argument we can turn into a byte string. Arguments are JS strings (one char
 * per byte), and V8 caps string length just below 512 MiB (`buffer.constants.MAX_STRING_LENGTH`,
 * 2^29 - 24). A longer bulk is refused as an invalid bulk length even when proto-max-bulk-len
 * would allow it — the one place where Redust's limit is (by 24 bytes) tighter than Redis's.
 */
export const MAX_ARGUMENT_BYTES = bufferConstants.MAX_STRING_LENGTH

/** The multibulk count Redis accepts at most (`ll > INT_MAX` is an invalid multibulk length). */
export const INT_MAX = 2147483647

/** CVE-2021-32675: before AUTH, a multibulk may hold at most 10 arguments … */
export const UNAUTHENTICATED_MAX_MULTIBULK = 10
/** … and no bulk may be longer than 16 KiB. */
export const UNAUTHENTICATED_MAX_BULK = 16384

/** `client-query-buffer-limit` default: 1 GiB (queued MULTI commands included). */
export const DEFAULT_CLIENT_QUERY_BUFFER_LIMIT = 1024 * 1024 * 1024
/** Before AUTH, the query buffer may hold at most 1 MiB (Redis PR #12961). */
export const UNAUTHENTICATED_QUERY_BUFFER_LIMIT = 1024 * 1024

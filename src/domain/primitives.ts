/**
 * Primitive value types shared by the whole domain.
 *
 * Keys and values are **byte strings**: one JS char per byte (the `latin1` view of a Buffer).
 * They are binary-safe, work as native map keys, and survive JSON unchanged
 * (every char is below U+0100). User bytes are never decoded as UTF-8.
 *
 * @category model
 */

/** A Redis key as a byte string (one char per byte). */
export type Key = string

/** A Redis string value as a byte string (one char per byte). */
export type Bytes = string

/** An absolute wall-clock time in Unix milliseconds. Events only ever carry these. */
export type EpochMs = number

/** Number of logical databases, as Redis's default `databases 16`. */
export const DATABASE_COUNT = 16

/** Redis's `proto-max-bulk-len` default: the largest string a command may produce (512 MiB). */
export const MAX_STRING_BYTES = 512 * 1024 * 1024

/** Signed 64-bit bounds used by the INCR family and by integer argument parsing. */
export const INT64_MIN = -(2n ** 63n)
export const INT64_MAX = 2n ** 63n - 1n

/** Encodes a JS string as a byte string of its UTF-8 bytes (for replies built from text). */
export const textToBytes = (text: string): Bytes => {
  // Fast path: ASCII text is already its own byte string.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return text
  return unescape(encodeURIComponent(text))
}

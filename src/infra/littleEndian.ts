/**
 * Little-endian integer reads for the log's hot loops (frame scanning, event decoding).
 *
 * `Buffer.readUInt32LE` and friends validate their offset argument on every call (a visible cost
 * in replay profiles, `node:internal/validators`); these read the bytes directly. The caller
 * guarantees `at` and the bytes read are inside `b` (the scanner and the decoder check lengths
 * before reading).
 *
 * @category infra
 */

const TWO_32 = 4294967296

/** The unsigned 32-bit integer at `b[at, at+4)`. */
export const u32le = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000

/** The signed 32-bit integer at `b[at, at+4)`. */
export const i32le = (b: Uint8Array, at: number): number =>
  b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)

/** The unsigned 16-bit integer at `b[at, at+2)`. */
export const u16le = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8)

/** The unsigned 64-bit integer at `b[at, at+8)`, as a number (exact up to 2^53). */
export const u64le = (b: Uint8Array, at: number): number => u32le(b, at + 4) * TWO_32 + u32le(b, at)

/** The signed 64-bit integer at `b[at, at+8)`, as a number (exact within the safe integers). */
export const i64le = (b: Uint8Array, at: number): number => i32le(b, at + 4) * TWO_32 + u32le(b, at)

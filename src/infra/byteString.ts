/**
 * Byte strings from buffers: one JS char per byte (ARCHITECTURE.md, "Keys and values are byte
 * strings"), shared by the RESP decoder, inline-command splitting and the event codec.
 *
 * @category infra
 */

/**
 * `buf[start, end)` as a byte string. Short strings (command names, small keys and values) are
 * built in JS, which beats the native `latin1Slice` call below ~12 bytes and yields flat strings;
 * longer ones are one native copy (`latin1Slice` directly: `toString('latin1', …)` adds argument
 * checks and an encoding lookup per call). Either way the result shares no memory with `buf`.
 */
export const latin1 = (buf: Buffer, start: number, end: number): string => {
  if (end - start <= 12) {
    let s = ''
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!)
    return s
  }
  return (buf as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(start, end)
}

/**
 * In-process decoder fuzzing (DURABILITY.md §9 test 13): for every generated stream,
 * - decoding it in random fragments gives the same requests and the same protocol error, at the
 *   same place, as decoding it in one piece (the fragmented decoder drains after every chunk,
 *   like the connection does after every read);
 * - nothing throws: malformed input yields the decoder's `ProtocolError`, never an exception;
 * - after a ProtocolError the decoder stays failed (the connection closes).
 * Runs unauthenticated and authenticated (the unauthenticated limits apply to the former).
 */
import fc from 'fast-check'
import { ProtocolError, RequestDecoder } from '../../src/infra/resp/decoder.js'
import { chunked } from './arbitraries.js'

type Outcome = Array<string[] | { error: string }>

/** Pushes the chunks one at a time, draining after each; the outcomes in order. */
export const decodeChunks = (chunks: ReadonlyArray<Buffer>, authRequired: boolean): Outcome => {
  const d = new RequestDecoder()
  const out: Outcome = []
  for (const c of chunks) {
    d.push(Buffer.from(c)) // a copy: the decoder may keep the chunk
    for (;;) {
      const r = d.next(authRequired)
      if (r === undefined) break
      if (r instanceof ProtocolError) {
        out.push({ error: r.message })
        // stays failed
        const again = d.next(authRequired)
        if (!(again instanceof ProtocolError) || again.message !== r.message) throw new Error('decoder did not stay failed')
        return out
      }
      out.push(r)
    }
  }
  return out
}

export const decoderProperty = (): fc.IPropertyWithHooks<[{ input: Buffer; chunks: Buffer[] }, boolean]> =>
  fc.property(chunked(), fc.boolean(), ({ input, chunks }, authRequired) => {
    const whole = decodeChunks([input], authRequired)
    const pieces = decodeChunks(chunks, authRequired)
    if (JSON.stringify(whole) !== JSON.stringify(pieces)) {
      throw new Error(`fragmented parse differs:\n whole  ${JSON.stringify(whole)}\n pieces ${JSON.stringify(pieces)}\n input ${JSON.stringify(input.toString('latin1'))}\n chunks ${JSON.stringify(chunks.map((c) => c.toString('latin1')))}`)
    }
    for (const o of whole) if (!Array.isArray(o) && !o.error.startsWith('Protocol error: ')) throw new Error(`unexpected error text ${o.error}`)
  })

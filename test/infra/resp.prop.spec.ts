/**
 * Chunking properties of the request decoder (node-redis-parser's hand-split tests, generalized):
 * however a stream of requests is cut into reads — inside a length line, between CR and LF,
 * inside a large payload — it decodes to the same argument vectors.
 *
 * Replay a failure with FC_SEED=<seed> (and FC_NUM_RUNS); the seed is printed on every run.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolError, RequestDecoder } from '../../src/infra/resp/decoder.js'
import { splitArgs } from '../../src/infra/resp/splitArgs.js'

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() ^ (Math.random() * 0x7fffffff)
const numRuns = process.env.FC_NUM_RUNS !== undefined ? Number(process.env.FC_NUM_RUNS) : 200
console.log(`resp.prop: FC_SEED=${seed} FC_NUM_RUNS=${numRuns}`)
const params = { seed, numRuns }

/** Byte strings of any bytes, biased towards the protocol's own delimiters. */
const byteString = (maxLength: number) =>
  fc
    .array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0d, 0x0a, 0x24, 0x2a, 0x00, 0x22, 0x20)), { maxLength })
    .map((codes) => String.fromCharCode(...codes))

const argv = fc.array(byteString(40), { minLength: 1, maxLength: 6 })
/** Occasionally a payload large enough to take the chunk-list path. */
const bigArgv = fc.tuple(fc.constant('SET'), fc.integer({ min: 32 * 1024, max: 100_000 })).map(([name, n]) => [name, 'v'.repeat(n)])

const multibulk = (args: ReadonlyArray<string>): string => `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`

/** Inline form: every argument double-quoted with every byte as \xHH (always splittable back). */
const inlineQuoted = (args: ReadonlyArray<string>): string =>
  `${args.map((a) => `"${[...a].map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')}"`).join(' ')}\r\n`

/** Cut points for a stream of `length` bytes. */
const cutsFor = (length: number) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 40 })

/** Requests (occasionally a big one), their multibulk stream, and cut points for it. */
const chunkedMultibulk = fc
  .array(fc.oneof({ weight: 20, arbitrary: argv }, { weight: 1, arbitrary: bigArgv }), { minLength: 1, maxLength: 12 })
  .chain((reqs) => {
    const stream = Buffer.from(reqs.map(multibulk).join(''), 'latin1')
    return fc.tuple(fc.constant(reqs), fc.constant(stream), cutsFor(stream.length))
  })

const decodeChunked = (stream: Buffer, cuts: ReadonlyArray<number>): string[][] => {
  const points = [...cuts].filter((c) => c > 0 && c < stream.length).sort((a, b) => a - b)
  const d = new RequestDecoder()
  const out: string[][] = []
  let from = 0
  for (const to of [...points, stream.length]) {
    // Copy each chunk, as a socket would hand us fresh buffers.
    d.push(Buffer.from(stream.subarray(from, to)))
    from = to
    for (let r = d.next(); r !== undefined; r = d.next()) {
      if (r instanceof ProtocolError) throw new Error(r.message)
      out.push(r)
    }
  }
  expect(d.bufferedBytes).toBe(0)
  return out
}

/**
 * As a socket reading into one static buffer delivers bytes (infra/net/staticReads.ts): every
 * chunk lands in the same scratch memory, pushed as transient; after a read the client runs at
 * most `runs[i]` requests (a paused client leaves the rest buffered), the decoder is released and
 * the scratch memory is scribbled over before the next read.
 */
const decodeTransient = (stream: Buffer, cuts: ReadonlyArray<number>, runs: ReadonlyArray<number>): string[][] => {
  const points = [...cuts].filter((c) => c > 0 && c < stream.length).sort((a, b) => a - b)
  const scratch = Buffer.alloc(stream.length)
  const d = new RequestDecoder()
  const out: string[][] = []
  const take = (limit: number): void => {
    for (let n = 0; n < limit; n++) {
      const r = d.next()
      if (r === undefined) return
      if (r instanceof ProtocolError) throw new Error(r.message)
      out.push(r)
    }
  }
  let from = 0
  let read = 0
  for (const to of [...points, stream.length]) {
    stream.copy(scratch, 0, from, to)
    d.push(scratch, true, to - from) // the whole buffer: only [0, length) holds this read
    from = to
    take(runs[read++ % Math.max(1, runs.length)] ?? Infinity)
    d.release()
    scratch.fill(0xaa)
  }
  take(Infinity)
  expect(d.bufferedBytes).toBe(0)
  return out
}

describe('request decoding under arbitrary chunking', () => {
  it('decodes the same when every read lands in one reused buffer, whatever the client runs per read', () => {
    const runsPerRead = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 8 })
    fc.assert(
      fc.property(chunkedMultibulk, runsPerRead, ([reqs, stream, cuts], runs) => {
        expect(decodeTransient(stream, cuts, runs)).toEqual(reqs)
      }),
      params,
    )
  })

  it('decodes any chunking of a multibulk stream to the same argument vectors', () => {
    fc.assert(
      fc.property(chunkedMultibulk, ([reqs, stream, cuts]) => {
        expect(decodeChunked(stream, cuts)).toEqual(reqs)
      }),
      params,
    )
  })

  it('decodes any chunking of mixed inline and multibulk requests identically', () => {
    const request = fc.tuple(argv, fc.boolean())
    fc.assert(
      fc.property(
        fc.array(request, { minLength: 1, maxLength: 10 }).chain((reqs) => {
          // An inline request must not start with '*' (that byte selects multibulk).
          const stream = Buffer.from(reqs.map(([args, inline]) => (inline ? inlineQuoted(args) : multibulk(args))).join(''), 'latin1')
          return fc.tuple(fc.constant(reqs.map(([args]) => args)), fc.constant(stream), cutsFor(stream.length))
        }),
        ([reqs, stream, cuts]) => {
          expect(decodeChunked(stream, cuts)).toEqual(reqs)
        },
      ),
      params,
    )
  })

  it('splits a quoted inline line back into the original arguments', () => {
    fc.assert(
      fc.property(argv, (args) => {
        const line = Buffer.from(inlineQuoted(args), 'latin1')
        expect(splitArgs(line, 0, line.length - 2)).toEqual(args)
      }),
      params,
    )
  })
})

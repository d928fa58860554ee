/**
 * Protocol fuzzing inputs (issue 7; DURABILITY.md §9 test 13): fast-check arbitraries for RESP
 * multibulk and inline byte streams — well-formed, built from a token grammar that reaches every
 * branch of the decoder (lengths negative, zero, huge, non-numeric; quotes and escapes; NULs), and
 * mutated (bytes flipped, inserted, deleted, duplicated, truncated) — plus the random places
 * where the stream is cut into chunks.
 */
import fc from 'fast-check'

const enc = (args: ReadonlyArray<Buffer>): Buffer => {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'))
  return Buffer.concat(parts)
}

/**
 * Command names for streams sent to a real server: harmless ones only (no SHUTDOWN, MONITOR,
 * CONFIG, CLIENT, DEBUG, FLUSHALL, SAVE…), so a fuzz run never stops or reconfigures the server.
 */
export const SAFE_COMMANDS = ['GET', 'SET', 'PING', 'ECHO', 'INCR', 'DEL', 'EXISTS', 'MGET', 'MSET', 'APPEND', 'STRLEN', 'GETRANGE', 'TYPE', 'TTL', 'EXPIRE', 'MULTI', 'EXEC', 'DISCARD', 'WATCH', 'get', 'set', 'ping', 'nosuchcmd', '']

const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a))
const text = (max: number): fc.Arbitrary<Buffer> =>
  fc.string({ maxLength: max, unit: fc.constantFrom('a', 'b', 'k', '1', ' ', '"', "'", '\\', 'x', '\t', '0', 'f') }).map((s) => Buffer.from(s, 'latin1'))

/** A well-formed multibulk request with a safe command name. */
export const multibulk = (names: ReadonlyArray<string> = SAFE_COMMANDS): fc.Arbitrary<Buffer> =>
  fc.tuple(fc.constantFrom(...names), fc.array(fc.oneof(bytes(40), text(20)), { maxLength: 6 })).map(([n, args]) => enc([Buffer.from(n), ...args]))

/** A well-formed inline request: words, quoted strings with escapes, blanks, CRLF or LF. */
export const inline = (names: ReadonlyArray<string> = SAFE_COMMANDS): fc.Arbitrary<Buffer> => {
  const word = fc.oneof(
    fc.string({ minLength: 1, maxLength: 8, unit: fc.constantFrom('a', 'k', '1', '-', ':') }),
    fc.string({ maxLength: 8, unit: fc.constantFrom('a', ' ', '\\n', '\\x41', '\\"', "'", '\\\\', '\\t') }).map((s) => `"${s}"`),
    fc.string({ maxLength: 8, unit: fc.constantFrom('a', ' ', "\\'", '"', '\\') }).map((s) => `'${s}'`),
  )
  return fc
    .tuple(fc.constantFrom(...names.filter((n) => n !== '')), fc.array(word, { maxLength: 5 }), fc.constantFrom(' ', '  ', '\t'), fc.constantFrom('\r\n', '\n'))
    .map(([n, ws, sep, eol]) => Buffer.from([n, ...ws].join(sep) + eol, 'latin1'))
}

/** Tokens that reach every branch of the decoder, concatenated at random. */
export const tokenSoup = (): fc.Arbitrary<Buffer> =>
  fc
    .array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('*', '$', '\r\n', '\r', '\n', ' ', '"', "'", '\\x4', '\\x41', '\\', '\x00', '\t') },
        { weight: 6, arbitrary: fc.constantFrom('0', '1', '2', '3', '-1', '-10', '10', '11', '16385', '3000000000', '2000000000', '536870913', '9223372036854775808', '-9223372036854775809', '01', '+1', ' 1', 'blabla', '') },
        { weight: 4, arbitrary: fc.constantFrom('GET', 'PING', 'SET', 'ECHO', 'foo', 'x', 'AUTH', 'MULTI', 'EXEC') },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a).toString('latin1')) },
      ),
      { maxLength: 40 },
    )
    .map((ts) => Buffer.from(ts.join(''), 'latin1'))

type Mutation = { kind: 'flip' | 'insert' | 'delete' | 'dup' | 'truncate' | 'set'; at: number; byte: number; len: number }

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'insert', 'delete', 'dup', 'truncate', 'set'),
  at: fc.nat(),
  byte: fc.oneof(fc.constantFrom(0x00, 0x0d, 0x0a, 0x2a, 0x24, 0x2d, 0x30, 0x39, 0x22, 0x27, 0x5c, 0x20), fc.integer({ min: 0, max: 255 })),
  len: fc.integer({ min: 1, max: 16 }),
})

export const mutate = (input: Buffer, ms: ReadonlyArray<Mutation>): Buffer => {
  let b = input
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1)
    switch (m.kind) {
      case 'flip':
        if (b.length > 0) {
          b = Buffer.from(b)
          const i = m.at % b.length
          b[i] = b[i]! ^ (1 << m.byte % 8)
        }
        break
      case 'set':
        if (b.length > 0) {
          b = Buffer.from(b)
          b[m.at % b.length] = m.byte
        }
        break
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.len % 4 === 0 ? m.len : 1, m.byte), b.subarray(at)])
        break
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)])
        break
      case 'dup':
        b = Buffer.concat([b.subarray(0, at + m.len), b.subarray(at)])
        break
      case 'truncate':
        b = b.subarray(0, at)
        break
    }
  }
  return b
}

/** A stream of several requests, well-formed or not, possibly mutated. */
export const stream = (names: ReadonlyArray<string> = SAFE_COMMANDS): fc.Arbitrary<Buffer> =>
  fc
    .tuple(
      fc.array(fc.oneof({ weight: 4, arbitrary: multibulk(names) }, { weight: 3, arbitrary: inline(names) }, { weight: 3, arbitrary: tokenSoup() }), { minLength: 1, maxLength: 6 }),
      fc.oneof({ weight: 1, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) }),
    )
    .map(([parts, ms]) => mutate(Buffer.concat(parts), ms))

/** Cuts `input` at the given (unsorted, possibly repeated) positions. */
export const split = (input: Buffer, cuts: ReadonlyArray<number>): Buffer[] => {
  const points = [...new Set(cuts.map((c) => (input.length === 0 ? 0 : c % (input.length + 1))))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(input.subarray(prev, p))
    prev = p
  }
  out.push(input.subarray(prev))
  return out.filter((c) => c.length > 0)
}

/** A stream and where to cut it: up to 12 random cuts, or every byte apart. */
export const chunked = (names: ReadonlyArray<string> = SAFE_COMMANDS): fc.Arbitrary<{ input: Buffer; chunks: Buffer[] }> =>
  fc
    .tuple(stream(names), fc.oneof({ weight: 4, arbitrary: fc.array(fc.nat(), { maxLength: 12 }) }, { weight: 1, arbitrary: fc.constant('bytes' as const) }))
    .map(([input, cuts]) => ({
      input,
      chunks: cuts === 'bytes' ? [...input].map((b) => Buffer.from([b])) : split(input, cuts),
    }))

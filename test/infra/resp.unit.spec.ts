/**
 * The RESP codec in isolation: request decoding (multibulk, inline, Redis's exact protocol
 * errors and limits) and reply encoding in RESP2 and RESP3, byte for byte — the frame-validation
 * tests of mini-redis, with the expectations taken from Redis 7.0.15 on the wire.
 */
import { describe, expect, it } from 'vitest'
import { ProtocolError, RequestDecoder, string2ll } from '../../src/infra/resp/decoder.js'
import { encodeReply } from '../../src/infra/resp/encoder.js'
import { splitArgs } from '../../src/infra/resp/splitArgs.js'
import type { Reply } from '../../src/domain/reply.js'

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')

/** Decodes everything available; the last element is the final `next()` result. */
const drain = (input: string | Buffer, authRequired = false): Array<string[] | ProtocolError | undefined> => {
  const d = new RequestDecoder()
  d.push(typeof input === 'string' ? bytes(input) : input)
  const out: Array<string[] | ProtocolError | undefined> = []
  for (;;) {
    const r = d.next(authRequired)
    out.push(r)
    if (r === undefined || r instanceof ProtocolError) return out
  }
}

const errorOf = (input: string, authRequired = false): string | undefined => {
  const last = drain(input, authRequired).at(-1)
  return last instanceof ProtocolError ? last.message : undefined
}

// ---------------------------------------------------------------------------------------------
// multibulk
// ---------------------------------------------------------------------------------------------

describe('multibulk requests', () => {
  it('decode into argument vectors of byte strings', () => {
    expect(drain('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n')).toEqual([['SET', 'k', 'v'], undefined])
  })

  it('keep every byte value intact, including CR, LF, NUL and bytes above 0x7f', () => {
    const value = Buffer.from([0, 13, 10, 255, 0xc3, 0x28])
    const frame = Buffer.concat([bytes('*2\r\n$4\r\nECHO\r\n$6\r\n'), value, bytes('\r\n')])
    const [argv] = drain(frame)
    expect(Buffer.from((argv as string[])[1]!, 'latin1')).toEqual(value)
  })

  it('decode several pipelined requests from one read, in order', () => {
    const one = '*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n'
    const out = drain(one.repeat(3))
    expect(out).toEqual([['INCR', 'c'], ['INCR', 'c'], ['INCR', 'c'], undefined])
  })

  it('resume a request split at every byte boundary', () => {
    const frame = '*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nworld\r\n*1\r\n$4\r\nPING\r\n'
    const d = new RequestDecoder()
    const got: string[][] = []
    for (const ch of frame) {
      d.push(bytes(ch))
      for (let r = d.next(); r !== undefined; r = d.next()) got.push(r as string[])
    }
    expect(got).toEqual([['SET', 'hello', 'world'], ['PING']])
  })

  it('treat *0 and a negative count as empty requests that get no reply', () => {
    expect(drain('*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n')).toEqual([['PING'], undefined])
  })

  it('skip the two bytes after a payload without checking them, as Redis does', () => {
    expect(drain('*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n')).toEqual([['PING'], ['PING'], undefined])
  })

  it('collect a large bulk arriving in many chunks and join it once', () => {
    const payload = 'x'.repeat(200_000)
    const frame = bytes(`*2\r\n$4\r\nECHO\r\n$${payload.length}\r\n${payload}\r\n*1\r\n$4\r\nPING\r\n`)
    const d = new RequestDecoder()
    const got: string[][] = []
    for (let i = 0; i < frame.length; i += 7000) {
      d.push(frame.subarray(i, i + 7000))
      for (let r = d.next(); r !== undefined; r = d.next()) got.push(r as string[])
      if (got.length === 0) expect(d.bufferedBytes).toBeLessThanOrEqual(Math.min(i + 7000, frame.length))
    }
    expect(got.length).toBe(2)
    expect(got[0]![1]!.length).toBe(200_000)
    expect(got[1]).toEqual(['PING'])
    expect(d.bufferedBytes).toBe(0)
  })

  it('count queued arguments and unread bytes as buffered', () => {
    const d = new RequestDecoder()
    d.push(bytes('*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$5\r\nwor'))
    expect(d.next()).toBeUndefined()
    expect(d.bufferedBytes).toBe(3 + 5 + 'wor'.length)
  })
})

// ---------------------------------------------------------------------------------------------
// protocol errors (texts from Redis 7.0.15 and tests/unit/protocol.tcl)
// ---------------------------------------------------------------------------------------------

describe('malformed multibulk requests', () => {
  it("report a non-'$' argument header with the offending character", () => {
    expect(errorOf('*1\r\n+PING\r\n')).toBe("Protocol error: expected '$', got '+'")
    expect(errorOf('*1\r\nfoo\r\n')).toBe("Protocol error: expected '$', got 'f'")
    expect(errorOf('*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n')).toBe("Protocol error: expected '$', got 'f'")
  })

  it('reject counts that are not Redis integers or exceed INT_MAX', () => {
    for (const count of ['3000000000', '01', '-0', '+1', 'abc', '', '1 ']) {
      expect(errorOf(`*${count}\r\n`)).toBe('Protocol error: invalid multibulk length')
    }
  })

  it('reject negative, non-numeric and oversize bulk lengths', () => {
    for (const len of ['-10', '2000000000', 'blabla', '536870913', '']) {
      expect(errorOf(`*1\r\n$${len}\r\n`)).toBe('Protocol error: invalid bulk length')
    }
  })

  it('honour a lowered proto-max-bulk-len', () => {
    const d = new RequestDecoder(10)
    d.push(bytes('*1\r\n$11\r\n'))
    expect((d.next() as ProtocolError).message).toBe('Protocol error: invalid bulk length')
  })

  it('keep answering the same error once failed', () => {
    const d = new RequestDecoder()
    d.push(bytes('*x\r\n'))
    const first = d.next()
    d.push(bytes('*1\r\n$4\r\nPING\r\n'))
    expect(d.next()).toBe(first)
  })

  it('reject length lines longer than 64 KiB without a CR', () => {
    expect(errorOf(`*${'1'.repeat(70_000)}`)).toBe('Protocol error: too big mbulk count string')
    expect(errorOf(`*1\r\n$${'1'.repeat(70_000)}`)).toBe('Protocol error: too big bulk count string')
  })

  it('never see a CR behind a NUL byte, like C strchr (the protocol-desync case)', () => {
    expect(drain('*1\x00\r\n')).toEqual([undefined])
    expect(errorOf(`*\x00${'a'.repeat(70_000)}\r\n`)).toBe('Protocol error: too big mbulk count string')
    expect(errorOf(`*1\r\n$\x00${'a'.repeat(70_000)}\r\n`)).toBe('Protocol error: too big bulk count string')
  })

  it('apply the unauthenticated limits only while authentication is required', () => {
    expect(errorOf('*11\r\n', true)).toBe('Protocol error: unauthenticated multibulk length')
    expect(errorOf('*10\r\n$16385\r\n', true)).toBe('Protocol error: unauthenticated bulk length')
    expect(drain('*10\r\n$16384\r\n', true)).toEqual([undefined])
    expect(drain('*11\r\n$16385\r\n', false)).toEqual([undefined])
  })
})

// ---------------------------------------------------------------------------------------------
// inline
// ---------------------------------------------------------------------------------------------

describe('inline requests', () => {
  it('end at LF with an optional CR, and ignore blank lines', () => {
    expect(drain('PING\r\nPING\n\r\n  PING  \r\n\n')).toEqual([['PING'], ['PING'], ['PING'], undefined])
  })

  it('follow sdssplitargs quoting rules', () => {
    const line = (s: string) => splitArgs(bytes(s), 0, s.length)
    expect(line('SET k "a b"')).toEqual(['SET', 'k', 'a b'])
    expect(line('ECHO "a\\x41\\n\\r\\t\\b\\a\\\\\\"\\q"')).toEqual(['ECHO', 'aA\n\r\t\b\x07\\"q'])
    expect(line("ECHO 'a\\'b' c")).toEqual(['ECHO', "a'b", 'c'])
    expect(line("ECHO 'a\\nb'")).toEqual(['ECHO', 'a\\nb'])
    expect(line('ECHO ab"cd"')).toEqual(['ECHO', 'abcd'])
    expect(line('ECHO "\\x4"')).toEqual(['ECHO', 'x4'])
    expect(line('P\rING')).toEqual(['P', 'ING'])
    expect(line('\x0b\x0cPING')).toEqual(['PING'])
    expect(line('ECHO a\x0bb')).toEqual(['ECHO', 'a\x0bb'])
    expect(line('ECHO "x"\x0b')).toEqual(['ECHO', 'x'])
    expect(line('ECHO ""')).toEqual(['ECHO', ''])
    expect(line('   ')).toEqual([])
  })

  it('refuse unbalanced quotes and a closing quote glued to more text', () => {
    expect(errorOf('ECHO "a"b\r\n')).toBe('Protocol error: unbalanced quotes in request')
    expect(errorOf('ECHO "abc\r\n')).toBe('Protocol error: unbalanced quotes in request')
    expect(errorOf("ECHO 'abc\r\n")).toBe('Protocol error: unbalanced quotes in request')
    expect(errorOf('set """test-key""" test-value\r\n')).toBe('Protocol error: unbalanced quotes in request')
  })

  it('refuse a line longer than 64 KiB without a newline', () => {
    expect(errorOf('A'.repeat(70_000))).toBe('Protocol error: too big inline request')
    expect(drain('A'.repeat(60_000))).toEqual([undefined])
  })

  it('wait forever for a newline hidden behind a NUL byte, as Redis does', () => {
    expect(drain('ECHO a\x00b\r\nPING\r\n')).toEqual([undefined])
  })

  it('mix with multibulk requests on one connection', () => {
    expect(drain('PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO x\r\n')).toEqual([['PING'], ['ECHO', 'hi'], ['ECHO', 'x'], undefined])
  })
})

describe('string2ll', () => {
  const parse = (s: string) => string2ll(bytes(s), 0, s.length)
  it('accepts exactly what Redis accepts', () => {
    expect(parse('0')).toBe(0)
    expect(parse('-1')).toBe(-1)
    expect(parse('9223372036854775807')).toBe(9223372036854775807)
    for (const bad of ['', '-', '-0', '00', '01', '+1', ' 1', '1 ', '9223372036854775808', '-9223372036854775809', '1'.repeat(21)]) {
      expect(parse(bad)).toBeUndefined()
    }
  })
})

// ---------------------------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------------------------

describe('reply encoding', () => {
  const both = (reply: Reply) => [encodeReply(reply, 2), encodeReply(reply, 3)]

  it('writes scalars identically in both protocols', () => {
    expect(both({ type: 'simple', value: 'OK' })).toEqual(['+OK\r\n', '+OK\r\n'])
    expect(both({ type: 'simple', value: 'RESET' })).toEqual(['+RESET\r\n', '+RESET\r\n'])
    expect(both({ type: 'int', value: 7 })).toEqual([':7\r\n', ':7\r\n'])
    expect(both({ type: 'int', value: -3 })).toEqual([':-3\r\n', ':-3\r\n'])
    expect(both({ type: 'int', value: 9223372036854775807n })).toEqual([':9223372036854775807\r\n', ':9223372036854775807\r\n'])
    expect(both({ type: 'bulk', value: 'hi' })).toEqual(['$2\r\nhi\r\n', '$2\r\nhi\r\n'])
    expect(both({ type: 'bulk', value: '' })).toEqual(['$0\r\n\r\n', '$0\r\n\r\n'])
  })

  it('counts bulk lengths in bytes, not UTF-16 units of decoded text', () => {
    const value = Buffer.from('é€', 'utf8').toString('latin1')
    expect(Buffer.from(encodeReply({ type: 'bulk', value }, 2), 'latin1')).toEqual(
      Buffer.concat([bytes('$5\r\n'), Buffer.from('é€', 'utf8'), bytes('\r\n')]),
    )
  })

  it('writes nulls as $-1 / *-1 in RESP2 and _ in RESP3', () => {
    expect(both({ type: 'nil' })).toEqual(['$-1\r\n', '_\r\n'])
    expect(both({ type: 'nilArray' })).toEqual(['*-1\r\n', '_\r\n'])
    expect(both({ type: 'array', items: [{ type: 'nil' }, { type: 'bulk', value: 'v' }] })).toEqual([
      '*2\r\n$-1\r\n$1\r\nv\r\n',
      '*2\r\n_\r\n$1\r\nv\r\n',
    ])
  })

  it('writes maps flat in RESP2 and as % in RESP3', () => {
    const reply: Reply = { type: 'map', entries: [[{ type: 'bulk', value: 'save' }, { type: 'bulk', value: '' }]] }
    expect(both(reply)).toEqual(['*2\r\n$4\r\nsave\r\n$0\r\n\r\n', '%1\r\n$4\r\nsave\r\n$0\r\n\r\n'])
  })

  it('writes sets, doubles, verbatim strings and booleans with their RESP3 types', () => {
    expect(both({ type: 'set', items: [{ type: 'simple', value: 'fast' }] })).toEqual(['*1\r\n+fast\r\n', '~1\r\n+fast\r\n'])
    expect(both({ type: 'double', text: '1.5' })).toEqual(['$3\r\n1.5\r\n', ',1.5\r\n'])
    expect(both({ type: 'verbatim', format: 'txt', value: 'a:b' })).toEqual(['$3\r\na:b\r\n', '=7\r\ntxt:a:b\r\n'])
    expect(both({ type: 'bool', value: true })).toEqual([':1\r\n', '#t\r\n'])
    expect(both({ type: 'bool', value: false })).toEqual([':0\r\n', '#f\r\n'])
  })

  it('replaces CR and LF inside error texts with spaces', () => {
    expect(encodeReply({ type: 'error', message: 'ERR a\r\nb' }, 2)).toBe('-ERR a  b\r\n')
    expect(encodeReply({ type: 'error', message: 'ERR plain' }, 3)).toBe('-ERR plain\r\n')
  })
})

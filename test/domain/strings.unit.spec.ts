/**
 * The string family, given/when/then: given events folded into a state, when a command is decided
 * at a time `now`, then exactly these events and this reply (Redis 7.0 texts).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fold, initialState, lookupCommand } from '../../src/domain/decide.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import type { Event } from '../../src/domain/event.js'
import type { Decision } from '../../src/domain/command.js'
import type { Reply } from '../../src/domain/reply.js'
import { assertProperty } from '../support/fc.js'

const NOW = 1_700_000_000_000

const run = (given: ReadonlyArray<Event>, argv: ReadonlyArray<string>, now = NOW, db = 0): Decision => {
  const spec = lookupCommand(argv[0]!)
  if (spec === undefined) throw new Error(`no command ${argv[0]}`)
  const parsed = spec.parse(argv.slice(1))
  if (parsed.type === 'error') return { events: [], reply: parsed }
  return spec.decide(parsed, fold(initialState, given), { now, db, seed: 7 })
}

const ok: Reply = { type: 'simple', value: 'OK' }
const nil: Reply = { type: 'nil' }
const bulk = (value: string): Reply => ({ type: 'bulk', value })
const int = (value: number | bigint): Reply => ({ type: 'int', value })
const err = (message: string): Reply => ({ type: 'error', message })
const set = (key: string, value: string, expireAt: number | null = null, db = 0): Event => ({ type: 'ValueSet', db, key, value, expireAt })

const then = (d: Decision, events: ReadonlyArray<Event>, reply: Reply) => {
  expect(d.reply).toEqual(reply)
  expect(d.events).toEqual(events)
}

describe('GET', () => {
  it('GET of a missing key emits nothing and replies nil', () => then(run([], ['GET', 'k']), [], nil))
  it('GET of a live key emits nothing and replies its value', () => then(run([set('k', 'v')], ['get', 'k']), [], bulk('v')))
  it('GET of a key past its deadline emits KeyExpired and replies nil', () =>
    then(run([set('k', 'v', NOW - 1)], ['GET', 'k']), [{ type: 'KeyExpired', db: 0, key: 'k', at: NOW }], nil))
  it('GET of a key exactly at its deadline still returns it (Redis expires when now > deadline)', () =>
    then(run([set('k', 'v', NOW)], ['GET', 'k']), [], bulk('v')))
  it('GET only sees the selected database', () => then(run([set('k', 'v', null, 3)], ['GET', 'k'], NOW, 0), [], nil))
})

describe('SET', () => {
  it('SET stores the value without a deadline', () => then(run([], ['SET', 'k', 'v']), [set('k', 'v')], ok))
  it('SET EX turns seconds into an absolute deadline', () =>
    then(run([], ['SET', 'k', 'v', 'EX', '10']), [set('k', 'v', NOW + 10_000)], ok))
  it('SET PX turns milliseconds into an absolute deadline', () =>
    then(run([], ['set', 'k', 'v', 'px', '1500']), [set('k', 'v', NOW + 1500)], ok))
  it('SET EXAT and PXAT keep the absolute time given', () => {
    then(run([], ['SET', 'k', 'v', 'EXAT', '1800000000']), [set('k', 'v', 1_800_000_000_000)], ok)
    then(run([], ['SET', 'k', 'v', 'PXAT', '1800000000123']), [set('k', 'v', 1_800_000_000_123)], ok)
  })
  it('SET KEEPTTL keeps the current deadline in the event', () =>
    then(run([set('k', 'a', NOW + 5000)], ['SET', 'k', 'b', 'KEEPTTL']), [set('k', 'b', NOW + 5000)], ok))
  it('SET without KEEPTTL drops the deadline', () => then(run([set('k', 'a', NOW + 5000)], ['SET', 'k', 'b']), [set('k', 'b')], ok))
  it('SET NX on an existing key emits nothing and replies nil', () => then(run([set('k', 'a')], ['SET', 'k', 'b', 'NX']), [], nil))
  it('SET NX on a missing key sets it', () => then(run([], ['SET', 'k', 'b', 'NX']), [set('k', 'b')], ok))
  it('SET XX on a missing key emits nothing and replies nil', () => then(run([], ['SET', 'k', 'b', 'XX']), [], nil))
  it('SET XX on an expired key expires it and replies nil', () =>
    then(run([set('k', 'a', NOW - 1)], ['SET', 'k', 'b', 'XX']), [{ type: 'KeyExpired', db: 0, key: 'k', at: NOW }], nil))
  it('SET GET replies the old value', () => then(run([set('k', 'a')], ['SET', 'k', 'b', 'GET']), [set('k', 'b')], bulk('a')))
  it('SET GET NX on an existing key replies the old value and sets nothing', () =>
    then(run([set('k', 'a')], ['SET', 'k', 'b', 'NX', 'GET']), [], bulk('a')))
  it('SET rejects conflicting and repeated options with a syntax error', () => {
    for (const opts of [['NX', 'XX'], ['EX', '10', 'PX', '10'], ['KEEPTTL', 'EX', '1'], ['EX'], ['FOO']]) {
      then(run([], ['SET', 'k', 'v', ...opts]), [], err('ERR syntax error'))
    }
  })
  it('SET EX with zero, negative or non-integer amounts fails with Redis texts', () => {
    then(run([], ['SET', 'k', 'v', 'EX', '0']), [], err("ERR invalid expire time in 'set' command"))
    then(run([], ['SET', 'k', 'v', 'PX', '-1']), [], err("ERR invalid expire time in 'set' command"))
    then(run([], ['SET', 'k', 'v', 'EX', 'abc']), [], err('ERR value is not an integer or out of range'))
    then(run([], ['SET', 'k', 'v', 'EX', '9223372036854775807']), [], err("ERR invalid expire time in 'set' command"))
  })
  it('SETNX replies 1 when it sets and 0 when the key exists', () => {
    then(run([], ['SETNX', 'k', 'v']), [set('k', 'v')], int(1))
    then(run([set('k', 'a')], ['SETNX', 'k', 'v']), [], int(0))
  })
  it('SETEX and PSETEX set absolute deadlines and validate with their own names', () => {
    then(run([], ['SETEX', 'k', '5', 'v']), [set('k', 'v', NOW + 5000)], ok)
    then(run([], ['PSETEX', 'k', '5', 'v']), [set('k', 'v', NOW + 5)], ok)
    then(run([], ['SETEX', 'k', '0', 'v']), [], err("ERR invalid expire time in 'setex' command"))
    then(run([], ['PSETEX', 'k', '-1', 'v']), [], err("ERR invalid expire time in 'psetex' command"))
  })
  it('GETSET replies the old value and drops the deadline', () =>
    then(run([set('k', 'a', NOW + 10)], ['GETSET', 'k', 'b']), [set('k', 'b')], bulk('a')))
})

describe('UPDATE (Redust dialect)', () => {
  it('UPDATE replaces the value of an existing key and keeps its TTL', () =>
    then(run([set('k', 'a', NOW + 9000)], ['UPDATE', 'k', 'b']), [set('k', 'b', NOW + 9000)], ok))
  it('UPDATE of a missing key emits nothing and replies nil', () => then(run([], ['UPDATE', 'k', 'b']), [], nil))
})

describe('GETDEL and GETEX', () => {
  it('GETDEL replies the value and deletes the key', () =>
    then(run([set('k', 'a')], ['GETDEL', 'k']), [{ type: 'KeysDeleted', db: 0, keys: ['k'] }], bulk('a')))
  it('GETDEL of a missing key emits nothing', () => then(run([], ['GETDEL', 'k']), [], nil))
  it('GETEX without options is a read', () => then(run([set('k', 'a', NOW + 5)], ['GETEX', 'k']), [], bulk('a')))
  it('GETEX EX sets an absolute deadline', () =>
    then(run([set('k', 'a')], ['GETEX', 'k', 'EX', '2']), [{ type: 'ExpirySet', db: 0, key: 'k', at: NOW + 2000 }], bulk('a')))
  it('GETEX PERSIST removes the deadline, and is a no-op without one', () => {
    then(run([set('k', 'a', NOW + 5)], ['GETEX', 'k', 'PERSIST']), [{ type: 'ExpiryRemoved', db: 0, key: 'k' }], bulk('a'))
    then(run([set('k', 'a')], ['GETEX', 'k', 'PERSIST']), [], bulk('a'))
  })
  it('GETEX EXAT in the past deletes the key and replies its value', () =>
    then(run([set('k', 'a')], ['GETEX', 'k', 'EXAT', '1']), [{ type: 'KeysDeleted', db: 0, keys: ['k'] }], bulk('a')))
  it('GETEX validates the amount only after finding the key, as Redis', () => {
    then(run([], ['GETEX', 'k', 'EX', '0']), [], nil)
    then(run([set('k', 'a')], ['GETEX', 'k', 'EX', '0']), [], err("ERR invalid expire time in 'getex' command"))
  })
  it('GETEX with two options is a syntax error', () =>
    then(run([set('k', 'a')], ['GETEX', 'k', 'PERSIST', 'EX', '1']), [], err('ERR syntax error')))
})

describe('MGET, MSET, MSETNX', () => {
  it('MGET replies values and nils in order', () =>
    then(run([set('a', '1')], ['MGET', 'a', 'b', 'a']), [], { type: 'array', items: [bulk('1'), nil, bulk('1')] }))
  it('MSET sets every pair without deadlines', () => then(run([set('a', 'x', NOW + 5)], ['MSET', 'a', '1', 'b', '2']), [set('a', '1'), set('b', '2')], ok))
  it('MSET with an odd number of arguments fails with the arity text', () =>
    then(run([], ['MSET', 'a', '1', 'b']), [], err("ERR wrong number of arguments for 'mset' command")))
  it('MSETNX sets nothing when any key exists', () => then(run([set('b', 'x')], ['MSETNX', 'a', '1', 'b', '2']), [], int(0)))
  it('MSETNX sets all when none exists', () => then(run([], ['MSETNX', 'a', '1', 'b', '2']), [set('a', '1'), set('b', '2')], int(1)))
})

describe('APPEND, STRLEN, GETRANGE, SETRANGE', () => {
  it('APPEND to a missing key creates it', () => then(run([], ['APPEND', 'k', 'ab']), [set('k', 'ab')], int(2)))
  it('APPEND logs only the suffix', () =>
    then(run([set('k', 'ab')], ['APPEND', 'k', 'cd']), [{ type: 'ValueAppended', db: 0, key: 'k', suffix: 'cd' }], int(4)))
  it('APPEND of an empty string is a no-op', () => then(run([set('k', 'ab')], ['APPEND', 'k', '']), [], int(2)))
  it('APPEND to an expired key starts from empty', () =>
    then(run([set('k', 'old', NOW - 1)], ['APPEND', 'k', 'x']), [{ type: 'KeyExpired', db: 0, key: 'k', at: NOW }, set('k', 'x')], int(1)))
  it('STRLEN counts bytes', () => then(run([set('k', '\u00ff\u0000a')], ['STRLEN', 'k']), [], int(3)))
  it('GETRANGE follows Redis index rules', () => {
    const given = [set('k', 'This is a string')]
    then(run(given, ['GETRANGE', 'k', '0', '3']), [], bulk('This'))
    then(run(given, ['GETRANGE', 'k', '-3', '-1']), [], bulk('ing'))
    then(run(given, ['GETRANGE', 'k', '0', '-1']), [], bulk('This is a string'))
    then(run(given, ['GETRANGE', 'k', '10', '100']), [], bulk('string'))
    then(run(given, ['SUBSTR', 'k', '5', '1']), [], bulk(''))
    then(run(given, ['GETRANGE', 'k', 'a', 'b']), [], err('ERR value is not an integer or out of range'))
  })
  it('SETRANGE logs the overwritten range and pads with zero bytes', () => {
    then(run([set('k', 'Hello World')], ['SETRANGE', 'k', '6', 'Redis']), [{ type: 'RangeOverwritten', db: 0, key: 'k', offset: 6, bytes: 'Redis' }], int(11))
    const d = run([], ['SETRANGE', 'k', '3', 'x'])
    then(d, [{ type: 'RangeOverwritten', db: 0, key: 'k', offset: 3, bytes: 'x' }], int(4))
    expect(Keyspace.getValue(fold(initialState, d.events), 0, 'k')).toBe('\0\0\0x')
  })
  it('SETRANGE with a negative offset fails, with an empty value is a no-op', () => {
    then(run([], ['SETRANGE', 'k', '-1', 'a']), [], err('ERR offset is out of range'))
    then(run([set('k', 'abc')], ['SETRANGE', 'k', '10', '']), [], int(3))
  })
})

describe('INCR family', () => {
  it('INCR of a missing key stores 1', () => then(run([], ['INCR', 'k']), [set('k', '1')], int(1)))
  it('INCRBY stores the resulting value and keeps the deadline', () =>
    then(run([set('k', '10', NOW + 100)], ['INCRBY', 'k', '-15']), [set('k', '-5', NOW + 100)], int(-5)))
  it('DECR and DECRBY subtract', () => {
    then(run([set('k', '10')], ['DECR', 'k']), [set('k', '9')], int(9))
    then(run([set('k', '10')], ['DECRBY', 'k', '20']), [set('k', '-10')], int(-10))
  })
  it('INCR of a non-integer fails with the Redis text', () => {
    for (const v of ['abc', '1.5', ' 1', '+1', '01', '', '99999999999999999999']) {
      then(run([set('k', v)], ['INCR', 'k']), [], err('ERR value is not an integer or out of range'))
    }
  })
  it('INCRBY rejects malformed increments', () =>
    then(run([], ['INCRBY', 'k', '+1']), [], err('ERR value is not an integer or out of range')))
  it('INCR past int64 fails with the overflow text', () => {
    then(run([set('k', '9223372036854775807')], ['INCR', 'k']), [], err('ERR increment or decrement would overflow'))
    then(run([set('k', '-9223372036854775808')], ['DECR', 'k']), [], err('ERR increment or decrement would overflow'))
    then(run([], ['DECRBY', 'k', '-9223372036854775808']), [], err('ERR decrement would overflow'))
  })
  it('INCRBY near int64 limits replies exact 64-bit integers', () =>
    then(run([set('k', '9223372036854775806')], ['INCR', 'k']), [set('k', '9223372036854775807')], int(9223372036854775807n)))
  it('INCRBY agrees with 64-bit arithmetic on any stored integer and increment (double fast path included)', () => {
    const INT64_MIN = -(2n ** 63n)
    const INT64_MAX = 2n ** 63n - 1n
    // Around the fast path's edges: 15/16-char values, ±2^53, and int64's limits.
    const edge = fc.constantFrom(0n, 1n, -1n, 10n ** 14n, -(10n ** 14n), 10n ** 15n - 1n, 10n ** 15n, -(10n ** 14n) + 1n, -(10n ** 15n), 2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n), INT64_MAX, INT64_MIN, INT64_MAX - 1n, INT64_MIN + 1n)
    const int64 = fc.oneof(edge, fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n }), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }))
    assertProperty(
      'INCRBY vs BigInt reference',
      fc.property(fc.option(int64, { nil: undefined }), int64, (stored, by) => {
        const given = stored === undefined ? [] : [set('k', stored.toString(), NOW + 5)]
        const sum = (stored ?? 0n) + by
        const d = run(given, ['INCRBY', 'k', by.toString()])
        if (sum > INT64_MAX || sum < INT64_MIN) return then(d, [], err('ERR increment or decrement would overflow'))
        const reply = Number.isSafeInteger(Number(sum)) ? int(Number(sum)) : int(sum)
        then(d, [set('k', sum.toString(), stored === undefined ? null : NOW + 5)], reply)
      }),
    )
  })
  it('INCRBYFLOAT computes in long double and formats like Redis (%.17Lf, trailing zeros removed)', () => {
    then(run([set('k', '10.50')], ['INCRBYFLOAT', 'k', '0.1']), [set('k', '10.6')], bulk('10.6'))
    then(run([set('k', '0.1')], ['INCRBYFLOAT', 'k', '0.2']), [set('k', '0.3')], bulk('0.3'))
    then(run([set('k', '5.0e3')], ['INCRBYFLOAT', 'k', '2.0e2']), [set('k', '5200')], bulk('5200'))
    then(run([], ['INCRBYFLOAT', 'k', '1.2345678901234567']), [set('k', '1.2345678901234567')], bulk('1.2345678901234567'))
    then(run([], ['INCRBYFLOAT', 'k', '1e20']), [set('k', '100000000000000000000')], bulk('100000000000000000000'))
    then(run([], ['INCRBYFLOAT', 'k', '1e-20']), [set('k', '0')], bulk('0'))
    then(run([set('k', '3')], ['INCRBYFLOAT', 'k', '-3']), [set('k', '0')], bulk('0'))
    then(run([set('k', '5000')], ['INCRBYFLOAT', 'k', '0.1']), [set('k', '5000.10000000000000009')], bulk('5000.10000000000000009'))
    then(run([], ['INCRBYFLOAT', 'k', '3.3333333333333333333']), [set('k', '3.33333333333333333')], bulk('3.33333333333333333'))
    then(run([], ['INCRBYFLOAT', 'k', '123456789012345678901234']), [set('k', '123456789012345678897152')], bulk('123456789012345678897152'))
  })
  it('INCRBYFLOAT errors use Redis texts', () => {
    then(run([set('k', 'abc')], ['INCRBYFLOAT', 'k', '1']), [], err('ERR value is not a valid float'))
    then(run([], ['INCRBYFLOAT', 'k', 'abc']), [], err('ERR value is not a valid float'))
    then(run([], ['INCRBYFLOAT', 'k', 'inf']), [], err('ERR increment would produce NaN or Infinity'))
    then(run([], ['INCRBYFLOAT', 'k', 'nan']), [], err('ERR value is not a valid float'))
    then(run([], ['INCRBYFLOAT', 'k', '1e5000']), [], err('ERR value is not a valid float'))
    then(run([], ['INCRBYFLOAT', 'k', '1e-5000']), [], err('ERR value is not a valid float'))
  })
})

describe('bits', () => {
  it('SETBIT logs the changed byte and replies the previous bit', () => {
    const d = run([], ['SETBIT', 'k', '7', '1'])
    then(d, [{ type: 'RangeOverwritten', db: 0, key: 'k', offset: 0, bytes: '\u0001' }], int(0))
    then(run(d.events, ['SETBIT', 'k', '7', '1']), [], int(1))
    then(run(d.events, ['GETBIT', 'k', '7']), [], int(1))
    then(run(d.events, ['GETBIT', 'k', '100']), [], int(0))
  })
  it('SETBIT rejects bad offsets and bit values', () => {
    then(run([], ['SETBIT', 'k', '4294967296', '1']), [], err('ERR bit offset is not an integer or out of range'))
    then(run([], ['SETBIT', 'k', '-1', '1']), [], err('ERR bit offset is not an integer or out of range'))
    then(run([], ['SETBIT', 'k', '1', '2']), [], err('ERR bit is not an integer or out of range'))
  })
  it('BITCOUNT counts set bits in byte and bit ranges', () => {
    const given = [set('k', 'foobar')]
    then(run(given, ['BITCOUNT', 'k']), [], int(26))
    then(run(given, ['BITCOUNT', 'k', '0', '0']), [], int(4))
    then(run(given, ['BITCOUNT', 'k', '1', '1']), [], int(6))
    then(run(given, ['BITCOUNT', 'k', '1', '1', 'BYTE']), [], int(6))
    then(run(given, ['BITCOUNT', 'k', '5', '30', 'BIT']), [], int(17))
    then(run(given, ['BITCOUNT', 'k', '0']), [], err('ERR syntax error'))
    then(run([], ['BITCOUNT', 'nokey', '0']), [], int(0))
    then(run([], ['BITCOUNT', 'nokey']), [], int(0))
  })
  it('BITPOS finds the first set or clear bit', () => {
    then(run([set('k', '\u00ff\u00f0\u0000')], ['BITPOS', 'k', '0']), [], int(12))
    then(run([set('k', '\u0000\u00ff\u00f0')], ['BITPOS', 'k', '1', '0']), [], int(8))
    then(run([set('k', '\u0000\u00ff\u00f0')], ['BITPOS', 'k', '1', '2', '-1', 'BYTE']), [], int(16))
    then(run([set('k', '\u0000\u00ff\u00f0')], ['BITPOS', 'k', '1', '7', '15', 'BIT']), [], int(8))
    then(run([set('k', '\u00ff\u00ff')], ['BITPOS', 'k', '0']), [], int(16))
    then(run([set('k', '\u00ff\u00ff')], ['BITPOS', 'k', '0', '0', '-1']), [], int(-1))
    then(run([], ['BITPOS', 'k', '0']), [], int(0))
    then(run([], ['BITPOS', 'k', '1']), [], int(-1))
    then(run([], ['BITPOS', 'k', '2']), [], err('ERR The bit argument must be 1 or 0.'))
  })
})

describe('binary safety', () => {
  it('every byte value round-trips through SET, GET and evolve', () => {
    const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('')
    const d = run([], ['SET', all, all])
    then(run(d.events, ['GET', all]), [], bulk(all))
  })
})

describe('BITCOUNT and BITPOS argument order (Redis checks some before others)', () => {
  it('BITCOUNT with both ends negative and reversed replies 0 before looking at the unit', () => {
    then(run([set('b', '0')], ['BITCOUNT', 'b', '-1', '-2']), [], int(0))
    then(run([set('b', '0')], ['BITCOUNT', 'b', '-1', '-2', 'FOO']), [], int(0))
    then(run([set('b', '0')], ['BITCOUNT', 'b', '0', '-1', 'FOO']), [], err('ERR syntax error'))
  })
  it('BITPOS checks the unit before the end', () => {
    then(run([set('c', 'x')], ['BITPOS', 'c', '0', '0', 'x', 'FOO']), [], err('ERR syntax error'))
    then(run([set('c', 'x')], ['BITPOS', 'c', '0', '0', 'x', 'BIT']), [], err('ERR value is not an integer or out of range'))
  })
})

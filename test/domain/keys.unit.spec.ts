/**
 * The keyspace family, given/when/then: given events folded into a state, when a command is
 * parsed and decided at a time `now` in a database, then exactly these events and this reply.
 * Replies and error texts were checked against redis-server 7.0.15.
 *
 * The SCAN property replays with FC_SEED=<seed> (and FC_NUM_RUNS); the seed is printed on every run.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { AnyCommandSpec, Decision } from '../../src/domain/command.js'
import { KEY_COMMANDS, parseScanCursor } from '../../src/domain/commands/keys.js'
import type { Event } from '../../src/domain/event.js'
import { fold } from '../../src/domain/evolve.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import { emptyState, type State } from '../../src/domain/keyspace.js'
import type { Reply } from '../../src/domain/reply.js'

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() ^ (Math.random() * 0x7fffffff)
const numRuns = Math.max(1000, process.env.FC_NUM_RUNS !== undefined ? Number(process.env.FC_NUM_RUNS) : 1000)
console.log(`keys.unit: FC_SEED=${seed} FC_NUM_RUNS=${numRuns}`)

const NOW = 1_700_000_000_000

const spec = (name: string): AnyCommandSpec => {
  const found = KEY_COMMANDS.find((c) => c.name === name.toLowerCase())
  if (found === undefined) throw new Error(`no command ${name}`)
  return found
}

interface When {
  readonly now?: number
  readonly db?: number
  readonly seed?: number
}

/** Parses then decides argv against a state (a parse error is a decision with no events). */
const decideOn = (state: State, argv: ReadonlyArray<string>, when: When = {}): Decision => {
  const s = spec(argv[0]!)
  const parsed = s.parse(argv.slice(1))
  if (parsed.type === 'error') return { events: [], reply: parsed }
  return s.decide(parsed, state, { now: when.now ?? NOW, db: when.db ?? 0, seed: when.seed ?? 7 })
}

const run = (given: ReadonlyArray<Event>, argv: ReadonlyArray<string>, when: When = {}): Decision =>
  decideOn(fold(emptyState, given), argv, when)

const ok: Reply = { type: 'simple', value: 'OK' }
const nil: Reply = { type: 'nil' }
const simple = (value: string): Reply => ({ type: 'simple', value })
const bulk = (value: string): Reply => ({ type: 'bulk', value })
const int = (value: number): Reply => ({ type: 'int', value })
const err = (message: string): Reply => ({ type: 'error', message })
const arr = (...items: Reply[]): Reply => ({ type: 'array', items })

const set = (key: string, value = 'v', expireAt: number | null = null, db = 0): Event => ({ type: 'ValueSet', db, key, value, expireAt })
const expired = (key: string, db = 0, at = NOW): Event => ({ type: 'KeyExpired', db, key, at })
const deleted = (keys: string[], db = 0): Event => ({ type: 'KeysDeleted', db, keys })

const then = (d: Decision, events: ReadonlyArray<Event>, reply: Reply) => {
  expect(d.reply).toEqual(reply)
  expect(d.events).toEqual(events)
}

const NOT_INTEGER = err('ERR value is not an integer or out of range')
const NOT_INT32 = err('ERR value is out of range, value must between -2147483648 and 2147483647')
const SYNTAX = err('ERR syntax error')
const DB_RANGE = err('ERR DB index is out of range')
const SAME_OBJECT = err('ERR source and destination objects are the same')
const NO_SUCH_KEY = err('ERR no such key')

/** The keys of a SCAN reply, and its cursor. */
const scanReply = (reply: Reply): { cursor: string; keys: string[] } => {
  if (reply.type !== 'array') throw new Error(`not a SCAN reply: ${JSON.stringify(reply)}`)
  const [cursor, keys] = reply.items
  if (cursor?.type !== 'bulk' || keys?.type !== 'array') throw new Error('bad SCAN reply')
  return { cursor: cursor.value, keys: keys.items.map((k) => (k.type === 'bulk' ? k.value : '?')) }
}

// ---------------------------------------------------------------------------------------------
// metadata
// ---------------------------------------------------------------------------------------------

describe('metadata', () => {
  // name, arity, flags, first, last, step, group, since — from redis-server 7.0.15 COMMAND INFO/DOCS
  const redis: ReadonlyArray<readonly [string, number, string[], number, number, number, string, string]> = [
    ['del', -2, ['write'], 1, -1, 1, 'generic', '1.0.0'],
    ['unlink', -2, ['write', 'fast'], 1, -1, 1, 'generic', '4.0.0'],
    ['exists', -2, ['readonly', 'fast'], 1, -1, 1, 'generic', '1.0.0'],
    ['touch', -2, ['readonly', 'fast'], 1, -1, 1, 'generic', '3.2.1'],
    ['type', 2, ['readonly', 'fast'], 1, 1, 1, 'generic', '1.0.0'],
    ['rename', 3, ['write'], 1, 2, 1, 'generic', '1.0.0'],
    ['renamenx', 3, ['write', 'fast'], 1, 2, 1, 'generic', '1.0.0'],
    ['copy', -3, ['write', 'denyoom'], 1, 2, 1, 'generic', '6.2.0'],
    ['move', 3, ['write', 'fast'], 1, 1, 1, 'generic', '1.0.0'],
    ['keys', 2, ['readonly'], 0, 0, 0, 'generic', '1.0.0'],
    ['scan', -2, ['readonly'], 0, 0, 0, 'generic', '2.8.0'],
    ['randomkey', 1, ['readonly'], 0, 0, 0, 'generic', '1.0.0'],
    ['dbsize', 1, ['readonly', 'fast'], 0, 0, 0, 'server', '1.0.0'],
    ['flushdb', -1, ['write'], 0, 0, 0, 'server', '1.0.0'],
    ['flushall', -1, ['write'], 0, 0, 0, 'server', '1.0.0'],
    ['swapdb', 3, ['write', 'fast'], 0, 0, 0, 'server', '4.0.0'],
    ['select', 2, ['loading', 'stale', 'fast'], 0, 0, 0, 'connection', '1.0.0'],
    ['delete', -2, ['write'], 1, -1, 1, 'generic', '0.1.0'],
  ]
  it('every command reports Redis 7.0 arity, flags, key positions, group and since', () => {
    expect(KEY_COMMANDS.map((c) => c.name).sort()).toEqual(redis.map((r) => r[0]).sort())
    for (const [name, arity, flags, firstKey, lastKey, keyStep, group, since] of redis) {
      const s = spec(name)
      expect({ name: s.name, arity: s.arity, flags: s.flags, firstKey: s.firstKey, lastKey: s.lastKey, keyStep: s.keyStep, group: s.group, since: s.since }).toEqual({ name, arity, flags, firstKey, lastKey, keyStep, group, since })
    }
  })
  it('syntax lines match redis-cli help', () => {
    expect(spec('copy').syntax).toBe('source destination [DB destination-db] [REPLACE]')
    expect(spec('scan').syntax).toBe('cursor [MATCH pattern] [COUNT count] [TYPE type]')
    expect(spec('flushall').syntax).toBe('[ASYNC|SYNC]')
    expect(spec('swapdb').syntax).toBe('index1 index2')
    expect(spec('randomkey').syntax).toBe('')
  })
})

// ---------------------------------------------------------------------------------------------
// DEL, UNLINK, DELETE, EXISTS, TOUCH, TYPE
// ---------------------------------------------------------------------------------------------

describe('DEL, UNLINK and DELETE', () => {
  it('DEL of missing keys emits nothing and replies 0', () => then(run([], ['DEL', 'a', 'b']), [], int(0)))
  it('DEL removes the existing keys in one KeysDeleted event and replies how many', () =>
    then(run([set('a'), set('b')], ['DEL', 'a', 'c', 'b']), [deleted(['a', 'b'])], int(2)))
  it('DEL counts and deletes a key named twice once (Redis: DEL a a b c replies 2)', () =>
    then(run([set('a'), set('b')], ['DEL', 'a', 'a', 'b', 'c']), [deleted(['a', 'b'])], int(2)))
  it('DEL of a key past its deadline emits KeyExpired and does not count it', () =>
    then(run([set('a', 'v', NOW - 1), set('b')], ['DEL', 'a', 'b']), [expired('a'), deleted(['b'])], int(1)))
  it('DEL of only expired keys emits just the KeyExpired events and replies 0', () =>
    then(run([set('a', 'v', NOW - 1)], ['DEL', 'a', 'a']), [expired('a')], int(0)))
  it('DEL acts on the selected database only', () =>
    then(run([set('a', 'v', null, 3)], ['DEL', 'a'], { db: 3 }), [deleted(['a'], 3)], int(1)))
  it('DEL handles binary keys byte for byte', () =>
    then(run([set('\x00\xff')], ['DEL', '\x00\xff', '\x00']), [deleted(['\x00\xff'])], int(1)))
  it('UNLINK behaves exactly as DEL', () => then(run([set('a'), set('b')], ['UNLINK', 'a', 'a', 'z']), [deleted(['a'])], int(1)))
  it('DELETE (Redust dialect) behaves exactly as DEL', () => {
    then(run([set('a'), set('b')], ['DELETE', 'a', 'b', 'c']), [deleted(['a', 'b'])], int(2))
    then(run([], ['delete', 'a']), [], int(0))
  })
})

describe('EXISTS and TOUCH', () => {
  it('EXISTS counts a key each time it is named (Redis: EXISTS a a c b replies 3)', () =>
    then(run([set('a'), set('b')], ['EXISTS', 'a', 'a', 'c', 'b']), [], int(3)))
  it('EXISTS of an expired key named twice emits one KeyExpired and counts 0', () =>
    then(run([set('a', 'v', NOW - 1)], ['EXISTS', 'a', 'a']), [expired('a')], int(0)))
  it('EXISTS sees a key exactly at its deadline (expiry needs now > deadline)', () =>
    then(run([set('a', 'v', NOW)], ['EXISTS', 'a']), [], int(1)))
  it('TOUCH counts the existing keys and logs nothing for live keys', () =>
    then(run([set('a')], ['TOUCH', 'a', 'b', 'a']), [], int(2)))
  it('TOUCH expires an expired key lazily', () => then(run([set('a', 'v', NOW - 5)], ['TOUCH', 'a']), [expired('a')], int(0)))
})

describe('TYPE', () => {
  it('TYPE of a string key replies +string', () => then(run([set('a')], ['TYPE', 'a']), [], simple('string')))
  it('TYPE of a missing key replies +none', () => then(run([], ['TYPE', 'a']), [], simple('none')))
  it('TYPE of an expired key emits KeyExpired and replies +none', () =>
    then(run([set('a', 'v', NOW - 1)], ['TYPE', 'a']), [expired('a')], simple('none')))
})

// ---------------------------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE
// ---------------------------------------------------------------------------------------------

const renamed = (from: string, to: string, db = 0): Event => ({ type: 'KeyRenamed', db, from, to })

describe('RENAME and RENAMENX', () => {
  it('RENAME of a missing key fails with ERR no such key', () => then(run([], ['RENAME', 'a', 'b']), [], NO_SUCH_KEY))
  it('RENAME of a missing key onto itself still fails with ERR no such key', () => {
    then(run([], ['RENAME', 'a', 'a']), [], NO_SUCH_KEY)
    then(run([], ['RENAMENX', 'a', 'a']), [], NO_SUCH_KEY)
  })
  it('RENAME of an expired key emits KeyExpired and fails with ERR no such key', () =>
    then(run([set('a', 'v', NOW - 1)], ['RENAME', 'a', 'b']), [expired('a')], NO_SUCH_KEY))
  it('RENAME of an existing key onto itself emits nothing and replies OK; RENAMENX replies 0', () => {
    then(run([set('a')], ['RENAME', 'a', 'a']), [], ok)
    then(run([set('a')], ['RENAMENX', 'a', 'a']), [], int(0))
  })
  it('RENAME emits KeyRenamed and the key keeps its value and deadline', () => {
    const given = [set('a', 'x', NOW + 5000)]
    const d = run(given, ['RENAME', 'a', 'b'])
    then(d, [renamed('a', 'b')], ok)
    const after = fold(fold(emptyState, given), d.events)
    expect(Keyspace.getEntry(after, 0, 'b')).toEqual({ value: 'x', expireAt: NOW + 5000 })
    expect(Keyspace.hasKey(after, 0, 'a')).toBe(false)
  })
  it('RENAME over an existing key replaces it, its deadline included', () => {
    const given = [set('a', 'x'), set('b', 'y', NOW + 10)]
    const d = run(given, ['RENAME', 'a', 'b'])
    then(d, [renamed('a', 'b')], ok)
    expect(Keyspace.getEntry(fold(fold(emptyState, given), d.events), 0, 'b')).toEqual({ value: 'x', expireAt: null })
  })
  it('RENAME over an expired destination logs its KeyExpired before KeyRenamed', () =>
    then(run([set('a'), set('b', 'y', NOW - 1)], ['RENAME', 'a', 'b']), [expired('b'), renamed('a', 'b')], ok))
  it('RENAMENX onto an existing key emits nothing and replies 0', () =>
    then(run([set('a'), set('b')], ['RENAMENX', 'a', 'b']), [], int(0)))
  it('RENAMENX onto a missing key renames and replies 1', () => then(run([set('a')], ['RENAMENX', 'a', 'b']), [renamed('a', 'b')], int(1)))
  it('RENAMENX onto an expired key expires it, renames and replies 1', () =>
    then(run([set('a'), set('b', 'y', NOW - 1)], ['RENAMENX', 'a', 'b']), [expired('b'), renamed('a', 'b')], int(1)))
})

const copied = (from: string, toDb: number, to: string, db = 0): Event => ({ type: 'KeyCopied', db, from, toDb, to })

describe('COPY', () => {
  it('COPY to a missing key emits KeyCopied and replies 1, the deadline copied too', () => {
    const given = [set('s', 'v', NOW + 100)]
    const d = run(given, ['COPY', 's', 't'])
    then(d, [copied('s', 0, 't')], int(1))
    const after = fold(fold(emptyState, given), d.events)
    expect(Keyspace.getEntry(after, 0, 't')).toEqual({ value: 'v', expireAt: NOW + 100 })
    expect(Keyspace.getEntry(after, 0, 's')).toEqual({ value: 'v', expireAt: NOW + 100 })
  })
  it('COPY of a missing source emits nothing and replies 0', () => then(run([], ['COPY', 's', 't']), [], int(0)))
  it('COPY of an expired source emits KeyExpired and replies 0', () =>
    then(run([set('s', 'v', NOW - 1)], ['COPY', 's', 't']), [expired('s')], int(0)))
  it('COPY onto an existing key emits nothing and replies 0', () => then(run([set('s'), set('t')], ['COPY', 's', 't']), [], int(0)))
  it('COPY REPLACE onto an existing key copies and replies 1', () =>
    then(run([set('s'), set('t')], ['COPY', 's', 't', 'replace']), [copied('s', 0, 't')], int(1)))
  it('COPY onto an expired key expires it first, then copies', () =>
    then(run([set('s'), set('t', 'x', NOW - 1)], ['COPY', 's', 't']), [expired('t'), copied('s', 0, 't')], int(1)))
  it('COPY DB copies into another database, looking the destination up there', () => {
    then(run([set('s')], ['COPY', 's', 's', 'DB', '1']), [copied('s', 1, 's')], int(1))
    then(run([set('s'), set('s', 'w', null, 1)], ['COPY', 's', 's', 'DB', '1']), [], int(0))
    then(run([set('s'), set('t', 'w', NOW - 1, 2)], ['COPY', 's', 't', 'db', '2']), [expired('t', 2), copied('s', 2, 't')], int(1))
  })
  it('COPY of a key onto itself in the same database fails with the same-object error', () => {
    then(run([set('s')], ['COPY', 's', 's']), [], SAME_OBJECT)
    then(run([set('s')], ['COPY', 's', 's', 'DB', '0']), [], SAME_OBJECT)
    then(run([set('s', 'v', null, 2)], ['COPY', 's', 's', 'DB', '2'], { db: 2 }), [], SAME_OBJECT)
  })
  it('COPY options fail with Redis texts, the first bad option answering', () => {
    then(run([set('s')], ['COPY', 's', 't', 'DB', '16']), [], DB_RANGE)
    then(run([set('s')], ['COPY', 's', 't', 'DB', '-1']), [], DB_RANGE)
    then(run([set('s')], ['COPY', 's', 't', 'DB', 'x']), [], NOT_INTEGER)
    then(run([set('s')], ['COPY', 's', 't', 'DB', '99999999999']), [], NOT_INT32)
    then(run([set('s')], ['COPY', 's', 't', 'DB']), [], SYNTAX)
    then(run([set('s')], ['COPY', 's', 't', 'foo']), [], SYNTAX)
    then(run([set('s')], ['COPY', 's', 's', 'DB', 'x', 'REPLACE', 'foo']), [], NOT_INTEGER)
  })
  it('COPY with DB given twice uses the last one', () =>
    then(run([set('s')], ['COPY', 's', 't', 'DB', '1', 'REPLACE', 'DB', '2']), [copied('s', 2, 't')], int(1)))
})

const moved = (key: string, toDb: number, db = 0): Event => ({ type: 'KeyMoved', db, key, toDb })

describe('MOVE', () => {
  it('MOVE emits KeyMoved and replies 1; the key keeps its deadline in the target database', () => {
    const given = [set('k', 'v', NOW + 9)]
    const d = run(given, ['MOVE', 'k', '2'])
    then(d, [moved('k', 2)], int(1))
    const after = fold(fold(emptyState, given), d.events)
    expect(Keyspace.getEntry(after, 2, 'k')).toEqual({ value: 'v', expireAt: NOW + 9 })
    expect(Keyspace.hasKey(after, 0, 'k')).toBe(false)
  })
  it('MOVE of a missing key emits nothing and replies 0', () => then(run([], ['MOVE', 'k', '1']), [], int(0)))
  it('MOVE of an expired key emits KeyExpired and replies 0', () =>
    then(run([set('k', 'v', NOW - 1)], ['MOVE', 'k', '1']), [expired('k')], int(0)))
  it('MOVE onto a key that exists in the target database emits nothing and replies 0', () =>
    then(run([set('k'), set('k', 'w', null, 3)], ['MOVE', 'k', '3']), [], int(0)))
  it('MOVE onto an expired key in the target database expires it there and moves', () =>
    then(run([set('k'), set('k', 'w', NOW - 1, 3)], ['MOVE', 'k', '3']), [expired('k', 3), moved('k', 3)], int(1)))
  it('MOVE into the selected database fails with the same-object error', () => {
    then(run([set('k')], ['MOVE', 'k', '0']), [], SAME_OBJECT)
    then(run([], ['MOVE', 'k', '5'], { db: 5 }), [], SAME_OBJECT)
  })
  it('MOVE with a bad database index fails with Redis texts', () => {
    then(run([set('k')], ['MOVE', 'k', '16']), [], DB_RANGE)
    then(run([set('k')], ['MOVE', 'k', '-1']), [], DB_RANGE)
    then(run([set('k')], ['MOVE', 'k', 'x']), [], NOT_INTEGER)
    then(run([set('k')], ['MOVE', 'k', '99999999999']), [], NOT_INT32)
  })
})

// ---------------------------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY
// ---------------------------------------------------------------------------------------------

const sortedKeys = (reply: Reply): string[] => {
  if (reply.type !== 'array') throw new Error('not an array')
  return reply.items.map((k) => (k.type === 'bulk' ? k.value : '?')).sort()
}

describe('KEYS', () => {
  const given = [set('one'), set('two'), set('three'), set(''), set('\x00\xff'), set('other', 'v', null, 1)]
  it('KEYS * lists every key of the selected database, the empty key included', () => {
    const d = run(given, ['KEYS', '*'])
    expect(d.events).toEqual([])
    expect(sortedKeys(d.reply)).toEqual(['', '\x00\xff', 'one', 'three', 'two'])
  })
  it('KEYS filters with Redis glob rules', () => {
    expect(sortedKeys(run(given, ['KEYS', 't*']).reply)).toEqual(['three', 'two'])
    expect(sortedKeys(run(given, ['KEYS', '?w?']).reply)).toEqual(['two'])
    expect(sortedKeys(run(given, ['KEYS', '[a-o]*']).reply)).toEqual(['one'])
    expect(sortedKeys(run(given, ['KEYS', '**']).reply)).toEqual(['\x00\xff', 'one', 'three', 'two'])
    expect(sortedKeys(run(given, ['KEYS', '\x00?']).reply)).toEqual(['\x00\xff'])
  })
  it('KEYS skips keys past their deadline without expiring them (no events)', () =>
    then(run([set('a', 'v', NOW - 1), set('b', 'v', NOW)], ['KEYS', '*']), [], arr(bulk('b'))))
  it('KEYS on an empty database replies an empty array', () => then(run([], ['KEYS', '*']), [], arr()))
})

describe('SCAN', () => {
  const many = Array.from({ length: 50 }, (_, i) => set(`key:${i}`))

  it('SCAN from cursor 0 with a large COUNT returns every key and cursor 0', () => {
    const d = run(many, ['SCAN', '0', 'COUNT', '1000'])
    const { cursor, keys } = scanReply(d.reply)
    expect(cursor).toBe('0')
    expect(keys.sort()).toEqual(many.map((e) => (e.type === 'ValueSet' ? e.key : '')).sort())
    expect(d.events).toEqual([])
  })
  it('SCAN with the default COUNT walks the whole database in several calls, each key once', () => {
    const state = fold(emptyState, many)
    const seen: string[] = []
    let cursor = '0'
    let calls = 0
    do {
      const page = scanReply(decideOn(state, ['SCAN', cursor]).reply)
      seen.push(...page.keys)
      cursor = page.cursor
      calls++
    } while (cursor !== '0' && calls < 100)
    expect(calls).toBeGreaterThan(1)
    expect(seen.sort()).toEqual(many.map((e) => (e.type === 'ValueSet' ? e.key : '')).sort())
  })
  it('SCAN of an empty database replies cursor 0 and no keys', () => then(run([], ['SCAN', '0']), [], arr(bulk('0'), arr())))
  it('SCAN MATCH * behaves as no MATCH, the empty key included', () =>
    then(run([set('')], ['SCAN', '0', 'MATCH', '*']), [], arr(bulk('0'), arr(bulk('')))))
  it('SCAN MATCH filters with glob rules; a repeated MATCH uses the last pattern', () => {
    expect(scanReply(run([set('a'), set('b')], ['SCAN', '0', 'MATCH', 'a']).reply).keys).toEqual(['a'])
    expect(scanReply(run([set('a'), set('b')], ['SCAN', '0', 'MATCH', 'a', 'COUNT', '10', 'MATCH', 'b']).reply).keys).toEqual(['b'])
  })
  it('SCAN expires matching keys past their deadline lazily and leaves non-matching ones alone', () =>
    then(
      run([set('e4', 'v', NOW - 1), set('e5', 'v', NOW - 1), set('live')], ['SCAN', '0', 'MATCH', 'e4']),
      [expired('e4')],
      arr(bulk('0'), arr()),
    ))
  it('SCAN TYPE string returns live keys; the type is matched case-insensitively', () => {
    then(run([set('a')], ['SCAN', '0', 'TYPE', 'string']), [], arr(bulk('0'), arr(bulk('a'))))
    then(run([set('a')], ['SCAN', '0', 'type', 'STRING']), [], arr(bulk('0'), arr(bulk('a'))))
  })
  it('SCAN TYPE of another or unknown type returns nothing but still expires the keys it looked up', () => {
    then(run([set('a'), set('e', 'v', NOW - 1)], ['SCAN', '0', 'TYPE', 'list']), [expired('e')], arr(bulk('0'), arr()))
    then(run([set('a')], ['SCAN', '0', 'TYPE', 'nosuchtype']), [], arr(bulk('0'), arr()))
  })
  it('SCAN TYPE none returns the keys it just expired (Redis 7.0 quirk) and no live key', () =>
    then(run([set('a'), set('e', 'v', NOW - 1)], ['SCAN', '0', 'TYPE', 'none']), [expired('e')], arr(bulk('0'), arr(bulk('e')))))
  it('SCAN accepts every cursor C strtoul accepts', () => {
    for (const cursor of ['', '+0', '-0', '00', '0\x00junk', '18446744073709551615', '-1', '4294967296']) {
      expect(run([set('a')], ['SCAN', cursor]).reply.type).toBe('array')
    }
    expect(parseScanCursor('-1')).toBe(2n ** 64n - 1n)
    expect(parseScanCursor('-18446744073709551615')).toBe(1n)
    expect(parseScanCursor('+17')).toBe(17n)
    expect(parseScanCursor('007')).toBe(7n)
  })
  it('SCAN with a cursor past the cursor space returns no keys and cursor 0', () =>
    then(run([set('a')], ['SCAN', '18446744073709551615']), [], arr(bulk('0'), arr())))
  it('SCAN rejects a malformed cursor with ERR invalid cursor, before looking at options', () => {
    for (const cursor of [' 0', '0 ', '\t1', 'abc', '-', '+', '0x10', '1e3', '1.5', '18446744073709551616', '-18446744073709551616']) {
      then(run([], ['SCAN', cursor]), [], err('ERR invalid cursor'))
    }
    then(run([], ['SCAN', 'x', 'COUNT', '0']), [], err('ERR invalid cursor'))
  })
  it('SCAN option errors use Redis texts', () => {
    then(run([], ['SCAN', '0', 'COUNT', '0']), [], SYNTAX)
    then(run([], ['SCAN', '0', 'COUNT', '-1']), [], SYNTAX)
    then(run([], ['SCAN', '0', 'COUNT', 'x']), [], NOT_INTEGER)
    then(run([], ['SCAN', '0', 'COUNT']), [], SYNTAX)
    then(run([], ['SCAN', '0', 'MATCH']), [], SYNTAX)
    then(run([], ['SCAN', '0', 'TYPE']), [], SYNTAX)
    then(run([], ['SCAN', '0', 'foo', 'bar']), [], SYNTAX)
    then(run([], ['SCAN', '0', 'foo', 'bar', 'COUNT', 'x']), [], SYNTAX)
  })
  it('SCAN only iterates the selected database', () =>
    then(run([set('a'), set('b', 'v', null, 4)], ['SCAN', '0'], { db: 4 }), [], arr(bulk('0'), arr(bulk('b')))))

  it('every key present for the whole iteration is returned at least once while other keys come and go', () => {
    const key = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'x', '\x00', '\xff'), maxLength: 4 })
    // One change between two SCAN calls: add some keys, remove some of the unstable ones.
    const change = fc.record({ add: fc.array(key, { maxLength: 8 }), remove: fc.array(fc.nat(), { maxLength: 8 }) })
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { maxLength: 40 }),
        fc.uniqueArray(key, { maxLength: 20 }),
        fc.array(change, { maxLength: 60 }),
        fc.integer({ min: 1, max: 12 }),
        (stable, unstableInitial, changes, count) => {
          const stableSet = new Set(stable)
          const unstable = unstableInitial.filter((k) => !stableSet.has(k))
          let state = fold(emptyState, [...stable, ...unstable].map((k) => set(k)))
          const returned = new Set<string>()
          let cursor = '0'
          let step = 0
          do {
            const d = decideOn(state, ['SCAN', cursor, 'COUNT', String(count)])
            expect(d.events).toEqual([])
            const page = scanReply(d.reply)
            for (const k of page.keys) returned.add(k)
            cursor = page.cursor
            // Between calls: the unstable population changes; stable keys are even overwritten.
            const c = changes[step % Math.max(1, changes.length)]
            if (c !== undefined) {
              const present = [...Keyspace.keysOf(state, 0)].filter((k) => !stableSet.has(k))
              const gone = c.remove.map((i) => present[i % Math.max(1, present.length)]).filter((k): k is string => k !== undefined)
              const events: Event[] = c.add.filter((k) => !stableSet.has(k)).map((k) => set(k, `v${step}`))
              if (gone.length > 0) events.push(deleted([...new Set(gone)]))
              if (stable.length > 0) events.push(set(stable[step % stable.length]!, `w${step}`))
              state = fold(state, events)
            }
            step++
          } while (cursor !== '0' && step < 10_000)
          expect(cursor).toBe('0')
          for (const k of stable) expect(returned.has(k)).toBe(true)
        },
      ),
      { seed, numRuns },
    )
  })

  it('without changes, an iteration returns every key exactly once', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 60 }), fc.integer({ min: 1, max: 20 }), (keys, count) => {
        const state = fold(emptyState, keys.map((k) => set(k)))
        const returned: string[] = []
        let cursor = '0'
        let step = 0
        do {
          const page = scanReply(decideOn(state, ['SCAN', cursor, 'COUNT', String(count)]).reply)
          returned.push(...page.keys)
          cursor = page.cursor
          step++
        } while (cursor !== '0' && step < 10_000)
        expect(returned.sort()).toEqual([...keys].sort())
      }),
      { seed, numRuns },
    )
  })
})

describe('RANDOMKEY', () => {
  it('RANDOMKEY of an empty database replies nil', () => then(run([], ['RANDOMKEY']), [], nil))
  it('RANDOMKEY returns one of the live keys and logs nothing', () => {
    const d = run([set('a'), set('b'), set('c')], ['RANDOMKEY'])
    expect(d.events).toEqual([])
    expect(['a', 'b', 'c'].map(bulk)).toContainEqual(d.reply)
  })
  it('RANDOMKEY is a pure function of the seed', () => {
    const state = fold(emptyState, Array.from({ length: 30 }, (_, i) => set(`k${i}`)))
    const picks = new Set<string>()
    for (let s = 0; s < 50; s++) {
      const a = decideOn(state, ['RANDOMKEY'], { seed: s })
      expect(decideOn(state, ['RANDOMKEY'], { seed: s })).toEqual(a)
      if (a.reply.type === 'bulk') picks.add(a.reply.value)
    }
    expect(picks.size).toBeGreaterThan(5)
  })
  it('RANDOMKEY expires the expired keys it picks and tries others until a live one', () => {
    const given = [...Array.from({ length: 20 }, (_, i) => set(`dead${i}`, 'v', NOW - 1)), set('alive')]
    for (let s = 0; s < 20; s++) {
      const d = run(given, ['RANDOMKEY'], { seed: s })
      expect(d.reply).toEqual(bulk('alive'))
      for (const e of d.events) expect(e).toMatchObject({ type: 'KeyExpired', db: 0, at: NOW })
    }
  })
  it('RANDOMKEY when every key is expired expires them all and replies nil', () => {
    const d = run([set('a', 'v', NOW - 1), set('b', 'v', NOW - 2)], ['RANDOMKEY'])
    expect(d.reply).toEqual(nil)
    expect([...d.events].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual([expired('a'), expired('b')])
  })
})

// ---------------------------------------------------------------------------------------------
// DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, SELECT
// ---------------------------------------------------------------------------------------------

describe('DBSIZE', () => {
  it('DBSIZE counts the keys of the selected database, expired ones not yet removed included', () => {
    then(run([set('a'), set('b', 'v', NOW - 1), set('c', 'v', null, 1)], ['DBSIZE']), [], int(2))
    then(run([set('c', 'v', null, 1)], ['DBSIZE'], { db: 1 }), [], int(1))
    then(run([], ['DBSIZE']), [], int(0))
  })
})

describe('FLUSHDB and FLUSHALL', () => {
  it('FLUSHDB of a non-empty database emits DatabaseFlushed and replies OK', () =>
    then(run([set('a', 'v', null, 2)], ['FLUSHDB'], { db: 2 }), [{ type: 'DatabaseFlushed', db: 2 }], ok))
  it('FLUSHDB of an empty database emits nothing and replies OK', () => then(run([set('a', 'v', null, 1)], ['FLUSHDB']), [], ok))
  it('FLUSHDB of a database holding only expired keys still flushes them', () =>
    then(run([set('a', 'v', NOW - 1)], ['FLUSHDB']), [{ type: 'DatabaseFlushed', db: 0 }], ok))
  it('FLUSHDB and FLUSHALL accept ASYNC or SYNC in any case', () => {
    then(run([set('a')], ['FLUSHDB', 'async']), [{ type: 'DatabaseFlushed', db: 0 }], ok)
    then(run([set('a')], ['FLUSHDB', 'SYNC']), [{ type: 'DatabaseFlushed', db: 0 }], ok)
    then(run([set('a')], ['FLUSHALL', 'Async']), [{ type: 'AllDatabasesFlushed' }], ok)
  })
  it('FLUSHDB and FLUSHALL reject anything else with a syntax error', () => {
    then(run([set('a')], ['FLUSHDB', 'foo']), [], SYNTAX)
    then(run([set('a')], ['FLUSHDB', 'sync', 'async']), [], SYNTAX)
    then(run([set('a')], ['FLUSHALL', 'x']), [], SYNTAX)
  })
  it('FLUSHALL emits AllDatabasesFlushed when any database holds a key', () =>
    then(run([set('a', 'v', null, 15)], ['FLUSHALL']), [{ type: 'AllDatabasesFlushed' }], ok))
  it('FLUSHALL of an empty server emits nothing and replies OK', () => then(run([], ['FLUSHALL']), [], ok))
})

describe('SWAPDB', () => {
  it('SWAPDB emits DatabasesSwapped and replies OK', () =>
    then(run([set('a')], ['SWAPDB', '0', '3']), [{ type: 'DatabasesSwapped', db: 0, other: 3 }], ok))
  it('SWAPDB of a database with itself emits nothing and replies OK', () => then(run([set('a')], ['SWAPDB', '0', '0']), [], ok))
  it('SWAPDB of two empty databases emits nothing and replies OK', () => then(run([set('a')], ['SWAPDB', '1', '2']), [], ok))
  it('SWAPDB parses both indexes before checking their range, with Redis texts', () => {
    then(run([], ['SWAPDB', '0', '16']), [], DB_RANGE)
    then(run([], ['SWAPDB', '-1', '0']), [], DB_RANGE)
    then(run([], ['SWAPDB', 'x', '0']), [], err('ERR invalid first DB index'))
    then(run([], ['SWAPDB', '0', 'x']), [], err('ERR invalid second DB index'))
    then(run([], ['SWAPDB', '16', 'x']), [], err('ERR invalid second DB index'))
    then(run([], ['SWAPDB', 'x', 'y']), [], err('ERR invalid first DB index'))
    then(run([], ['SWAPDB', '99999999999', '0']), [], err('ERR invalid first DB index'))
    then(run([], ['SWAPDB', '0', '99999999999']), [], err('ERR invalid second DB index'))
    then(run([], ['SWAPDB', '9223372036854775808', '0']), [], err('ERR invalid first DB index'))
  })
})

describe('SELECT', () => {
  it('SELECT replies OK, logs nothing and switches the session database', () => {
    const d = run([], ['SELECT', '15'])
    then(d, [], ok)
    expect(d.selectDb).toBe(15)
  })
  it('SELECT rejects indexes outside 0..15 and non-integers with Redis 7.0 texts', () => {
    then(run([], ['SELECT', '16']), [], DB_RANGE)
    then(run([], ['SELECT', '-1']), [], DB_RANGE)
    then(run([], ['SELECT', 'x']), [], NOT_INTEGER)
    then(run([], ['SELECT', '01']), [], NOT_INTEGER)
    then(run([], ['SELECT', ' 1']), [], NOT_INTEGER)
    then(run([], ['SELECT', '99999999999']), [], NOT_INT32)
    then(run([], ['SELECT', '9223372036854775808']), [], NOT_INTEGER)
    expect(run([], ['SELECT', '16']).selectDb).toBeUndefined()
  })
})

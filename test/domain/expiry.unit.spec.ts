/**
 * The expiry family, given/when/then: given events folded into a state, when a command is parsed
 * and decided at a time `now`, then exactly these events and this reply. Replies and error texts
 * were checked against redis-server 7.0.15. Also: `decideExpireDue`, the active-expiry decision.
 *
 * The property replays with FC_SEED=<seed> (and FC_NUM_RUNS); the seed is printed on every run.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { AnyCommandSpec, Decision } from '../../src/domain/command.js'
import { decideExpireDue, EXPIRY_COMMANDS } from '../../src/domain/commands/expiry.js'
import type { Event } from '../../src/domain/event.js'
import { fold } from '../../src/domain/evolve.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import { emptyState } from '../../src/domain/keyspace.js'
import type { Reply } from '../../src/domain/reply.js'

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() ^ (Math.random() * 0x7fffffff)
const numRuns = Math.max(1000, process.env.FC_NUM_RUNS !== undefined ? Number(process.env.FC_NUM_RUNS) : 1000)
console.log(`expiry.unit: FC_SEED=${seed} FC_NUM_RUNS=${numRuns}`)

const NOW = 1_700_000_000_000

const spec = (name: string): AnyCommandSpec => {
  const found = EXPIRY_COMMANDS.find((c) => c.name === name.toLowerCase())
  if (found === undefined) throw new Error(`no command ${name}`)
  return found
}

/** Parses then decides argv (a parse error is a decision with no events). */
const run = (given: ReadonlyArray<Event>, argv: ReadonlyArray<string>, now = NOW, db = 0): Decision => {
  const s = spec(argv[0]!)
  const parsed = s.parse(argv.slice(1))
  if (parsed.type === 'error') return { events: [], reply: parsed }
  return s.decide(parsed, fold(emptyState, given), { now, db, seed: 7 })
}

const int = (value: number): Reply => ({ type: 'int', value })
const err = (message: string): Reply => ({ type: 'error', message })

const set = (key: string, expireAt: number | null = null, db = 0): Event => ({ type: 'ValueSet', db, key, value: 'v', expireAt })
const expirySet = (key: string, at: number, db = 0): Event => ({ type: 'ExpirySet', db, key, at })
const expired = (key: string, db = 0, at = NOW): Event => ({ type: 'KeyExpired', db, key, at })
const deleted = (key: string, db = 0): Event => ({ type: 'KeysDeleted', db, keys: [key] })

const then = (d: Decision, events: ReadonlyArray<Event>, reply: Reply) => {
  expect(d.reply).toEqual(reply)
  expect(d.events).toEqual(events)
}

const NX_WITH_OTHERS = err('ERR NX and XX, GT or LT options at the same time are not compatible')
const GT_AND_LT = err('ERR GT and LT options at the same time are not compatible')
const invalidExpire = (name: string) => err(`ERR invalid expire time in '${name}' command`)

// ---------------------------------------------------------------------------------------------
// metadata
// ---------------------------------------------------------------------------------------------

describe('metadata', () => {
  // name, arity, flags, since — from redis-server 7.0.15 COMMAND INFO/DOCS; all keys at 1/1/1, group generic
  const redis: ReadonlyArray<readonly [string, number, string[], string, string]> = [
    ['expire', -3, ['write', 'fast'], '1.0.0', 'key seconds [NX|XX|GT|LT]'],
    ['pexpire', -3, ['write', 'fast'], '2.6.0', 'key milliseconds [NX|XX|GT|LT]'],
    ['expireat', -3, ['write', 'fast'], '1.2.0', 'key unix-time-seconds [NX|XX|GT|LT]'],
    ['pexpireat', -3, ['write', 'fast'], '2.6.0', 'key unix-time-milliseconds [NX|XX|GT|LT]'],
    ['ttl', 2, ['readonly', 'fast'], '1.0.0', 'key'],
    ['pttl', 2, ['readonly', 'fast'], '2.6.0', 'key'],
    ['expiretime', 2, ['readonly', 'fast'], '7.0.0', 'key'],
    ['pexpiretime', 2, ['readonly', 'fast'], '7.0.0', 'key'],
    ['persist', 2, ['write', 'fast'], '2.2.0', 'key'],
  ]
  it('every command reports Redis 7.0 arity, flags, key positions, group, since and syntax', () => {
    expect(EXPIRY_COMMANDS.map((c) => c.name).sort()).toEqual(redis.map((r) => r[0]).sort())
    for (const [name, arity, flags, since, syntax] of redis) {
      const s = spec(name)
      expect({ arity: s.arity, flags: s.flags, keys: [s.firstKey, s.lastKey, s.keyStep], group: s.group, since: s.since, syntax: s.syntax, complexity: s.complexity })
        .toEqual({ arity, flags, keys: [1, 1, 1], group: 'generic', since, syntax, complexity: 'O(1)' })
    }
  })
})

// ---------------------------------------------------------------------------------------------
// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT
// ---------------------------------------------------------------------------------------------

describe('EXPIRE family: setting a deadline', () => {
  it('EXPIRE turns seconds into an absolute deadline and replies 1', () =>
    then(run([set('k')], ['EXPIRE', 'k', '10']), [expirySet('k', NOW + 10_000)], int(1)))
  it('PEXPIRE turns milliseconds into an absolute deadline', () =>
    then(run([set('k')], ['PEXPIRE', 'k', '1500']), [expirySet('k', NOW + 1500)], int(1)))
  it('EXPIREAT takes Unix seconds and logs Unix milliseconds', () =>
    then(run([set('k')], ['EXPIREAT', 'k', '1800000000']), [expirySet('k', 1_800_000_000_000)], int(1)))
  it('PEXPIREAT keeps the Unix milliseconds given', () =>
    then(run([set('k')], ['PEXPIREAT', 'k', '1800000000123']), [expirySet('k', 1_800_000_000_123)], int(1)))
  it('EXPIRE replaces an existing deadline', () =>
    then(run([set('k', NOW + 5)], ['EXPIRE', 'k', '100']), [expirySet('k', NOW + 100_000)], int(1)))
  it('EXPIRE to the deadline the key already has replies 1 and logs nothing (a no-op write)', () =>
    then(run([set('k', NOW + 10_000)], ['EXPIRE', 'k', '10']), [], int(1)))
  it('EXPIRE of a missing key emits nothing and replies 0', () => then(run([], ['EXPIRE', 'k', '10']), [], int(0)))
  it('EXPIRE of a key past its deadline emits KeyExpired and replies 0', () =>
    then(run([set('k', NOW - 1)], ['EXPIRE', 'k', '10']), [expired('k')], int(0)))
  it('EXPIRE acts on the selected database', () =>
    then(run([set('k', null, 9)], ['EXPIRE', 'k', '1'], NOW, 9), [expirySet('k', NOW + 1000, 9)], int(1)))
  it('EXPIRE keeps the key: folding the event leaves the value and sets the deadline', () => {
    const given = [set('k')]
    const d = run(given, ['PEXPIRE', 'k', '42'])
    expect(Keyspace.getEntry(fold(fold(emptyState, given), d.events), 0, 'k')).toEqual({ value: 'v', expireAt: NOW + 42 })
  })
})

describe('EXPIRE family: deadlines already due delete the key', () => {
  it('EXPIRE with 0 or a negative TTL deletes the key (KeysDeleted) and replies 1', () => {
    then(run([set('k')], ['EXPIRE', 'k', '0']), [deleted('k')], int(1))
    then(run([set('k', NOW + 500)], ['EXPIRE', 'k', '-1']), [deleted('k')], int(1))
    then(run([set('k')], ['PEXPIRE', 'k', '-9223372036854775808']), [deleted('k')], int(1))
  })
  it('PEXPIREAT at exactly now deletes the key (Redis: when <= now)', () =>
    then(run([set('k')], ['PEXPIREAT', 'k', String(NOW)]), [deleted('k')], int(1)))
  it('PEXPIREAT one millisecond ahead sets the deadline', () =>
    then(run([set('k')], ['PEXPIREAT', 'k', String(NOW + 1)]), [expirySet('k', NOW + 1)], int(1)))
  it('EXPIREAT in the past deletes the key, even far before 1970', () => {
    then(run([set('k')], ['EXPIREAT', 'k', '1']), [deleted('k')], int(1))
    then(run([set('k')], ['PEXPIREAT', 'k', '-9223372036854775808']), [deleted('k')], int(1))
  })
  it('EXPIRE in the past of a missing key emits nothing and replies 0', () => then(run([], ['EXPIRE', 'k', '-1']), [], int(0)))
})

describe('EXPIRE family: NX, XX, GT and LT', () => {
  it('EXPIRE NX on a key without TTL sets it', () => then(run([set('k')], ['EXPIRE', 'k', '10', 'NX']), [expirySet('k', NOW + 10_000)], int(1)))
  it('EXPIRE NX on a key with a TTL emits nothing and replies 0', () =>
    then(run([set('k', NOW + 5000)], ['EXPIRE', 'k', '10', 'nx']), [], int(0)))
  it('EXPIRE XX on a key without TTL emits nothing and replies 0', () => then(run([set('k')], ['EXPIRE', 'k', '10', 'XX']), [], int(0)))
  it('EXPIRE XX on a key with a TTL replaces it', () =>
    then(run([set('k', NOW + 5000)], ['EXPIRE', 'k', '10', 'XX']), [expirySet('k', NOW + 10_000)], int(1)))
  it('EXPIRE with GT on a key without TTL emits nothing and replies 0 (no TTL counts as infinite)', () =>
    then(run([set('k')], ['EXPIRE', 'k', '10', 'GT']), [], int(0)))
  it('EXPIRE GT applies only to a later deadline', () => {
    then(run([set('k', NOW + 5000)], ['EXPIRE', 'k', '10', 'GT']), [expirySet('k', NOW + 10_000)], int(1))
    then(run([set('k', NOW + 10_000)], ['EXPIRE', 'k', '10', 'GT']), [], int(0))
    then(run([set('k', NOW + 20_000)], ['EXPIRE', 'k', '10', 'gt']), [], int(0))
  })
  it('EXPIRE LT on a key without TTL sets it (anything is less than infinite)', () =>
    then(run([set('k')], ['EXPIRE', 'k', '10', 'LT']), [expirySet('k', NOW + 10_000)], int(1)))
  it('EXPIRE LT applies only to an earlier deadline', () => {
    then(run([set('k', NOW + 20_000)], ['EXPIRE', 'k', '10', 'LT']), [expirySet('k', NOW + 10_000)], int(1))
    then(run([set('k', NOW + 10_000)], ['EXPIRE', 'k', '10', 'LT']), [], int(0))
    then(run([set('k', NOW + 5000)], ['EXPIRE', 'k', '10', 'LT']), [], int(0))
  })
  it('the condition is checked before the past-deadline deletion', () => {
    then(run([set('k')], ['EXPIRE', 'k', '-1', 'GT']), [], int(0))
    then(run([set('k')], ['EXPIRE', 'k', '-1', 'LT']), [deleted('k')], int(1))
    then(run([set('k', NOW + 5000)], ['EXPIRE', 'k', '-1', 'NX']), [], int(0))
    then(run([set('k', NOW + 5000)], ['EXPIRE', 'k', '-1', 'XX']), [deleted('k')], int(1))
  })
  it('XX combines with GT or LT, and a repeated option is accepted', () => {
    then(run([set('k', NOW + 5000)], ['EXPIRE', 'k', '10', 'XX', 'GT']), [expirySet('k', NOW + 10_000)], int(1))
    then(run([set('k')], ['EXPIRE', 'k', '10', 'XX', 'LT']), [], int(0))
    then(run([set('k')], ['EXPIRE', 'k', '10', 'NX', 'NX']), [expirySet('k', NOW + 10_000)], int(1))
  })
})

describe('EXPIRE family: errors', () => {
  it('an unknown option fails with ERR Unsupported option, quoting it as sent', () => {
    then(run([set('k')], ['EXPIRE', 'k', '10', 'foo']), [], err('ERR Unsupported option foo'))
    then(run([set('k')], ['PEXPIREAT', 'k', '10', 'NX', 'Bar']), [], err('ERR Unsupported option Bar'))
  })
  it('NX with XX, GT or LT fails with the NX compatibility text', () => {
    for (const opts of [['NX', 'XX'], ['NX', 'GT'], ['NX', 'LT'], ['GT', 'NX'], ['nx', 'xx', 'gt', 'lt']]) {
      then(run([set('k')], ['EXPIRE', 'k', '10', ...opts]), [], NX_WITH_OTHERS)
    }
  })
  it('GT with LT fails with the GT/LT compatibility text', () => {
    then(run([set('k')], ['EXPIRE', 'k', '10', 'GT', 'LT']), [], GT_AND_LT)
    then(run([set('k')], ['EXPIRE', 'k', '10', 'XX', 'GT', 'LT']), [], GT_AND_LT)
  })
  it('options are checked before the amount (Redis: EXPIRE k abc foo → Unsupported option)', () =>
    then(run([set('k')], ['EXPIRE', 'k', 'abc', 'foo']), [], err('ERR Unsupported option foo')))
  it('a non-integer amount fails with the integer text', () => {
    for (const amount of ['abc', '1.5', ' 1', '01', '', '9223372036854775808']) {
      then(run([set('k')], ['EXPIRE', 'k', amount]), [], err('ERR value is not an integer or out of range'))
    }
  })
  it('seconds that overflow int64 milliseconds fail with invalid expire time, even for a missing key', () => {
    then(run([set('k')], ['EXPIRE', 'k', '9223372036854776']), [], invalidExpire('expire'))
    then(run([set('k')], ['EXPIRE', 'k', '-9223372036854776']), [], invalidExpire('expire'))
    then(run([], ['EXPIREAT', 'k', '9223372036854776']), [], invalidExpire('expireat'))
    then(run([], ['EXPIRE', 'k', '9223372036854776']), [], invalidExpire('expire'))
  })
  it('a relative amount that overflows once now is added fails with invalid expire time', () => {
    then(run([set('k')], ['PEXPIRE', 'k', '9223372036854770000']), [], invalidExpire('pexpire'))
    then(run([set('k')], ['EXPIRE', 'k', '9223372036854775']), [], invalidExpire('expire'))
    then(run([], ['PEXPIRE', 'k', '9223372036854770000']), [], invalidExpire('pexpire'))
  })
  it('the largest negative seconds that still fit are accepted and delete the key', () =>
    then(run([set('k')], ['EXPIRE', 'k', '-9223372036854775']), [deleted('k')], int(1)))
  it('Redust limit: a future deadline beyond 2^53-1 ms fails with invalid expire time', () => {
    then(run([set('k')], ['PEXPIREAT', 'k', '9223372036854770000']), [], invalidExpire('pexpireat'))
    then(run([set('k')], ['PEXPIREAT', 'k', String(Number.MAX_SAFE_INTEGER + 1)]), [], invalidExpire('pexpireat'))
    then(run([set('k')], ['PEXPIREAT', 'k', String(Number.MAX_SAFE_INTEGER)]), [expirySet('k', Number.MAX_SAFE_INTEGER)], int(1))
    // Where Redis answers without storing the deadline, Redust answers the same.
    then(run([], ['PEXPIREAT', 'k', '9223372036854770000']), [], int(0))
    then(run([set('k')], ['PEXPIREAT', 'k', '9223372036854770000', 'GT']), [], int(0))
  })
})

// ---------------------------------------------------------------------------------------------
// TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST
// ---------------------------------------------------------------------------------------------

describe('TTL, PTTL, EXPIRETIME and PEXPIRETIME', () => {
  it('a missing key replies -2 to all four', () => {
    for (const name of ['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']) then(run([], [name, 'k']), [], int(-2))
  })
  it('a key without TTL replies -1 to all four', () => {
    for (const name of ['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']) then(run([set('k')], [name, 'k']), [], int(-1))
  })
  it('an expired key emits KeyExpired and replies -2', () => {
    for (const name of ['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']) then(run([set('k', NOW - 1)], [name, 'k']), [expired('k')], int(-2))
  })
  it('PTTL replies the milliseconds left and PEXPIRETIME the deadline', () => {
    then(run([set('k', NOW + 1234)], ['PTTL', 'k']), [], int(1234))
    then(run([set('k', NOW + 1234)], ['PEXPIRETIME', 'k']), [], int(NOW + 1234))
  })
  it('TTL rounds the milliseconds left half up, as (ms + 500) / 1000', () => {
    then(run([set('k', NOW + 499)], ['TTL', 'k']), [], int(0))
    then(run([set('k', NOW + 500)], ['TTL', 'k']), [], int(1))
    then(run([set('k', NOW + 1499)], ['TTL', 'k']), [], int(1))
    then(run([set('k', NOW + 1500)], ['TTL', 'k']), [], int(2))
  })
  it('EXPIRETIME rounds the deadline to seconds the same way', () => {
    then(run([set('k', 2_000_000_000_499)], ['EXPIRETIME', 'k']), [], int(2_000_000_000))
    then(run([set('k', 2_000_000_000_500)], ['EXPIRETIME', 'k']), [], int(2_000_000_001))
  })
  it('a key exactly at its deadline is still live with TTL 0', () => {
    then(run([set('k', NOW)], ['TTL', 'k']), [], int(0))
    then(run([set('k', NOW)], ['PTTL', 'k']), [], int(0))
  })
})

describe('PERSIST', () => {
  it('PERSIST of a key with a TTL emits ExpiryRemoved and replies 1', () =>
    then(run([set('k', NOW + 10)], ['PERSIST', 'k']), [{ type: 'ExpiryRemoved', db: 0, key: 'k' }], int(1)))
  it('PERSIST of a key without TTL emits nothing and replies 0', () => then(run([set('k')], ['PERSIST', 'k']), [], int(0)))
  it('PERSIST of a missing key emits nothing and replies 0', () => then(run([], ['PERSIST', 'k']), [], int(0)))
  it('PERSIST of an expired key emits KeyExpired and replies 0', () =>
    then(run([set('k', NOW - 1)], ['PERSIST', 'k']), [expired('k')], int(0)))
})

// ---------------------------------------------------------------------------------------------
// active expiry
// ---------------------------------------------------------------------------------------------

describe('decideExpireDue', () => {
  it('expires every candidate past its deadline, in candidate order, and replies the count', () => {
    const state = fold(emptyState, [set('a', NOW - 10), set('b', NOW - 1, 3)])
    then(decideExpireDue([[3, 'b'], [0, 'a']], state, NOW), [expired('b', 3), expired('a')], int(2))
  })
  it('re-checks stale candidates: missing, persisted, postponed or exactly-due keys are left alone', () => {
    const state = fold(emptyState, [set('persisted'), set('later', NOW + 1), set('due-now', NOW)])
    then(decideExpireDue([[0, 'gone'], [0, 'persisted'], [0, 'later'], [0, 'due-now'], [1, 'later']], state, NOW), [], int(0))
  })
  it('a candidate named twice is expired once', () => {
    const state = fold(emptyState, [set('a', NOW - 1)])
    then(decideExpireDue([[0, 'a'], [0, 'a']], state, NOW), [expired('a')], int(1))
  })
  it('an empty candidate list decides nothing', () => then(decideExpireDue([], emptyState, NOW), [], int(0)))
  it('after folding its events, no candidate is past its deadline and every other key is untouched', () => {
    const entry = fc.record({ db: fc.integer({ min: 0, max: 3 }), key: fc.constantFrom('a', 'b', 'c', 'd', '\x00'), offset: fc.option(fc.integer({ min: -50, max: 50 })) })
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom('a', 'b', 'c', 'd', '\x00', 'z')), { maxLength: 20 }), (entries, candidates) => {
        const state = fold(emptyState, entries.map((e) => set(e.key, e.offset === null ? null : NOW + e.offset, e.db)))
        const d = decideExpireDue(candidates, state, NOW)
        const after = fold(state, d.events)
        expect(d.reply).toEqual(int(d.events.length))
        for (const [db, key] of candidates) {
          const at = Keyspace.getExpireAt(after, db, key)
          expect(Keyspace.hasKey(after, db, key) && at !== undefined && NOW > at).toBe(false)
        }
        for (let db = 0; db < 4; db++) {
          for (const key of Keyspace.keysOf(state, db)) {
            const wasCandidate = candidates.some(([cdb, ckey]) => cdb === db && ckey === key)
            if (!wasCandidate) expect(Keyspace.getEntry(after, db, key)).toEqual(Keyspace.getEntry(state, db, key))
          }
        }
      }),
      { seed, numRuns },
    )
  })
})

/**
 * KeyTable (domain/keyTable.ts), the keyspace's open-addressing table, against a native Map:
 * any mix of sets, deletes and clears gives the same contents through every read, while the
 * table grows, shrinks, wraps its probe runs around the end and shifts entries back on delete.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyTable, keyHashOf, probeStart } from '../../src/domain/keyTable.js'
import { assertProperty } from '../support/fc.js'

type Op = { readonly kind: 'set'; readonly key: string; readonly value: number } | { readonly kind: 'delete'; readonly key: string } | { readonly kind: 'clear' }

/** Few distinct keys, so sets overwrite and deletes hit; binary and empty keys included. */
const keyArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map((i) => `k${i}`),
  fc.constantFrom('', '\x00', '\xff', '\x00\x00', 'k1\x00'),
)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('set' as const), key: keyArb, value: fc.integer() }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
)

const sameAs = (table: KeyTable<number>, model: Map<string, number>, probes: ReadonlyArray<string>): void => {
  expect(table.size).toBe(model.size)
  const sorted = (xs: Iterable<[string, number]>): Array<[string, number]> => [...xs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  expect(sorted(table.entries())).toEqual(sorted(model))
  expect(sorted(table)).toEqual(sorted(model))
  expect([...table.keys()].sort()).toEqual([...model.keys()].sort())
  expect([...table.values()].sort()).toEqual([...model.values()].sort())
  const seen: Array<[string, number]> = []
  table.forEach((v, k) => seen.push([k, v]))
  expect(sorted(seen)).toEqual(sorted(model))
  for (const key of probes) {
    expect(table.get(key)).toBe(model.get(key))
    expect(table.has(key)).toBe(model.has(key))
  }
}

describe('KeyTable', () => {
  it('behaves as a Map under any mix of sets, deletes and clears (growing, shrinking, wrapping)', () => {
    assertProperty(
      'KeyTable = Map',
      fc.property(fc.array(opArb, { maxLength: 600 }), fc.array(keyArb, { maxLength: 20 }), (ops, probes) => {
        const table = new KeyTable<number>()
        const model = new Map<string, number>()
        for (const [i, op] of ops.entries()) {
          switch (op.kind) {
            case 'set':
              expect(table.swap(op.key, op.value)).toBe(model.get(op.key))
              model.set(op.key, op.value)
              break
            case 'delete':
              expect(table.take(op.key)).toBe(model.get(op.key))
              model.delete(op.key)
              break
            case 'clear':
              table.clear()
              model.clear()
              break
          }
          // Every key the model ever held must still be found (or not) after each shift-back.
          if (i % 25 === 0) sameAs(table, model, [...probes, ...model.keys()])
        }
        sameAs(table, model, [...probes, ...model.keys()])
      }),
    )
  })

  it('keeps every key reachable when whole probe runs are deleted from the middle and the wrap-around', () => {
    // Keys sharing a home slot in a small table: long runs that wrap past the last slot.
    const seed = 12345
    const table = new KeyTable<number>(seed)
    const model = new Map<string, number>()
    const sameHome: string[] = []
    for (let i = 0; sameHome.length < 5; i++) if ((probeStart(keyHashOf(`c${i}`), seed) & 7) === 7) sameHome.push(`c${i}`)
    for (const [i, key] of sameHome.entries()) {
      table.set(key, i)
      model.set(key, i)
    }
    sameAs(table, model, sameHome)
    for (const key of [sameHome[1]!, sameHome[3]!, sameHome[0]!]) {
      expect(table.delete(key)).toBe(true)
      model.delete(key)
      sameAs(table, model, sameHome)
    }
    expect(table.delete('absent')).toBe(false)
  })

  it('tells apart keys with the same hash', () => {
    const colliding = [['k32728', 'k261234'], ['k32729', 'k261235'], ['k32724', 'k261238']] as const
    const table = new KeyTable<number>()
    for (const [a, b] of colliding) {
      expect(keyHashOf(a)).toBe(keyHashOf(b))
      table.set(a, 1)
      expect(table.get(b)).toBeUndefined()
      expect(table.swap(b, 2)).toBeUndefined()
      expect([table.get(a), table.get(b)]).toEqual([1, 2])
    }
    expect(table.size).toBe(6)
    expect(table.take('k32728')).toBe(1)
    expect([table.get('k32728'), table.get('k261234')]).toEqual([undefined, 2])
  })

  // Linear probing's trap: keys arriving in another table's slot order (a snapshot written from
  // one table and loaded into another) hit the filling table's slots in order, lap after lap,
  // and pile into one run that every later insert walks: quadratic. Tables with their own seeds
  // place keys independently. (Checked by structure, not time: the longest run of the copy.)
  it("fills a table in another table's slot order without piling the keys into one long run", () => {
    const keys = Array.from({ length: 75_000 }, (_, i) => `s:${i % 50}:${i}`)
    const source = new KeyTable<number>()
    keys.forEach((k, i) => source.set(k, i))
    /** Copies `source` into `into` in its slot order; the longest run seen along the way. */
    const copyInto = (into: KeyTable<number>): number => {
      let longest = 0
      for (const [k, v] of source) {
        into.set(k, v)
        if (into.size % 2500 === 0) longest = Math.max(longest, into.longestRun())
      }
      return longest
    }
    const copy = new KeyTable<number>()
    expect(copy.seed).not.toBe(source.seed)
    expect(copyInto(copy)).toBeLessThan(500)
    expect(copy.size).toBe(keys.length)
    for (const k of keys.slice(0, 1000)) expect(copy.get(k)).toBe(source.get(k))
    // The hazard itself: the same copy into a table sharing the source's seed.
    expect(copyInto(new KeyTable<number>(source.seed))).toBeGreaterThan(10_000)
  })

  it('hashes to a nonzero 30-bit small integer', () => {
    for (const key of ['', 'a', '\x00', '\xff'.repeat(100), 'key:000000012345']) {
      const h = keyHashOf(key)
      expect(Number.isInteger(h) && h > 0 && h < 2 ** 30).toBe(true)
    }
  })
})

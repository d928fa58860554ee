/**
 * The keyspace representation (domain/keyspace.ts, domain/layeredMap.ts) against a naive model:
 *
 * - K1 persistence: every version produced by evolve keeps its contents, read in any order
 *   (rerooting back and forth), including after branching from an old version;
 * - K2 capture: a captured view does not change while the live state moves on (flushes and swaps
 *   included), and the live state stays right during and after the capture;
 * - K3 LayeredMap behaves as a Map under any mix of writes, freezes, thaws and overlay settling.
 *
 * The model is a copy-per-event fold over plain Maps: slow and obviously right.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { rangeOverwritten, valueAppended, valueSet, type Event } from '../../src/domain/event.js'
import { applyEvent, evolve, fold, overwriteRange } from '../../src/domain/evolve.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import { LayeredMap } from '../../src/domain/layeredMap.js'
import { DATABASE_COUNT } from '../../src/domain/primitives.js'
import { eventArb, keyArb } from '../infra/support/logFixtures.js'
import { assertProperty } from '../support/fc.js'

interface ModelEntry {
  readonly value: string
  readonly expireAt: number | null
}
type Model = ReadonlyArray<ReadonlyMap<string, ModelEntry>>

const emptyModel: Model = Array.from({ length: DATABASE_COUNT }, () => new Map())

const modelApply = (model: Model, e: Event): Model => {
  const dbs = model.map((d) => new Map(d))
  const put = (db: number, key: string, value: string, expireAt: number | null): void => void dbs[db]!.set(key, { value, expireAt })
  const keep = (db: number, key: string, value: string): void => put(db, key, value, dbs[db]!.get(key)?.expireAt ?? null)
  switch (e.type) {
    case 'ValueSet':
      put(e.db, e.key, e.value, e.expireAt)
      break
    case 'ValueAppended':
      keep(e.db, e.key, (dbs[e.db]!.get(e.key)?.value ?? '') + e.suffix)
      break
    case 'RangeOverwritten':
      keep(e.db, e.key, overwriteRange(dbs[e.db]!.get(e.key)?.value ?? '', e.offset, e.bytes))
      break
    case 'KeysDeleted':
      for (const k of e.keys) dbs[e.db]!.delete(k)
      break
    case 'KeyExpired':
      dbs[e.db]!.delete(e.key)
      break
    case 'ExpirySet': {
      const old = dbs[e.db]!.get(e.key)
      if (old !== undefined) put(e.db, e.key, old.value, e.at)
      break
    }
    case 'ExpiryRemoved': {
      const old = dbs[e.db]!.get(e.key)
      if (old !== undefined) put(e.db, e.key, old.value, null)
      break
    }
    case 'DatabaseFlushed':
      dbs[e.db] = new Map()
      break
    case 'AllDatabasesFlushed':
      return emptyModel
    case 'DatabasesSwapped': {
      const a = dbs[e.db]!
      dbs[e.db] = dbs[e.other]!
      dbs[e.other] = a
      break
    }
    case 'KeyRenamed': {
      const old = dbs[e.db]!.get(e.from)
      if (old === undefined) break
      dbs[e.db]!.delete(e.from)
      dbs[e.db]!.set(e.to, old)
      break
    }
    case 'KeyMoved': {
      const old = dbs[e.db]!.get(e.key)
      if (old === undefined) break
      dbs[e.db]!.delete(e.key)
      dbs[e.toDb]!.set(e.key, old)
      break
    }
    case 'KeyCopied': {
      const old = dbs[e.db]!.get(e.from)
      if (old !== undefined) dbs[e.toDb]!.set(e.to, old)
      break
    }
  }
  return dbs
}

/** A state's contents, read through the public reads only. */
const contents = (state: Keyspace.State): Model =>
  Array.from({ length: DATABASE_COUNT }, (_, db) => {
    const out = new Map<string, ModelEntry>()
    for (const key of Keyspace.keysOf(state, db)) {
      out.set(key, { value: Keyspace.getValue(state, db, key)!, expireAt: Keyspace.getExpireAt(state, db, key) ?? null })
    }
    expect(out.size).toBe(Keyspace.size(state, db))
    expect(Keyspace.expiresCount(state, db)).toBe([...out.values()].filter((e) => e.expireAt !== null).length)
    return out
  })

const sameContents = (actual: Model, expected: Model): void => {
  expect(actual.map((d) => [...d].sort())).toEqual(expected.map((d) => [...d].sort()))
}

const captureContents = (c: Keyspace.Capture): Model =>
  c.dbs.map((d) => {
    const out = new Map<string, ModelEntry>()
    for (const [key, value] of d.values) out.set(key, { value: Keyspace.valueBytes(value), expireAt: d.expires.get(key) ?? null })
    return out
  })

describe('keyspace representation', () => {
  it('K1: every version keeps its contents, read in any order, after branching too', () => {
    assertProperty(
      'K1 persistence',
      fc.property(
        fc.array(eventArb, { maxLength: 40 }),
        fc.array(eventArb, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.nat(),
        (events, branch, reads, branchAt) => {
          const versions: Keyspace.State[] = [Keyspace.emptyState]
          const models: Model[] = [emptyModel]
          for (const e of events) {
            versions.push(evolve(versions.at(-1)!, e))
            models.push(modelApply(models.at(-1)!, e))
          }
          // Branch from an old version: both lines of history stay readable.
          const from = branchAt % versions.length
          let b = versions[from]!
          let bm = models[from]!
          for (const e of branch) {
            b = evolve(b, e)
            bm = modelApply(bm, e)
          }
          versions.push(b)
          models.push(bm)
          for (const r of [...reads, versions.length - 1, 0]) {
            const i = r % versions.length
            sameContents(contents(versions[i]!), models[i]!)
            // The exposed order depends on the contents alone, whatever the history.
            for (let db = 0; db < DATABASE_COUNT; db++) {
              const canonical = [...models[i]![db]!.keys()].sort((x, y) => Keyspace.keyHash(x) - Keyspace.keyHash(y) || (x < y ? -1 : x > y ? 1 : 0))
              expect(Keyspace.keysInOrder(versions[i]!, db)).toEqual(canonical)
            }
          }
          expect(Keyspace.equals(versions.at(-1)!, b)).toBe(true)
        },
      ),
    )
  })

  it('K2: a capture is frozen while the live state moves on, and the live state stays right', () => {
    assertProperty(
      'K2 capture',
      fc.property(
        fc.array(eventArb, { maxLength: 30 }),
        fc.array(eventArb, { maxLength: 30 }),
        fc.array(eventArb, { maxLength: 30 }),
        (before, during, after) => {
          let state = Keyspace.emptyState
          let model = emptyModel
          for (const e of before) {
            state = evolve(state, e)
            model = modelApply(model, e)
          }
          const atCapture = model
          const c = Keyspace.capture(state)
          const old = state
          for (const e of during) {
            state = evolve(state, e)
            model = modelApply(model, e)
            sameContents(captureContents(c), atCapture)
          }
          sameContents(contents(state), model)
          sameContents(contents(old), atCapture) // rerooting while frozen
          sameContents(contents(state), model)
          Keyspace.release(c)
          for (const [i, e] of after.entries()) {
            state = evolve(state, e)
            model = modelApply(model, e)
            // The server's cron moves the overlay back between writes; contents never change.
            if (i % 3 === 0) Keyspace.settleOverlays(state, i % 2)
          }
          sameContents(contents(state), model)
          while (!Keyspace.settleOverlays(state, 2)) sameContents(contents(state), model)
          sameContents(contents(state), model)
          // A second capture after the first is released.
          const again = Keyspace.capture(state)
          sameContents(captureContents(again), model)
          Keyspace.release(again)
        },
      ),
    )
  })

  it('K4: a value reads back as written through every read, whatever its length and bytes (short values are stored packed)', () => {
    const edge = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff]
    const values = ['', 'a', '\x00', '\xff', 'xxx', '\x00\x00\x00', '\xff\xff\xff', '1234', '\x00\x00\x00\x00']
    for (const a of edge) for (const b of edge) values.push(String.fromCharCode(a, b), String.fromCharCode(a, b, a), String.fromCharCode(b, a, b, a))
    const keys = values.map((_, i) => `k${i}`)
    const state = fold(Keyspace.emptyState, values.map((v, i) => valueSet(i % 3, keys[i]!, v, i % 2 === 0 ? null : 1_700_000_000_000 + i)))
    const owned = Keyspace.updateOwned(evolve(Keyspace.emptyState, valueSet(0, 'seed', 'x', null)), (w) => {
      for (const [i, v] of values.entries()) w.put(i % 3, keys[i]!, v, null)
    })
    const built = Keyspace.builder()
    for (const [i, v] of values.entries()) built.writer.putNew(i % 3, keys[i]!, v, null)
    const loaded = built.finish()
    const c = Keyspace.capture(state)
    try {
      for (const [i, v] of values.entries()) {
        const db = i % 3
        expect(Keyspace.getValue(state, db, keys[i]!)).toBe(v)
        expect(Keyspace.getEntry(state, db, keys[i]!)?.value).toBe(v)
        expect(Keyspace.getValue(owned, db, keys[i]!)).toBe(v)
        expect(Keyspace.getValue(loaded, db, keys[i]!)).toBe(v)
        expect(new Map(Keyspace.entriesOf(state, db)).get(keys[i]!)).toBe(v)
        expect(Keyspace.entriesSorted(state, db).find(([k]) => k === keys[i])?.[1].value).toBe(v)
        expect(Keyspace.valueBytes(c.dbs[db]!.values.get(keys[i]!)!)).toBe(v)
      }
    } finally {
      Keyspace.release(c)
    }
    // Appending to and overwriting ranges of packed values unpacks them first.
    let s = fold(Keyspace.emptyState, [valueSet(0, 'k', '\xff\x00', null), valueAppended(0, 'k', '\x01')])
    expect(Keyspace.getValue(s, 0, 'k')).toBe('\xff\x00\x01')
    s = evolve(s, rangeOverwritten(0, 'k', 1, '\x80\x80\x80'))
    expect(Keyspace.getValue(s, 0, 'k')).toBe('\xff\x80\x80\x80')
  })

  it('updateOwned and ownedUpdate (writes spread over calls) equal update, and the state they gave up can no longer be read', () => {
    assertProperty(
      'K1b owned update',
      fc.property(
        fc.array(eventArb, { maxLength: 30 }),
        fc.array(eventArb, { minLength: 1, maxLength: 30 }),
        fc.nat(),
        (first, second, cut) => {
          const base = fold(Keyspace.emptyState, first)
          const expected = contents(fold(base, second))
          const older = fold(Keyspace.emptyState, first) // a separate store
          const owned = Keyspace.updateOwned(older, (w) => second.forEach((e) => applyEvent(w, e)))
          sameContents(contents(owned), expected)
          if (owned !== older && older !== Keyspace.emptyState) expect(() => Keyspace.size(older, 0)).toThrow(/given up/)
          // As recovery uses it: one writer, the events applied in separate stretches.
          const given = fold(Keyspace.emptyState, first)
          const update = Keyspace.ownedUpdate(given)
          const k = cut % (second.length + 1)
          for (const e of second.slice(0, k)) applyEvent(update.writer, e)
          for (const e of second.slice(k)) applyEvent(update.writer, e)
          const finished = update.finish()
          sameContents(contents(finished), expected)
          expect(() => update.finish()).toThrow(/twice/)
          if (finished !== given && given !== Keyspace.emptyState) expect(() => Keyspace.size(given, 0)).toThrow(/given up/)
        },
      ),
    )
  })

  it('putNew skips clearing a deadline only in a keyspace built from nothing', () => {
    const withDeadline = fold(Keyspace.emptyState, [valueSet(0, 'k', 'v', 1_700_000_000_000)])
    const update = Keyspace.ownedUpdate(withDeadline)
    update.writer.putNew(0, 'k', 'w', null) // misused on a key that exists: it must act as put
    expect(Keyspace.getEntry(update.finish(), 0, 'k')).toEqual({ value: 'w', expireAt: null })
    const built = Keyspace.builder()
    built.writer.putNew(0, 'k', 'w', null)
    expect(Keyspace.getEntry(built.finish(), 0, 'k')).toEqual({ value: 'w', expireAt: null })
  })

  it('K3: LayeredMap is a Map under any mix of writes, freezes, thaws and overlay settling', () => {
    type Op =
      | { op: 'set'; key: string; value: string }
      | { op: 'delete'; key: string }
      | { op: 'freeze' }
      | { op: 'thaw' }
      | { op: 'settle'; budget: number }
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.tuple(keyArb, fc.string({ maxLength: 3 })).map(([key, value]) => ({ op: 'set' as const, key, value })) },
      { weight: 3, arbitrary: keyArb.map((key) => ({ op: 'delete' as const, key })) },
      { weight: 1, arbitrary: fc.constant({ op: 'freeze' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'thaw' as const }) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((budget) => ({ op: 'settle' as const, budget })) },
    )
    assertProperty(
      'K3 layered map',
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const map = new LayeredMap<string>()
        const model = new Map<string, string>()
        let frozen: { view: ReadonlyMap<string, string>; expected: Array<[string, string]> } | undefined
        for (const o of ops) {
          switch (o.op) {
            case 'set':
              expect(map.set(o.key, o.value)).toBe(model.get(o.key))
              model.set(o.key, o.value)
              break
            case 'delete':
              expect(map.delete(o.key)).toBe(model.get(o.key))
              model.delete(o.key)
              break
            case 'freeze':
              if (frozen !== undefined) break
              frozen = { view: map.freeze(), expected: [...model].sort() }
              break
            case 'thaw':
              map.thaw()
              frozen = undefined
              break
            case 'settle': {
              // Moves overlay entries back only when not frozen, at most `budget` of them.
              const before = map.overlaySize
              const left = map.settleSome(o.budget)
              expect(left).toBe(map.overlaySize)
              expect(left).toBe(frozen !== undefined ? before : Math.max(0, before - o.budget))
              break
            }
          }
          expect(map.size).toBe(model.size)
          expect([...map.entries()].sort()).toEqual([...model].sort())
          expect([...map.keys()].sort()).toEqual([...model.keys()].sort())
          for (const k of ['a', 'b', 'c']) expect(map.get(k)).toBe(model.get(k))
          if (frozen !== undefined) expect([...frozen.view].sort()).toEqual(frozen.expected)
        }
      }),
    )
  })
})

/**
 * Replay properties (DESIGN.md invariant I1, DURABILITY.md §9 test 8):
 * - the batched replay (transient maps) equals a plain fold of `evolve`;
 * - for any history and any checkpoint position k, snapshot(k) + the log tail recovers the same
 *   state as a full replay of the log, on real files.
 * Events come from a small key alphabet with byte strings over all 256 byte values.
 */
import * as path from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { LogRecord } from '../../src/app/eventLog.js'
import { applyRecords, recover } from '../../src/app/recovery.js'
import { fold } from '../../src/domain/evolve.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import type { State } from '../../src/domain/keyspace.js'
import { NUM_RUNS, assertAsyncProperty, assertProperty } from '../support/fc.js'
import { cleanup, EPOCH, openLog, recordsArb, tempDir } from '../infra/support/logFixtures.js'

const foldRecords = (records: ReadonlyArray<LogRecord>, from: State = Keyspace.emptyState): State =>
  fold(from, records.flatMap((r) => r.events))

const keyCount = (s: State): number => {
  let n = 0
  for (let db = 0; db < 16; db++) n += Keyspace.size(s, db)
  return n
}

/** Property runs touching files: FC_NUM_RUNS when set, else 150 (each run writes a small log). */
const FILE_RUNS = process.env['FC_NUM_RUNS'] !== undefined ? NUM_RUNS : 150

const root = tempDir('redust-replay-prop-')
afterAll(() => cleanup(root))
let runId = 0

describe('replay', () => {
  it('batched replay inside Keyspace.batch equals a plain fold of evolve, and leaves its input untouched', () => {
    assertProperty(
      'applyRecords = fold',
      fc.property(recordsArb(30), fc.nat(), (records, cut) => {
        const k = cut % (records.length + 1)
        const base = foldRecords(records.slice(0, k))
        const dump = (s: State) => Array.from({ length: 16 }, (_, db) => Keyspace.entriesSorted(s, db))
        const before = dump(base)
        const batched = applyRecords(base, records.slice(k))
        expect(Keyspace.equals(batched, foldRecords(records))).toBe(true)
        expect(dump(base)).toEqual(before)
      }),
    )
  })

  it('snapshot(k) + tail equals a full replay of the log, for any history and any k', async () => {
    await assertAsyncProperty(
      'snapshot + tail = full replay',
      fc.asyncProperty(recordsArb(30), fc.nat(), fc.integer({ min: 1, max: 4 }), async (records, cut, perTurn) => {
        const k = cut % (records.length + 1)
        const id = runId++
        const withSnapshot = path.join(root, `snap-${id}`)
        const fullLog = path.join(root, `full-${id}`)
        // Directory 1: records 1..k, a checkpoint at k, then the tail.
        const a = await openLog(withSnapshot, { appendfsync: 'no', now: () => EPOCH })
        let next = 0
        const appendUpTo = async (end: number): Promise<void> => {
          while (next < end) {
            const turn = records.slice(next, Math.min(end, next + perTurn))
            await Promise.all(turn.map((r) => a.append(r)))
            next += turn.length
          }
        }
        await appendUpTo(k)
        await a.checkpoint(() => Keyspace.capture(foldRecords(records.slice(0, k))), k)
        await appendUpTo(records.length)
        await a.close()
        // Directory 2: the whole log, no snapshot.
        const b = await openLog(fullLog, { appendfsync: 'no' })
        await Promise.all(records.map((r) => b.append(r)))
        await b.close()

        const fromSnapshot = await recover(withSnapshot)
        const fromLog = await recover(fullLog)
        const expected = foldRecords(records)
        expect(fromSnapshot.seq).toBe(records.length)
        expect(fromLog.seq).toBe(records.length)
        expect(fromSnapshot.stats.snapshotSeq).toBe(k)
        expect(fromSnapshot.stats.recordsReplayed).toBe(records.length - k)
        expect(fromSnapshot.stats.keysLoaded).toBe(keyCount(foldRecords(records.slice(0, k))))
        expect(Keyspace.equals(fromSnapshot.state, expected)).toBe(true)
        expect(Keyspace.equals(fromLog.state, expected)).toBe(true)
        cleanup(withSnapshot)
        cleanup(fullLog)
      }),
      { numRuns: FILE_RUNS },
    )
  })
})

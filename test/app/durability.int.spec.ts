/**
 * The durability contract of the AOF log on real files, with an injected file system that delays
 * or fails writes and fdatasyncs (DURABILITY.md §9 tests 10, 11, 12): group commit, the three
 * fsync policies, MISCONF failure semantics (never an acknowledgement for unpersisted data, writes
 * refused until a checkpoint succeeds), and checkpoints (compaction) that survive a crash at every
 * step.
 *
 * No test asserts on timing: "not yet resolved" is checked after letting the event loop run
 * several turns while the injected fdatasync is held.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LogRecord } from '../../src/app/eventLog.js'
import { recover } from '../../src/app/recovery.js'
import * as E from '../../src/domain/event.js'
import { fold } from '../../src/domain/evolve.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import type { State } from '../../src/domain/keyspace.js'
import { AofLog, CheckpointInProgressError, LogWriteError, type AppendFsync } from '../../src/infra/log/aofLog.js'
import { FaultyFileSystem, type FaultOp } from '../../src/infra/log/faultyFileSystem.js'
import { nodeFileSystem } from '../../src/infra/log/fileSystem.js'
import { readManifest } from '../../src/infra/log/logReader.js'
import { cleanup, EPOCH, frameEnds, onlySegment, openLog, tempDir, writeRecords } from '../infra/support/logFixtures.js'

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const rec = (seq: number, key = `k${seq % 5}`, value = `v${seq}\xff\x00`): LogRecord => ({
  seq,
  at: EPOCH + seq,
  events: [E.valueSet(0, key, value, null)],
})

const foldRecords = (records: ReadonlyArray<LogRecord>): State => fold(Keyspace.emptyState, records.flatMap((r) => r.events))

/** Lets the event loop run `n` full turns. */
const turns = async (n = 10): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

/** Waits until `cond` holds, letting I/O run (bounded by the test timeout, not asserted on). */
const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 1))
}

/** A promise's state, observable synchronously. */
const track = (p: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } => {
  const t: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' }
  p.then(
    () => (t.state = 'resolved'),
    (e: unknown) => {
      t.state = 'rejected'
      t.error = e
    },
  )
  return t
}

/**
 * A gate the injected fdatasync waits on: `step()` lets the ones waiting now through (later ones
 * wait again); `open()` lets every one through from now on. Gates are opened after each test.
 */
interface Gate {
  wait: () => Promise<void>
  step: () => void
  open: () => void
  waiting: () => number
}
const gates: Gate[] = []
const gate = (): Gate => {
  let release: (() => void) | undefined
  let promise = new Promise<void>((r) => (release = r))
  let waiting = 0
  let opened = false
  const g: Gate = {
    wait: async () => {
      if (opened) return
      waiting++
      await promise
      waiting--
    },
    step: () => {
      release?.()
      promise = new Promise<void>((r) => (release = r))
    },
    open: () => {
      opened = true
      release?.()
    },
    waiting: () => waiting,
  }
  gates.push(g)
  return g
}

const aofOnly = (f: string): boolean => f.endsWith('.aof')

let dir: string
let logs: AofLog[] = []
let copies: string[] = []
beforeEach(() => {
  dir = tempDir('redust-durability-')
  logs = []
  copies = []
})
afterEach(async () => {
  for (const g of gates.splice(0)) g.open()
  for (const log of logs) await log.close().catch(() => undefined)
  for (const d of [dir, ...copies]) cleanup(d)
})

/** The data directory as a kill -9 would leave it right now (a copy of its files). */
const crashCopy = (): string => {
  const copy = tempDir('redust-crashed-')
  fs.cpSync(dir, copy, { recursive: true })
  copies.push(copy)
  return copy
}

const open = async (
  appendfsync: AppendFsync,
  fsys: FaultyFileSystem,
  extra: { fsyncIntervalMs?: number; now?: () => number; preallocateBytes?: number } = {},
): Promise<AofLog> => {
  // No preallocated zeros unless a test asks: these tests count writes and inject faults on the
  // N-th one (the zeros' own tests are under "preallocation").
  const log = await openLog(dir, { appendfsync, fs: fsys, now: () => EPOCH, preallocateBytes: 0, ...extra })
  logs.push(log)
  return log
}

// ---------------------------------------------------------------------------------------------
// group commit
// ---------------------------------------------------------------------------------------------

describe('group commit', () => {
  it('writes every record appended in one event-loop turn with one write() and one shared commit', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('no', faulty)
    const writesBefore = faulty.counts.write
    const commits = Array.from({ length: 100 }, (_, i) => log.append(rec(i + 1)))
    expect(new Set(commits).size).toBe(1)
    await Promise.all(commits)
    expect(faulty.counts.write - writesBefore).toBe(1)
    // The next turn's records form the next batch.
    const next = [log.append(rec(101)), log.append(rec(102))]
    expect(next[0]).not.toBe(commits[0])
    await Promise.all(next)
    expect(faulty.counts.write - writesBefore).toBe(2)
  })

  it.each(['everysec', 'no', 'always'] as const)(
    '%s: writes the batch synchronously when the turn ends, and settles the commit in that same turn unless it needs an fdatasync',
    async (policy) => {
      const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
      const g = gate()
      faulty.fdatasyncGate = g.wait
      const log = await open(policy, faulty, { fsyncIntervalMs: 0x7fffffff })
      const size = fs.statSync(onlySegment(dir)).size
      const writes = faulty.counts.write
      const c = track(log.append(rec(1)))
      track(log.append(rec(2)))
      expect(faulty.counts.write, 'nothing is written before the batch closes').toBe(writes)
      // Queued after the group-commit flush: runs in the same check phase, after the commit's
      // microtasks. An asynchronous write could not have completed by then (threadpool round trip).
      await new Promise((r) => setImmediate(r))
      expect(faulty.counts.write - writes).toBe(1)
      expect(fs.statSync(onlySegment(dir)).size).toBeGreaterThan(size)
      expect(log.stats().writtenSeq).toBe(2)
      if (policy === 'always') {
        // The reply still waits for an fdatasync started after the write.
        expect(c.state).toBe('pending')
        expect(faulty.trace.slice(-2)).toEqual(['write', 'fdatasync'])
        g.open()
        await until(() => c.state !== 'pending')
      } else {
        expect(faulty.counts.fdatasync).toBe(0)
      }
      expect(c.state).toBe('resolved')
    },
  )

  it('keeps batches growing while a write is in flight, and writes them in order', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('everysec', faulty)
    const all: Array<Promise<void>> = []
    let seq = 0
    for (let turn = 0; turn < 50; turn++) {
      for (let i = 0; i < 1 + (turn % 7); i++) all.push(log.append(rec(++seq)))
      await new Promise((r) => setImmediate(r))
    }
    await Promise.all(all)
    await log.close()
    const r = await recover(dir)
    expect(r.seq).toBe(seq)
  })
})

// ---------------------------------------------------------------------------------------------
// fsync policies
// ---------------------------------------------------------------------------------------------

describe('appendfsync always', () => {
  it('resolves no commit before the fdatasync covering its write has completed', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const g = gate()
    faulty.fdatasyncGate = g.wait
    const log = await open('always', faulty)
    const c = track(log.append(rec(1)))
    await until(() => g.waiting() === 1)
    await turns(20)
    expect(c.state).toBe('pending')
    expect(faulty.trace.slice(-2)).toEqual(['write', 'fdatasync'])
    g.open()
    await until(() => c.state !== 'pending')
    expect(c.state).toBe('resolved')
    expect(log.stats().durableSeq).toBe(1)
  })

  it('does not let an fdatasync that started before a batch was written acknowledge that batch', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const g = gate()
    faulty.fdatasyncGate = g.wait
    const log = await open('always', faulty)
    const a = track(log.append(rec(1)))
    await until(() => g.waiting() === 1) // sync #1 (covering batch A) is in flight
    const b = track(log.append(rec(2)))
    await until(() => log.stats().writtenSeq === 2) // batch B written while sync #1 runs
    await turns(10)
    expect(faulty.counts.fdatasync).toBe(1) // at most one fdatasync in flight: B waits
    g.step() // sync #1 completes
    await until(() => a.state !== 'pending')
    expect(a.state).toBe('resolved')
    await until(() => g.waiting() === 1) // sync #2 started after B's write
    await turns(10)
    expect(b.state).toBe('pending')
    g.open()
    await until(() => b.state !== 'pending')
    expect(b.state).toBe('resolved')
    expect(faulty.maxSyncsInFlight).toBe(1)
  })

  it('never runs two fdatasyncs at once under a pipelined load, and acknowledges everything', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    faulty.fdatasyncGate = () => turns(3)
    const log = await open('always', faulty)
    const all: Array<Promise<void>> = []
    for (let seq = 1; seq <= 400; seq++) {
      all.push(log.append(rec(seq)))
      if (seq % 7 === 0) await new Promise((r) => setImmediate(r))
    }
    await Promise.all(all)
    expect(faulty.maxSyncsInFlight).toBe(1)
    expect(faulty.counts.fdatasync).toBeLessThan(400 / 7 + 1) // group commit: far fewer syncs than records
    expect(log.stats().durableSeq).toBe(400)
  })
})

describe('appendfsync always, syncing on the event-loop thread (fdatasyncSync)', () => {
  it('settles the commit in the turn that wrote its batch: one write, one fdatasync, no thread-pool sync', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly).withBlockingFdatasync()
    const g = gate()
    faulty.fdatasyncGate = g.wait // would hold a thread-pool sync: none may run
    const log = await open('always', faulty)
    const writes = faulty.counts.write
    const a = track(log.append(rec(1)))
    const b = track(log.append(rec(2)))
    await new Promise((r) => setImmediate(r))
    expect([a.state, b.state]).toEqual(['resolved', 'resolved'])
    expect(faulty.counts.write - writes).toBe(1)
    expect(faulty.trace.slice(-2)).toEqual(['write', 'fdatasync'])
    expect(g.waiting()).toBe(0)
    expect(log.stats()).toMatchObject({ writtenSeq: 2, durableSeq: 2, fsyncInFlight: false })
  })

  it('after a sync slower than 5 ms, syncs on the thread pool (replies still wait) until one is fast again', async () => {
    let clock = EPOCH
    const inline: number[] = []
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly).withBlockingFdatasync((n) => {
      inline.push(n)
      if (inline.length === 1) clock += 6 // the first blocking sync is slow
    })
    const g = gate()
    faulty.fdatasyncGate = g.wait
    const log = await open('always', faulty, { now: () => clock })
    await log.append(rec(1)) // blocking, slow
    expect(inline).toHaveLength(1)
    const b = track(log.append(rec(2)))
    await until(() => g.waiting() === 1) // on the pool, held by the gate
    await turns(10)
    expect(b.state).toBe('pending')
    expect(log.stats().fsyncInFlight).toBe(true)
    const c = track(log.append(rec(3)))
    await until(() => log.stats().writtenSeq === 3)
    await turns(5)
    expect(c.state).toBe('pending') // written while a sync runs: waits for the next one
    expect(faulty.maxSyncsInFlight).toBe(1)
    g.open() // the pool sync returns at once (0 ms on the clock): fast again
    await until(() => b.state !== 'pending' && c.state !== 'pending')
    expect([b.state, c.state]).toEqual(['resolved', 'resolved'])
    expect(inline).toHaveLength(2) // c's sync ran blocking again
    await log.append(rec(4))
    expect(inline).toHaveLength(3)
    expect(log.stats().durableSeq).toBe(4)
  })

  it('a failed blocking sync refuses its commits with MISCONF, acknowledges nothing later and cuts the unsynced records', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly).withBlockingFdatasync()
    const log = await open('always', faulty)
    await log.append(rec(1))
    const durableSize = fs.statSync(onlySegment(dir)).size
    faulty.fail({ op: 'fdatasync', nth: faulty.counts.fdatasync + 1, code: 'EIO' })
    const a = track(log.append(rec(2)))
    const b = track(log.append(rec(3)))
    await expect(log.append(rec(4))).rejects.toThrow(/MISCONF Errors writing to the AOF file: EIO/)
    expect([a.state, b.state]).toEqual(['rejected', 'rejected'])
    expect(a.error).toBeInstanceOf(LogWriteError)
    expect(log.failure()).toBeDefined()
    await expect(log.append(rec(5))).rejects.toThrow(/MISCONF/)
    await until(() => fs.statSync(onlySegment(dir)).size === durableSize)
    await log.close().catch(() => undefined)
    expect((await recover(dir)).seq).toBe(1)
  })
})

describe('preallocation (zeros written ahead of the records)', () => {
  const ZEROS = 4096
  const isZero = (b: Buffer): boolean => b.every((x) => x === 0)

  it('writes zeros past a batch that reaches beyond them, writes later batches into them, and cuts them at close', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('always', faulty, { preallocateBytes: ZEROS })
    const seg = onlySegment(dir)
    let writes = faulty.counts.write
    await log.append(rec(1))
    expect(faulty.counts.write - writes, 'the zeros, then the batch').toBe(2)
    let end = frameEnds(seg).at(-1)!
    expect(fs.statSync(seg).size).toBe(end + ZEROS)
    expect(isZero(fs.readFileSync(seg).subarray(end))).toBe(true)
    writes = faulty.counts.write
    await log.append(rec(2))
    expect(faulty.counts.write - writes, 'into the zeros: the batch alone').toBe(1)
    expect(fs.statSync(seg).size).toBe(end + ZEROS)
    // Fill past the zeros: the batch that crosses their end writes the next ones.
    let seq = 2
    while (frameEnds(seg).at(-1)! + 200 < end + ZEROS) await log.append(rec(++seq))
    writes = faulty.counts.write
    await Promise.all(Array.from({ length: 5 }, () => log.append(rec(++seq)))) // > 200 bytes: crosses
    expect(faulty.counts.write - writes).toBe(2)
    end = frameEnds(seg).at(-1)!
    expect(fs.statSync(seg).size).toBe(end + ZEROS)
    expect(log.stats().durableSeq).toBe(seq)
    await log.close()
    expect(fs.statSync(seg).size, 'a clean close leaves no zeros').toBe(end)
    const r = await recover(dir)
    expect(r.seq).toBe(seq)
    expect(r.stats.truncatedBytes).toBe(0)
  })

  it('a crash leaves the zeros: recovery cuts them and keeps every acknowledged record', async () => {
    const log = await open('always', new FaultyFileSystem(nodeFileSystem, aofOnly), { preallocateBytes: ZEROS })
    for (let seq = 1; seq <= 20; seq++) await log.append(rec(seq))
    const copy = crashCopy()
    const seg = onlySegment(copy)
    const size = fs.statSync(seg).size
    const end = frameEnds(seg).at(-1)!
    expect(size).toBeGreaterThan(end)
    expect(isZero(fs.readFileSync(seg).subarray(end))).toBe(true)
    const r = await recover(copy)
    expect(r.seq).toBe(20)
    expect(r.stats.truncatedBytes).toBe(size - end)
    expect(fs.statSync(seg).size).toBe(end) // (the last record, vouched by no later frame, is also copied to a new segment)
  })

  it('rotation syncs the old segment\'s records, then cuts its zeros durably, before the next segment is listed', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, (f) => f.endsWith('log-00000001.aof'))
    const log = await open('everysec', faulty, { preallocateBytes: ZEROS, fsyncIntervalMs: 0x7fffffff })
    const records = [rec(1), rec(2)]
    for (const r of records) await log.append(r)
    const from = faulty.trace.length
    await log.checkpoint(() => Keyspace.capture(foldRecords(records)), 2)
    // The records' sync comes first (a slow cut must not hold them unsynced past everysec's window).
    expect(faulty.trace.slice(from)).toEqual(['fdatasync', 'ftruncate', 'fdatasync', 'unlink']) // then compaction deletes it
    await log.append(rec(3))
    await log.close()
    expect((await recover(dir)).seq).toBe(3)
  })

  it('the zeros are part of the batch write: when they fail, the batch is refused (MISCONF) and cut back', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('always', faulty, { preallocateBytes: ZEROS })
    const seg = onlySegment(dir)
    const before = fs.statSync(seg).size
    faulty.fail({ op: 'write', nth: faulty.counts.write + 1, code: 'ENOSPC', partialBytes: 100 })
    await expect(log.append(rec(1))).rejects.toThrow(/MISCONF Errors writing to the AOF file: ENOSPC/)
    await until(() => fs.statSync(seg).size === before)
    await log.close().catch(() => undefined)
    expect((await recover(dir)).seq).toBe(0)
  })
})

describe('appendfsync everysec and no', () => {
  it('everysec: resolves a commit once its write completed, even while fdatasync is stalled', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const g = gate()
    faulty.fdatasyncGate = g.wait
    const log = await open('everysec', faulty, { fsyncIntervalMs: 5 })
    await log.append(rec(1))
    expect(log.stats().writtenSeq).toBe(1)
    await until(() => g.waiting() === 1) // the periodic fdatasync runs and stalls
    await log.append(rec(2)) // writes are not held by the stalled fsync
    expect(log.stats().durableSeq).toBe(0)
    expect(faulty.maxSyncsInFlight).toBe(1)
    g.open()
    await until(() => log.stats().durableSeq >= 1)
  })

  it('no: resolves after the write and leaves fdatasync to close', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('no', faulty)
    for (let seq = 1; seq <= 5; seq++) await log.append(rec(seq))
    await turns(10)
    expect(faulty.counts.fdatasync).toBe(0)
    await log.close()
    expect(faulty.counts.fdatasync).toBe(1)
    expect((await recover(dir)).seq).toBe(5)
  })
})

// ---------------------------------------------------------------------------------------------
// failures
// ---------------------------------------------------------------------------------------------

describe('write and fsync failures', () => {
  it('EIO on a write rejects that batch with MISCONF, refuses later appends at once, and truncates the partial frame', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('everysec', faulty)
    await log.append(rec(1))
    await log.append(rec(2))
    const sizeBefore = fs.statSync(onlySegment(dir)).size
    faulty.fail({ op: 'write', nth: faulty.counts.write + 1, code: 'EIO', partialBytes: 10 })
    const err = await log.append(rec(3)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LogWriteError)
    expect((err as Error).message).toMatch(/^MISCONF Errors writing to the AOF file: EIO/)
    expect(log.failure()?.reason).toMatch(/^Errors writing to the AOF file: EIO/)
    expect(fs.statSync(onlySegment(dir)).size).toBe(sizeBefore)
    const refused = track(log.append(rec(4)))
    await turns(1)
    expect(refused.state).toBe('rejected')
    expect(refused.error).toBeInstanceOf(LogWriteError)
    expect(log.stats().lastWriteStatus).toBe('err')
  })

  it('ENOSPC on fdatasync under always rejects the waiting commits and never acknowledges them later', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('always', faulty)
    await log.append(rec(1))
    faulty.fail({ op: 'fdatasync', nth: faulty.counts.fdatasync + 1, code: 'ENOSPC' })
    await expect(log.append(rec(2))).rejects.toThrow(/MISCONF Errors writing to the AOF file: ENOSPC/)
    await expect(log.append(rec(3))).rejects.toThrow(/MISCONF/)
    expect(log.failure()).toBeDefined()
  })

  it('cuts records whose fdatasync failed under always from the file, so no later process builds on them', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('always', faulty)
    await log.append(rec(1))
    const durableSize = fs.statSync(onlySegment(dir)).size
    faulty.fail({ op: 'fdatasync', nth: faulty.counts.fdatasync + 1, code: 'EIO' })
    await expect(log.append(rec(2))).rejects.toThrow(LogWriteError)
    await until(() => fs.statSync(onlySegment(dir)).size === durableSize)
    await log.close().catch(() => undefined)
    expect((await recover(dir)).seq).toBe(1)
  })

  it('writes the durable seq it knows into every frame', async () => {
    const { scanSegment } = await import('../../src/infra/log/segmentReader.js')
    const log = await open('always', new FaultyFileSystem())
    for (let seq = 1; seq <= 3; seq++) await log.append(rec(seq))
    await log.close()
    const durable: number[] = []
    await scanSegment(nodeFileSystem, onlySegment(dir), { onFrame: (f) => void durable.push(f.durableLsn) })
    expect(durable).toEqual([0, 1, 2])
  })

  it('makes records replayed after a crash durable before accepting writes: copied to a new segment (fsyncgate)', async () => {
    const records = [rec(1), rec(2), rec(3)]
    await writeRecords(dir, records, 1, { appendfsync: 'no', crashed: true })
    const r = await recover(dir)
    expect(r.seq).toBe(3)
    const manifest = await readManifest(nodeFileSystem, dir)
    expect(manifest.segments.map((s) => [s.file, s.firstLsn])).toEqual([['log-00000002.aof', 1]])
    expect(manifest.durable).toBe(3)
    expect(fs.readdirSync(dir).sort()).toEqual(['MANIFEST', 'log-00000002.aof'])
    const log = await AofLog.open(dir, r.position, { appendfsync: 'always' })
    await log.append(rec(4))
    await log.close()
    const again = await recover(dir)
    expect(again.seq).toBe(4)
    expect(Keyspace.equals(again.state, foldRecords([...records, rec(4)]))).toBe(true)
  })

  it('after a crash under always, copies only the records no later frame vouches for, and reads the old segment up to them', async () => {
    const records = Array.from({ length: 6 }, (_, i) => rec(i + 1))
    await writeRecords(dir, records, 1, { appendfsync: 'always', crashed: true })
    const r = await recover(dir)
    expect(r.seq).toBe(6)
    const manifest = await readManifest(nodeFileSystem, dir)
    // Record 6's frame vouches for 1..5; only 6 is copied.
    expect(manifest.segments.map((s) => [s.file, s.firstLsn])).toEqual([
      ['log-00000001.aof', 1],
      ['log-00000002.aof', 6],
    ])
    const log = await AofLog.open(dir, r.position, { appendfsync: 'always' })
    await log.append(rec(7))
    await log.close()
    const again = await recover(dir)
    expect(again.seq).toBe(7)
    expect(Keyspace.equals(again.state, foldRecords([...records, rec(7)]))).toBe(true)
  })

  it('copies nothing after a clean close', async () => {
    await writeRecords(dir, [rec(1), rec(2), rec(3)], 1, { appendfsync: 'no' })
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    await recover(dir, faulty)
    expect(faulty.counts.write).toBe(0)
    expect(fs.readdirSync(dir).sort()).toEqual(['MANIFEST', 'log-00000001.aof'])
  })

  it('does not trust a later fdatasync after one failed (fsyncgate): the log stays failed', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('everysec', faulty, { fsyncIntervalMs: 2 })
    faulty.fail({ op: 'fdatasync', nth: 1, code: 'EIO' })
    await log.append(rec(1)) // acknowledged after write (everysec)
    await until(() => log.failure() !== undefined)
    faulty.heal()
    const syncs = faulty.counts.fdatasync
    await new Promise((r) => setTimeout(r, 20))
    expect(faulty.counts.fdatasync).toBe(syncs) // no retry
    expect(log.failure()).toBeDefined()
    await expect(log.append(rec(2))).rejects.toThrow(LogWriteError)
  })

  it('a successful checkpoint clears the failure; writes resume at the next seq and survive a restart', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly)
    const log = await open('always', faulty)
    const applied: LogRecord[] = []
    for (let seq = 1; seq <= 3; seq++) {
      applied.push(rec(seq))
      await log.append(rec(seq))
    }
    faulty.fail({ op: 'write', nth: faulty.counts.write + 1, code: 'ENOSPC' })
    applied.push(rec(4)) // the engine applied it in memory; its commit fails
    await expect(log.append(rec(4))).rejects.toThrow(/ENOSPC/)
    const result = await log.checkpoint(() => Keyspace.capture(foldRecords(applied)), 4)
    expect(result).toMatchObject({ seq: 4, count: 4 })
    expect(log.failure()).toBeUndefined()
    await log.append(rec(5))
    applied.push(rec(5))
    await log.close()
    const r = await recover(dir)
    expect(r.seq).toBe(5)
    expect(Keyspace.equals(r.state, foldRecords(applied))).toBe(true)
    expect(fs.readdirSync(dir).sort()).toEqual(['MANIFEST', 'log-00000002.aof', 'snap-000000000004-00000002.jsonl'])
  })

  it('a checkpoint on a still-full disk fails and keeps refusing writes; it succeeds once space is freed', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem)
    const log = await open('everysec', faulty)
    await log.append(rec(1))
    faulty.fail({ op: 'write', from: faulty.counts.write + 1, code: 'ENOSPC' })
    await expect(log.append(rec(2))).rejects.toThrow(/ENOSPC/)
    await expect(log.checkpoint(() => Keyspace.capture(foldRecords([rec(1), rec(2)])), 2)).rejects.toThrow(/ENOSPC/)
    expect(log.failure()).toBeDefined()
    expect(log.stats().lastCheckpointStatus).toBe('err')
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([])
    faulty.heal()
    await log.checkpoint(() => Keyspace.capture(foldRecords([rec(1), rec(2)])), 2)
    expect(log.failure()).toBeUndefined()
    await log.append(rec(3))
    await log.close()
    expect((await recover(dir)).seq).toBe(3)
  })

  const faultMatrix: Array<[FaultOp, string]> = []
  for (const op of ['write', 'fdatasync'] as const) for (const code of ['EIO', 'ENOSPC']) faultMatrix.push([op, code])

  it.each(faultMatrix)('never acknowledges an unpersisted write: %s failing with %s on the N-th call, N = 1..25', async (op, code) => {
    for (let n = 1; n <= 25; n++) {
      const sub = path.join(dir, `${op}-${code}-${n}`)
      const faulty = new FaultyFileSystem(nodeFileSystem, aofOnly).fail({ op, nth: n, code })
      const log = await openLog(sub, { appendfsync: 'always', fs: faulty })
      const acked: number[] = []
      const commits: Array<Promise<void>> = []
      let seq = 0
      for (let turn = 0; turn < 12; turn++) {
        for (let i = 0; i < 3; i++) {
          const s = ++seq
          const c = log.append(rec(s))
          commits.push(
            c.then(
              () => void acked.push(s),
              () => undefined,
            ),
          )
        }
        await new Promise((r) => setImmediate(r))
      }
      await Promise.allSettled(commits)
      const failed = log.failure() !== undefined
      await log.close().catch(() => undefined)
      const r = await recover(sub)
      const maxAcked = Math.max(0, ...acked)
      // Every acknowledged record is recovered, and the recovered state is a whole prefix.
      expect(r.seq, `${op} ${code} n=${n}`).toBeGreaterThanOrEqual(maxAcked)
      expect(Keyspace.equals(r.state, foldRecords(Array.from({ length: r.seq }, (_, i) => rec(i + 1))))).toBe(true)
      // Acknowledgements form a prefix too: nothing after a failure is acknowledged.
      expect([...acked].sort((a, b) => a - b)).toEqual(Array.from({ length: acked.length }, (_, i) => i + 1))
      if (failed) expect(acked.length).toBeLessThan(seq)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// checkpoints
// ---------------------------------------------------------------------------------------------

describe('checkpoints', () => {
  it('write a snapshot, start a new segment, switch the manifest and delete the old files', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem)
    const log = await open('everysec', faulty)
    const records = Array.from({ length: 30 }, (_, i) => rec(i + 1, `key${i % 12}`))
    for (const r of records.slice(0, 20)) await log.append(r)
    const result = await log.checkpoint(() => Keyspace.capture(foldRecords(records.slice(0, 20))), 20)
    expect(result).toMatchObject({ file: 'snap-000000000020-00000002.jsonl', seq: 20, count: 12 })
    for (const r of records.slice(20)) await log.append(r)
    const stats = log.stats()
    expect(stats.changesSinceLastSave).toBe(10)
    expect(stats.aofCurrentSize).toBeGreaterThan(stats.aofBaseSize)
    await log.close()
    expect(fs.readdirSync(dir).sort()).toEqual(['MANIFEST', 'log-00000002.aof', 'snap-000000000020-00000002.jsonl'])
    const r = await recover(dir)
    expect(r.seq).toBe(30)
    expect(r.stats).toMatchObject({ keysLoaded: 12, recordsReplayed: 10, snapshotSeq: 20 })
    expect(Keyspace.equals(r.state, foldRecords(records))).toBe(true)
  })

  it('keeps every write made while the snapshot is written, even if the process dies before the manifest switch', async () => {
    const snapGate = gate()
    const faulty = new FaultyFileSystem(nodeFileSystem, (f) => /snap-/.test(f))
    faulty.fdatasyncGate = snapGate.wait
    const log = await open('always', faulty)
    const records = Array.from({ length: 40 }, (_, i) => rec(i + 1))
    for (const r of records.slice(0, 20)) await log.append(r)
    const cp = log.checkpoint(() => Keyspace.capture(foldRecords(records.slice(0, 20))), 20)
    await until(() => snapGate.waiting() === 1) // the snapshot is written, its fdatasync held
    for (const r of records.slice(20)) await log.append(r) // all acknowledged meanwhile
    const manifest = await readManifest(nodeFileSystem, dir)
    expect(manifest.snapshot).toBeUndefined()
    expect(manifest.segments.map((s) => s.firstLsn)).toEqual([1, 21]) // the new segment is listed first
    const crashed = crashCopy() // kill -9 now
    snapGate.open()
    await cp
    const r = await recover(crashed)
    expect(r.seq).toBe(40)
    expect(Keyspace.equals(r.state, foldRecords(records))).toBe(true)
    expect(fs.readdirSync(crashed).filter((n) => n.endsWith('.tmp'))).toEqual([]) // leftovers removed
  })

  const steps: Array<[string, FaultOp, (f: string) => boolean]> = [
    ['writing the snapshot', 'write', (f) => /snap-.*\.tmp$/.test(f)],
    ['syncing the snapshot', 'fdatasync', (f) => /snap-.*\.tmp$/.test(f)],
    ['renaming the snapshot', 'rename', (f) => /snap-/.test(f)],
    ['writing the manifest', 'write', (f) => f.endsWith('MANIFEST.tmp')],
    ['renaming the manifest', 'rename', (f) => f.endsWith('MANIFEST')],
    ['deleting old files', 'unlink', (f) => f.endsWith('.aof')],
  ]

  it.each(steps)('a failure while %s leaves a directory that recovers every acknowledged write', async (_step, op, target) => {
    await recover(dir) // a data directory exists; faults start with the checkpoint
    const faulty = new FaultyFileSystem(nodeFileSystem, target).fail({ op, from: 1, code: 'EIO' })
    const log = await open('always', faulty)
    const records = Array.from({ length: 30 }, (_, i) => rec(i + 1))
    for (const r of records.slice(0, 15)) await log.append(r)
    const cp = track(log.checkpoint(() => Keyspace.capture(foldRecords(records.slice(0, 15))), 15))
    const acked: LogRecord[] = records.slice(0, 15)
    for (const r of records.slice(15)) {
      await log.append(r).then(
        () => void acked.push(r),
        () => undefined,
      )
    }
    await until(() => cp.state !== 'pending')
    expect(cp.state).toBe(op === 'unlink' ? 'resolved' : 'rejected') // garbage left behind is not a failure
    // kill -9 here: recover a copy, then close normally and recover again.
    const crashed = crashCopy()
    const afterCrash = await recover(crashed)
    expect(afterCrash.seq).toBeGreaterThanOrEqual(acked.length)
    expect(Keyspace.equals(afterCrash.state, foldRecords(records.slice(0, afterCrash.seq)))).toBe(true)
    faulty.heal()
    await log.close().catch(() => undefined)
    const r = await recover(dir)
    expect(r.seq).toBeGreaterThanOrEqual(acked.length)
    expect(Keyspace.equals(r.state, foldRecords(records.slice(0, r.seq)))).toBe(true)
  })

  it('keeps writes in a listed segment when the manifest switch fails', async () => {
    await recover(dir)
    const faulty = new FaultyFileSystem(nodeFileSystem, (f) => path.basename(f) === 'MANIFEST').fail({ op: 'rename', nth: 1, code: 'ENOSPC' })
    const log = await open('always', faulty)
    await log.append(rec(1))
    await expect(log.checkpoint(() => Keyspace.capture(foldRecords([rec(1)])), 1)).rejects.toThrow(/ENOSPC/)
    const acked = await log.append(rec(2)).then(
      () => true,
      () => false,
    )
    await log.close().catch(() => undefined)
    const r = await recover(dir)
    expect(r.seq).toBe(acked ? 2 : 1)
    expect(Keyspace.equals(r.state, foldRecords(acked ? [rec(1), rec(2)] : [rec(1)]))).toBe(true)
  })

  it('can cut at a segment holding no record: a crash before the switch still recovers', async () => {
    const snapGate = gate()
    const faulty = new FaultyFileSystem(nodeFileSystem, (f) => /snap-/.test(f))
    faulty.fdatasyncGate = snapGate.wait
    const log = await open('always', faulty)
    const cp = log.checkpoint(() => Keyspace.capture(Keyspace.emptyState), 0) // the segment is empty: the next starts at the same seq
    await log.append(rec(1))
    const manifest = await readManifest(nodeFileSystem, dir)
    expect(manifest.segments.map((s) => s.firstLsn)).toEqual([1, 1])
    const crashed = crashCopy()
    snapGate.open()
    await cp
    expect((await recover(crashed)).seq).toBe(1)
    await log.close()
    expect((await recover(dir)).seq).toBe(1)
  })

  it('writes a batch collected before the cut to the old segment, even when the checkpoint is taken in the same turn', async () => {
    const log = await open('always', new FaultyFileSystem())
    const c1 = log.append(rec(1))
    const cp = log.checkpoint(() => Keyspace.capture(foldRecords([rec(1)])), 1)
    const c2 = log.append(rec(2))
    await Promise.all([c1, cp, c2])
    await log.close()
    const r = await recover(dir)
    expect(r.seq).toBe(2)
    expect(r.stats).toMatchObject({ snapshotSeq: 1, recordsReplayed: 1 })
  })

  it('refuses a second checkpoint while one runs, and one at a seq other than the log’s', async () => {
    const log = await open('no', new FaultyFileSystem())
    await log.append(rec(1))
    await expect(log.checkpoint(() => Keyspace.capture(foldRecords([rec(1)])), 2)).rejects.toThrow(/checkpoint at seq 2, but the log is at seq 1/)
    const first = log.checkpoint(() => Keyspace.capture(foldRecords([rec(1)])), 1)
    await expect(log.checkpoint(() => Keyspace.capture(foldRecords([rec(1)])), 1)).rejects.toBeInstanceOf(CheckpointInProgressError)
    await first
    expect(log.stats().checkpointInProgress).toBe(false)
  })

  it('two checkpoints at the same seq never overwrite the snapshot the manifest lists', async () => {
    const log = await open('no', new FaultyFileSystem())
    await log.append(rec(1))
    const a = await log.checkpoint(() => Keyspace.capture(foldRecords([rec(1)])), 1)
    const b = await log.checkpoint(() => Keyspace.capture(foldRecords([rec(1)])), 1)
    expect(a.file).not.toBe(b.file)
    await log.close()
    expect((await recover(dir)).stats.keysLoaded).toBe(1)
  })

  it('snapshots a state while the live state moves on: the snapshot holds the state at its seq', async () => {
    const log = await open('no', new FaultyFileSystem(), {})
    const records = Array.from({ length: 3000 }, (_, i) => rec(i + 1, `k${i}`))
    const all: Array<Promise<void>> = records.slice(0, 2000).map((r) => log.append(r))
    await Promise.all(all)
    const at2000 = foldRecords(records.slice(0, 2000))
    const cp = log.checkpoint(() => Keyspace.capture(at2000), 2000)
    for (const r of records.slice(2000)) await log.append(r)
    await cp
    await log.close()
    const r = await recover(dir)
    expect(r.stats).toMatchObject({ keysLoaded: 2000, recordsReplayed: 1000 })
    expect(Keyspace.equals(r.state, foldRecords(records))).toBe(true)
  })
})

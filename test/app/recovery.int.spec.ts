/**
 * Recovery on real files: what start-up does with every kind of damage (DURABILITY.md §9 tests
 * 4, 5, 6, 9 and 18). Logs are written through the real AofLog, then cut, zero-filled, garbled or
 * bit-flipped on disk, then recovered.
 *
 * The headline rules: a torn tail (the last record cut anywhere, zeros or a little garbage after
 * it) recovers exactly the longest whole-record prefix and truncates the file there; damage before
 * the tail is always detected and refused with the file, byte offset and record seq.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LogRecord } from '../../src/app/eventLog.js'
import { recover, RecoveryError } from '../../src/app/recovery.js'
import * as E from '../../src/domain/event.js'
import type { Event } from '../../src/domain/event.js'
import { fold } from '../../src/domain/evolve.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import type { State } from '../../src/domain/keyspace.js'
import { LiveView } from '../../src/domain/live.js'
import { FaultyFileSystem } from '../../src/infra/log/faultyFileSystem.js'
import { nodeFileSystem } from '../../src/infra/log/fileSystem.js'
import { fixLog, readManifest, walkLog } from '../../src/infra/log/logReader.js'
import { seedFor } from '../support/fc.js'
import {
  ALL_BYTES,
  cleanup,
  EPOCH,
  everyEventType,
  frameEnds,
  onlySegment,
  openLog,
  tempDir,
  toRecords,
  writeRecords,
} from '../infra/support/logFixtures.js'

const foldRecords = (records: ReadonlyArray<LogRecord>, from: State = Keyspace.emptyState): State =>
  fold(from, records.flatMap((r) => r.events))

const expectSameState = (actual: State, expected: State): void => {
  for (let db = 0; db < 16; db++) {
    expect(Keyspace.entriesSorted(actual, db)).toEqual(Keyspace.entriesSorted(expected, db))
  }
  expect(Keyspace.equals(actual, expected)).toBe(true)
}

/** A seeded 32-bit PRNG (mulberry32), so failures replay with FC_SEED. */
const rng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A varied history: every event type, transactions (multi-event records), binary data. */
const history = (): LogRecord[] => {
  const units: E.Event[][] = []
  for (let i = 0; i < 30; i++) {
    units.push([E.valueSet(i % 3, `k${i % 7}`, `v${i}\xff\x00${ALL_BYTES.slice(i, i + 9)}`, i % 4 === 0 ? EPOCH + i * 1000 : null)])
    if (i % 5 === 0) units.push([E.valueAppended(0, 'k1', `+${i}`), E.expirySet(0, 'k1', EPOCH + 99_000), E.keysDeleted(1, ['k2', 'zz'])])
  }
  units.push(everyEventType())
  units.push([E.valueSet(0, 'acct:a', '60', null), E.valueSet(0, 'acct:b', '40', null)])
  units.push([E.valueSet(0, 'acct:a', '35', null), E.valueSet(0, 'acct:b', '65', null)])
  units.push([E.valueSet(0, 'acct:a', '10', null), E.valueSet(0, 'acct:b', '90', null)])
  units.push([E.valueSet(0, 'last', 'x', EPOCH + 1)])
  return toRecords(units)
}

let dir: string
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => cleanup(dir))

/** Copies `src` into a fresh directory under `dir`, returning it. */
const copyDir = (src: string, name: string): string => {
  const dst = path.join(dir, name)
  fs.rmSync(dst, { recursive: true, force: true })
  fs.cpSync(src, dst, { recursive: true })
  return dst
}

/** The data directory `src` with its segment `name` replaced by `bytes`, in a fresh copy. */
const withSegment = (src: string, name: string, bytes: Buffer): string => {
  const work = copyDir(src, 'work')
  fs.writeFileSync(path.join(work, name), bytes)
  return work
}


// ---------------------------------------------------------------------------------------------

describe('recovery of a clean directory', () => {
  it('creates a missing data directory and starts empty at seq 0', async () => {
    const d = path.join(dir, 'nested', 'data')
    const r = await recover(d)
    expect(r.seq).toBe(0)
    expect(Keyspace.equals(r.state, Keyspace.emptyState)).toBe(true)
    expect(fs.readdirSync(d).sort()).toEqual(['MANIFEST', 'log-00000001.aof'])
    // A second start finds the same empty database.
    const again = await recover(d)
    expect(again.seq).toBe(0)
  })

  it('recovers exactly the records that were written, with every event type and all byte values', async () => {
    const records = history()
    await writeRecords(dir, records, 3)
    const r = await recover(dir)
    expect(r.seq).toBe(records.length)
    expect(r.stats).toMatchObject({ recordsReplayed: records.length, truncatedBytes: 0, keysLoaded: 0 })
    expectSameState(r.state, foldRecords(records))
  })

  it('continues the sequence after a restart: appends start at the recovered seq + 1', async () => {
    const records = history()
    await writeRecords(dir, records.slice(0, 10))
    const log = await openLog(dir)
    await expect(log.append(records[11]!)).rejects.toThrow(/sequence gap/)
    for (const r of records.slice(10)) await log.append(r)
    await log.close()
    expectSameState((await recover(dir)).state, foldRecords(records))
  })

  it('keeps TTLs as absolute deadlines across a restart; keys whose deadline passed meanwhile read as expired', async () => {
    const records = toRecords([
      [E.valueSet(0, 'short', 'x', EPOCH + 1_000)],
      [E.valueSet(0, 'long', 'y', EPOCH + 3_600_000)],
      [E.valueSet(0, 'none', 'z', null)],
      [E.valueSet(0, 'later', 'w', null), E.expirySet(0, 'later', EPOCH + 50_000)],
      [E.valueSet(0, 'persisted', 'p', EPOCH + 10)],
      [E.expiryRemoved(0, 'persisted')],
    ])
    await writeRecords(dir, records)
    // The server was down for 2 minutes: replay does not care (it never reads the clock).
    const { state } = await recover(dir)
    expect(Keyspace.getExpireAt(state, 0, 'short')).toBe(EPOCH + 1_000)
    expect(Keyspace.getExpireAt(state, 0, 'long')).toBe(EPOCH + 3_600_000)
    expect(Keyspace.getExpireAt(state, 0, 'later')).toBe(EPOCH + 50_000)
    expect(Keyspace.getExpireAt(state, 0, 'none')).toBeUndefined()
    expect(Keyspace.getExpireAt(state, 0, 'persisted')).toBeUndefined()
    expect(Keyspace.hasKey(state, 0, 'short')).toBe(true) // still stored: only decide expires keys
    const view = new LiveView(state, EPOCH + 120_000)
    expect(view.get(0, 'short')).toBeUndefined()
    expect(view.get(0, 'later')).toBeUndefined()
    expect(view.get(0, 'long')).toBe('y')
    expect(view.get(0, 'none')).toBe('z')
    expect(view.get(0, 'persisted')).toBe('p')
    expect(view.events.map((e) => e.type === 'KeyExpired' && e.key).sort()).toEqual(['later', 'short'])
  })
})

// ---------------------------------------------------------------------------------------------

describe('torn tails', () => {
  it('truncating the AOF at every byte offset of its last 5 records recovers exactly the longest whole-record prefix', async () => {
    const records = history()
    const src = path.join(dir, 'src')
    await writeRecords(src, records, 1, { crashed: true }) // one record per frame
    const seg = onlySegment(src)
    const name = path.basename(seg)
    const bytes = fs.readFileSync(seg)
    const ends = frameEnds(seg)
    expect(ends).toHaveLength(records.length)
    const from = ends[ends.length - 6]!
    const expected = new Map<number, State>()
    const stateAfter = (n: number): State => {
      let s = expected.get(n)
      if (s === undefined) expected.set(n, (s = foldRecords(records.slice(0, n))))
      return s
    }
    for (let cut = from; cut <= bytes.length; cut++) {
      const work = withSegment(src, name, bytes.subarray(0, cut))
      const whole = ends.filter((e) => e <= cut).length
      const r = await recover(work)
      expect(r.seq, `cut at ${cut}`).toBe(whole)
      expectSameState(r.state, stateAfter(whole))
      const boundary = whole === 0 ? 64 : ends[whole - 1]!
      expect(r.stats.truncatedBytes).toBe(cut - boundary)
      // The log now ends on the last whole record: a second start finds nothing to cut.
      const again = await recover(work)
      expect(again.stats.truncatedBytes).toBe(0)
      expectSameState(again.state, stateAfter(whole))
    }
  })

  it('after recovering a torn tail, one more write and a restart give the prefix plus that write', async () => {
    const records = history()
    await writeRecords(dir, records, 1, { crashed: true })
    const seg = onlySegment(dir)
    const ends = frameEnds(seg)
    fs.truncateSync(seg, ends[ends.length - 2]! + 5) // the last record torn after 5 bytes
    const extra: LogRecord = { seq: records.length, at: EPOCH, events: [E.valueSet(0, 'after', 'crash', null)] }
    const log = await openLog(dir)
    await log.append(extra)
    await log.close()
    const r = await recover(dir)
    expect(r.seq).toBe(records.length)
    expect(r.stats.truncatedBytes).toBe(0)
    expectSameState(r.state, foldRecords([...records.slice(0, -1), extra]))
  })

  it('a transaction is all there or all gone whatever byte the file is cut at', async () => {
    // Bank transfers: each record moves money between a and b in one transaction (sum stays 100).
    const units: E.Event[][] = [[E.valueSet(0, 'a', '100', null), E.valueSet(0, 'b', '0', null)]]
    let a = 100
    for (let i = 1; i <= 8; i++) {
      const amount = (i * 7) % 23
      a -= amount
      units.push([E.valueSet(0, 'a', String(a), null), E.valueSet(0, 'b', String(100 - a), null), E.valueSet(0, `audit:${i}`, String(amount), null)])
    }
    const records = toRecords(units)
    const src = path.join(dir, 'src')
    await writeRecords(src, records, 1, { crashed: true })
    const seg = onlySegment(src)
    const bytes = fs.readFileSync(seg)
    const ends = frameEnds(seg)
    for (let cut = ends[0]!; cut <= bytes.length; cut++) {
      const { state, seq } = await recover(withSegment(src, path.basename(seg), bytes.subarray(0, cut)))
      expect(seq).toBe(ends.filter((e) => e <= cut).length)
      const va = Number(Keyspace.getValue(state, 0, 'a'))
      const vb = Number(Keyspace.getValue(state, 0, 'b'))
      expect(va + vb).toBe(100)
      // The audit entry of a transfer is present exactly when the transfer is.
      for (let i = 1; i <= 8; i++) expect(Keyspace.hasKey(state, 0, `audit:${i}`)).toBe(i < seq)
    }
  })

  it.each([12, 4096, 65_536, 3 * 1024 * 1024])('a zero-filled tail of %i bytes recovers every record and is truncated', async (zeros) => {
    const records = history()
    await writeRecords(dir, records)
    const seg = onlySegment(dir)
    const size = fs.statSync(seg).size
    fs.appendFileSync(seg, Buffer.alloc(zeros))
    const r = await recover(dir)
    expect(r.seq).toBe(records.length)
    expect(r.stats.truncatedBytes).toBe(zeros)
    expect(fs.statSync(seg).size).toBe(size)
    expectSameState(r.state, foldRecords(records))
  })

  it('a torn last record followed by zeros (a power loss mid-append) recovers the records before it', async () => {
    const records = history()
    await writeRecords(dir, records, 1, { crashed: true })
    const seg = onlySegment(dir)
    const ends = frameEnds(seg)
    const bytes = fs.readFileSync(seg)
    const keep = ends[ends.length - 2]!
    fs.writeFileSync(seg, Buffer.concat([bytes.subarray(0, keep + 10), Buffer.alloc(4096)]))
    const r = await recover(dir)
    expect(r.seq).toBe(records.length - 1)
    expectSameState(r.state, foldRecords(records.slice(0, -1)))
  })

  it.each([12, 4096, 65_536])('%i bytes of random garbage after the last record are a torn tail', async (n) => {
    const records = history()
    await writeRecords(dir, records)
    const seg = onlySegment(dir)
    const garbage = Buffer.alloc(n)
    const next = rng(n)
    for (let i = 0; i < n; i++) garbage[i] = Math.floor(next() * 256)
    fs.appendFileSync(seg, garbage)
    const r = await recover(dir)
    expect(r.seq).toBe(records.length)
    expect(r.stats.truncatedBytes).toBe(n)
  })

  it('garbage beyond the tail tolerance is refused with its offset, and `log verify --fix` repairs it', async () => {
    const records = history()
    await writeRecords(dir, records)
    const seg = onlySegment(dir)
    const size = fs.statSync(seg).size
    fs.appendFileSync(seg, Buffer.alloc(2048, 0xab))
    const err = await recover(dir, undefined, undefined, { tailTolerance: 1024 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RecoveryError)
    expect((err as RecoveryError).message).toContain(`byte offset ${size}`)
    expect((err as RecoveryError).message).toContain(`record seq ${records.length + 1}`)
    expect((err as RecoveryError).message).toContain('more than the 1024-byte tail tolerance')
    const report = await fixLog(nodeFileSystem, dir, EPOCH)
    expect(report.truncated).toEqual({ file: 'log-00000001.aof', at: size, bytes: 2048 })
    const r = await recover(dir, undefined, undefined, { tailTolerance: 1024 })
    expect(r.seq).toBe(records.length)
    expect(fs.statSync(seg).size).toBe(size)
  })
})

// ---------------------------------------------------------------------------------------------

describe('damage before the tail', () => {
  it('detects 100% of 1000 random bit flips anywhere before the last record and refuses with file, offset and seq', async () => {
    // After a crash (no durable line in the manifest): the frames alone vouch for what was synced.
    const records = history()
    const src = path.join(dir, 'src')
    await writeRecords(src, records, 1, { crashed: true })
    const seg = onlySegment(src)
    const name = path.basename(seg)
    const bytes = fs.readFileSync(seg)
    const ends = frameEnds(seg)
    const starts = [64, ...ends.slice(0, -1)]
    const lastStart = starts[starts.length - 1]!
    const work = copyDir(src, 'work')
    const target = path.join(work, name)
    const seed = seedFor()
    console.log(`[bit flips] seed=${seed} (replay: FC_SEED=${seed})`)
    const next = rng(seed)
    let detected = 0
    for (let trial = 0; trial < 1000; trial++) {
      const bit = Math.floor(next() * lastStart * 8)
      const byte = bit >> 3
      const damaged = Buffer.from(bytes)
      damaged[byte]! ^= 1 << (bit & 7)
      fs.writeFileSync(target, damaged)
      const err = await recover(work).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err, `flip of bit ${bit & 7} in byte ${byte} went undetected`).toBeInstanceOf(RecoveryError)
      const e = err as RecoveryError
      const frame = starts.findIndex((s, i) => byte >= s && byte < (ends[i] ?? Infinity))
      const [offset, seq] = byte < 64 ? [0, 1] : [starts[frame]!, frame + 1]
      expect(e.file).toBe(target)
      expect(e.offset).toBe(offset)
      expect(e.seq).toBe(seq)
      expect(e.message).toContain(target)
      expect(e.message).toContain(`byte offset ${offset}`)
      expect(e.message).toContain(`record seq ${seq}`)
      expect(e.message).toContain('redust log verify --fix')
      detected++
      // The refusal left the file as it was.
      expect(fs.readFileSync(target).equals(damaged)).toBe(true)
    }
    expect(detected).toBe(1000)
  })

  it('treats damage to frames no later frame vouches for as durable as a power-loss tail (reordered writeback)', async () => {
    // appendfsync no: no frame knows anything durable, so a lost page in the middle of what was
    // written since the last sync is what a power loss leaves when later pages reached the disk.
    const records = history()
    await writeRecords(dir, records, 1, { appendfsync: 'no', crashed: true })
    const seg = onlySegment(dir)
    const ends = frameEnds(seg)
    const bytes = fs.readFileSync(seg)
    bytes.fill(0, ends[18]!, ends[19]!) // record 20's page never reached the disk
    fs.writeFileSync(seg, bytes)
    const r = await recover(dir)
    expect(r.seq).toBe(19)
    expect(r.stats.truncatedBytes).toBe(bytes.length - ends[18]!)
    expectSameState(r.state, foldRecords(records.slice(0, 19)))
  })

  it('after a clean close, detects bit flips anywhere in the log, the last record included', async () => {
    const records = history()
    const src = path.join(dir, 'src')
    await writeRecords(src, records, 1, { appendfsync: 'no' })
    const seg = onlySegment(src)
    const bytes = fs.readFileSync(seg)
    const next = rng(seedFor())
    for (let trial = 0; trial < 200; trial++) {
      const bit = Math.floor(next() * bytes.length * 8)
      const damaged = Buffer.from(bytes)
      damaged[bit >> 3]! ^= 1 << (bit & 7)
      await expect(recover(withSegment(src, path.basename(seg), damaged)), `bit ${bit}`).rejects.toBeInstanceOf(RecoveryError)
    }
  })

  it('refuses damage to the last record after a clean close: the manifest records it as durable', async () => {
    const records = history()
    await writeRecords(dir, records, 1, { appendfsync: 'no' })
    expect((await readManifest(nodeFileSystem, dir)).durable).toBe(records.length)
    const seg = onlySegment(dir)
    const ends = frameEnds(seg)
    fs.truncateSync(seg, ends[ends.length - 1]! - 1)
    await expect(recover(dir)).rejects.toThrow(/manifest records seq \d+ as durable/)
  })

  it('records the replayed seq as durable in the manifest once start-up has synced it', async () => {
    const records = history()
    await writeRecords(dir, records, 1, { crashed: true })
    expect((await readManifest(nodeFileSystem, dir)).durable).toBeUndefined()
    await recover(dir)
    expect((await readManifest(nodeFileSystem, dir)).durable).toBe(records.length)
  })

  it('refuses a torn or damaged record at the end of a segment that is not the last one', async () => {
    const records = history()
    // A checkpoint whose snapshot cannot be renamed into place fails after the first write past
    // its cut rotated the log: the manifest then lists two segments.
    const faulty = new FaultyFileSystem(nodeFileSystem, (f) => /snap-/.test(f)).fail({ op: 'rename', nth: 1, code: 'EIO' })
    await writeRecords(dir, records.slice(0, 10))
    const log = await openLog(dir, { fs: faulty })
    const cut = log.checkpoint(() => Keyspace.capture(foldRecords(records.slice(0, 10))), 10)
    await log.append(records[10]!)
    await expect(cut).rejects.toThrow(/EIO/)
    for (const r of records.slice(11, 15)) await log.append(r)
    await log.close()
    const manifest = await readManifest(nodeFileSystem, dir)
    expect(manifest.segments.map((s) => s.file)).toEqual(['log-00000001.aof', 'log-00000002.aof'])
    expectSameState((await recover(dir)).state, foldRecords(records.slice(0, 15)))

    const first = path.join(dir, 'log-00000001.aof')
    const bytes = fs.readFileSync(first)
    const ends = frameEnds(first)
    const lastStart = ends[ends.length - 2]!
    // Cut inside its last record: not a torn tail, since records follow in the next segment.
    fs.writeFileSync(first, bytes.subarray(0, bytes.length - 3))
    await expect(recover(dir)).rejects.toThrow(`${first} is damaged at byte offset ${lastStart} (record seq 10)`)
    // A flipped bit in its last record: the same.
    const flipped = Buffer.from(bytes)
    flipped[bytes.length - 1]! ^= 1
    fs.writeFileSync(first, flipped)
    await expect(recover(dir)).rejects.toThrow(/not the last segment/)
  })
})

// ---------------------------------------------------------------------------------------------

describe('manifest and file set', () => {
  it('refuses to start empty when data files exist but the manifest is missing', async () => {
    await writeRecords(dir, history())
    fs.unlinkSync(path.join(dir, 'MANIFEST'))
    const err = await recover(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RecoveryError)
    expect((err as Error).message).toMatch(/manifest is missing but data files exist \(log-00000001\.aof\)/)
    expect(fs.readdirSync(dir)).toEqual(['log-00000001.aof'])
  })

  it('replaces a header-only segment left by a crash during the very first start', async () => {
    await recover(dir)
    fs.unlinkSync(path.join(dir, 'MANIFEST'))
    const r = await recover(dir)
    expect(r.seq).toBe(0)
    expect(fs.readdirSync(dir).sort()).toEqual(['MANIFEST', 'log-00000001.aof'])
  })

  it.each([
    ['a blank line', (t: string) => t.replace('\n', '\n\n')],
    ['an unknown key', (t: string) => t.replace('segment ', 'segmnt ')],
    ['a changed number', (t: string) => t.replace('first_lsn 1', 'first_lsn 2')],
    ['a truncated file', (t: string) => t.slice(0, t.length - 5)],
    ['an empty file', () => ''],
  ])('refuses a manifest with %s, naming the MANIFEST', async (_what, damage) => {
    await writeRecords(dir, history())
    const file = path.join(dir, 'MANIFEST')
    fs.writeFileSync(file, damage(fs.readFileSync(file, 'utf8')))
    const err = await recover(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RecoveryError)
    expect((err as RecoveryError).file).toBe(file)
  })

  it('detects every single bit flip in the manifest', async () => {
    await writeRecords(dir, history())
    const file = path.join(dir, 'MANIFEST')
    const bytes = fs.readFileSync(file)
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const damaged = Buffer.from(bytes)
      damaged[bit >> 3]! ^= 1 << (bit & 7)
      fs.writeFileSync(file, damaged)
      await expect(recover(dir), `bit ${bit}`).rejects.toBeInstanceOf(RecoveryError)
    }
  })

  it('refuses a segment whose header does not match its manifest line (a different file)', async () => {
    await writeRecords(dir, history())
    const other = path.join(dir, 'other')
    await writeRecords(other, history())
    fs.copyFileSync(path.join(other, 'log-00000001.aof'), path.join(dir, 'log-00000001.aof'))
    const err = await recover(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RecoveryError)
    expect((err as Error).message).toMatch(/uid .* \(a different file\)/)
  })

  it('refuses a missing segment', async () => {
    await writeRecords(dir, history())
    fs.unlinkSync(path.join(dir, 'log-00000001.aof'))
    await expect(recover(dir)).rejects.toThrow(/missing-segment/)
  })
})

// ---------------------------------------------------------------------------------------------

describe('log verify --fix', () => {
  it('truncates at a mid-log corruption, after which start-up succeeds with the records before it', async () => {
    const records = history()
    await writeRecords(dir, records)
    const seg = onlySegment(dir)
    const ends = frameEnds(seg)
    const bytes = fs.readFileSync(seg)
    bytes[ends[9]! + 40]! ^= 0x10 // inside record 11
    fs.writeFileSync(seg, bytes)
    await expect(recover(dir)).rejects.toThrow(/record seq 11/)
    const report = await fixLog(nodeFileSystem, dir, EPOCH)
    expect(report.problem).toMatchObject({ kind: 'corrupt-frame', seq: 11, offset: ends[9] })
    expect(report.truncated).toEqual({ file: 'log-00000001.aof', at: ends[9], bytes: bytes.length - ends[9]! })
    expect(report.lastSeq).toBe(10)
    const r = await recover(dir)
    expect(r.seq).toBe(10)
    expectSameState(r.state, foldRecords(records.slice(0, 10)))
    const walk = await walkLog(nodeFileSystem, dir, await readManifest(nodeFileSystem, dir))
    expect(walk.problem).toBeUndefined()
  })

  it('reports nothing to fix on a healthy log', async () => {
    await writeRecords(dir, history())
    expect(await fixLog(nodeFileSystem, dir, EPOCH)).toEqual({ discarded: [], lastSeq: history().length })
  })
})

// ---------------------------------------------------------------------------------------------

describe('point-in-time replay', () => {
  it('replays read-only up to a given seq without touching the files', async () => {
    const records = history()
    await writeRecords(dir, records)
    const seg = onlySegment(dir)
    fs.appendFileSync(seg, Buffer.alloc(100))
    const before = fs.readFileSync(seg)
    const r = await recover(dir, undefined, undefined, { readOnly: true, untilSeq: 12 })
    expect(r.seq).toBe(12)
    expectSameState(r.state, foldRecords(records.slice(0, 12)))
    expect(fs.readFileSync(seg).equals(before)).toBe(true)
  })

  it('lists every record with its file and offset', async () => {
    const records = history()
    await writeRecords(dir, records)
    const ends = frameEnds(onlySegment(dir))
    const seen: Array<{ seq: number; offset: number; events: number }> = []
    await walkLog(nodeFileSystem, dir, await readManifest(nodeFileSystem, dir), {
      onRecord: (r, where) => {
        seen.push({ seq: r.seq, offset: where.offset, events: r.events.length })
        expect(where.file).toBe('log-00000001.aof')
        expect(where.offset + where.length).toBe(ends[r.seq - 1])
      },
    })
    expect(seen.map((s) => s.seq)).toEqual(records.map((r) => r.seq))
    expect(seen.map((s) => s.events)).toEqual(records.map((r) => r.events.length))
  })

  it("delivers each record's events to onEvents, as onRecord does, and stops where onEvents says", async () => {
    const records = history()
    await writeRecords(dir, records)
    const manifest = await readManifest(nodeFileSystem, dir)
    const seen: Array<{ seq: number; events: Event[] }> = []
    const all = await walkLog(nodeFileSystem, dir, manifest, { onEvents: (events, seq) => void seen.push({ seq, events: [...events] }) })
    expect(seen).toEqual(records.map((r) => ({ seq: r.seq, events: r.events })))
    expect(all.records).toBe(records.length)
    const upTo: number[] = []
    const stopped = await walkLog(nodeFileSystem, dir, manifest, { onEvents: (_, seq) => (seq > 7 ? false : void upTo.push(seq)) })
    expect(upTo).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(stopped.stopped).toBe(true)
  })
})

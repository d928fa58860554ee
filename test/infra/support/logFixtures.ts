/**
 * Fixtures for the durable-log tests: event and record arbitraries, temp directories, and helpers
 * that write a log through the real AofLog.
 *
 * Arbitraries use a small key alphabet (so events collide on keys) and byte strings over all 256
 * byte values (so the binary encoding and the JSON snapshot meet every byte). Times are explicit
 * numbers around a fixed epoch, never the clock.
 *
 * @category test support
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import fc from 'fast-check'
import type { LogRecord } from '../../../src/app/eventLog.js'
import * as E from '../../../src/domain/event.js'
import type { Event } from '../../../src/domain/event.js'
import { AofLog, type AofLogOptions } from '../../../src/infra/log/aofLog.js'
import { recover } from '../../../src/app/recovery.js'
import { nodeFileSystem } from '../../../src/infra/log/fileSystem.js'
import { readManifest } from '../../../src/infra/log/logReader.js'
import { writeManifest } from '../../../src/infra/log/manifest.js'

export const EPOCH = 1_700_000_000_000

// ---------------------------------------------------------------------------------------------
// arbitraries
// ---------------------------------------------------------------------------------------------

/** Every byte value once: a value that must survive every encoding. */
export const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))

/** Byte strings of up to `max` bytes over all 256 byte values, sometimes ALL_BYTES itself. */
export const bytesArb = (max = 12): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.uint8Array({ maxLength: max }).map((b) => String.fromCharCode(...b)) },
    { weight: 1, arbitrary: fc.constant(ALL_BYTES) },
  )

/** A small key alphabet, binary and empty keys included. */
export const KEYS = ['a', 'b', 'c', '\x00k', '\xff\x80', '']
export const keyArb: fc.Arbitrary<string> = fc.constantFrom(...KEYS)
export const dbArb: fc.Arbitrary<number> = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 15 }) })
/** Absolute times near the epoch, plus the extremes a deadline may take. */
export const timeArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: EPOCH - 10_000, max: EPOCH + 100_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER) },
)

/** Any event of the catalogue, over the small key alphabet. */
export const eventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(dbArb, keyArb, bytesArb(), fc.option(timeArb, { nil: null })).map(([d, k, v, t]) => E.valueSet(d, k, v, t)) },
  { weight: 2, arbitrary: fc.tuple(dbArb, keyArb, bytesArb(6)).map(([d, k, v]) => E.valueAppended(d, k, v)) },
  { weight: 2, arbitrary: fc.tuple(dbArb, keyArb, fc.integer({ min: 0, max: 40 }), bytesArb(6)).map(([d, k, o, b]) => E.rangeOverwritten(d, k, o, b)) },
  { weight: 2, arbitrary: fc.tuple(dbArb, fc.array(keyArb, { maxLength: 4 })).map(([d, ks]) => E.keysDeleted(d, ks)) },
  { weight: 2, arbitrary: fc.tuple(dbArb, keyArb, timeArb).map(([d, k, t]) => E.expirySet(d, k, t)) },
  { weight: 1, arbitrary: fc.tuple(dbArb, keyArb).map(([d, k]) => E.expiryRemoved(d, k)) },
  { weight: 1, arbitrary: fc.tuple(dbArb, keyArb, timeArb).map(([d, k, t]) => E.keyExpired(d, k, t)) },
  { weight: 1, arbitrary: dbArb.map((d) => E.databaseFlushed(d)) },
  { weight: 1, arbitrary: fc.constant(E.allDatabasesFlushed) },
  { weight: 1, arbitrary: fc.tuple(dbArb, dbArb).map(([a, b]) => E.databasesSwapped(a, b)) },
  { weight: 1, arbitrary: fc.tuple(dbArb, keyArb, keyArb).map(([d, a, b]) => E.keyRenamed(d, a, b)) },
  { weight: 1, arbitrary: fc.tuple(dbArb, keyArb, dbArb).map(([d, k, t]) => E.keyMoved(d, k, t)) },
  { weight: 1, arbitrary: fc.tuple(dbArb, keyArb, dbArb, keyArb).map(([d, a, t, b]) => E.keyCopied(d, a, t, b)) },
)

/** The events of one execution unit: mostly one, sometimes a transaction of several. */
export const unitArb: fc.Arbitrary<Event[]> = fc.oneof(
  { weight: 3, arbitrary: eventArb.map((e) => [e]) },
  { weight: 1, arbitrary: fc.array(eventArb, { minLength: 2, maxLength: 6 }) },
)

/** Records seq 1..n with increasing times. */
export const toRecords = (units: ReadonlyArray<ReadonlyArray<Event>>, firstSeq = 1, at = EPOCH): LogRecord[] =>
  units.map((events, i) => ({ seq: firstSeq + i, at: at + i * 7, events }))

export const recordsArb = (maxUnits = 40): fc.Arbitrary<LogRecord[]> =>
  fc.array(unitArb, { minLength: 1, maxLength: maxUnits }).map((units) => toRecords(units))

/** One event of every type, each with binary keys and values (a deterministic fixture). */
export const everyEventType = (): Event[] => [
  E.valueSet(0, 'a', ALL_BYTES, null),
  E.valueSet(3, '\x00k', 'v', EPOCH + 5000),
  E.valueAppended(0, 'a', '\xff\x00'),
  E.rangeOverwritten(0, 'a', 300, 'xyz'),
  E.keysDeleted(0, ['b', '', '\xff\x80']),
  E.expirySet(0, 'a', EPOCH + 1000),
  E.expiryRemoved(0, 'a'),
  E.keyExpired(3, '\x00k', EPOCH + 6000),
  E.databaseFlushed(7),
  E.allDatabasesFlushed,
  E.databasesSwapped(1, 2),
  E.keyRenamed(0, 'a', 'c'),
  E.keyMoved(0, 'c', 5),
  E.keyCopied(5, 'c', 6, '\xff'),
]

// ---------------------------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------------------------

/** A fresh temp directory (removed by `cleanup`). */
export const tempDir = (label = 'redust-log-'): string => fs.mkdtempSync(path.join(os.tmpdir(), label))

export const cleanup = (dir: string): void => fs.rmSync(dir, { recursive: true, force: true })

/** Opens a log in `dir` through recovery (as the server does). */
export const openLog = async (dir: string, opts: AofLogOptions = {}): Promise<AofLog> => {
  const r = await recover(dir, opts.fs)
  return AofLog.open(dir, r.position, opts)
}

/**
 * Writes `records` to a fresh log in `dir` in batches of `perTurn` records per event-loop turn
 * (one frame each), waits for every commit, and closes the log. The default policy is `always`,
 * so every frame records the previous ones as durable (what bit-flip detection relies on).
 *
 * With `crashed`, the directory is left as a kill -9 after the last commit leaves it: a clean
 * close also records the durable seq in the manifest (after which no damage is a torn tail), so
 * that line is removed again. Tests that cut or garble the tail use this.
 */
export const writeRecords = async (
  dir: string,
  records: ReadonlyArray<LogRecord>,
  perTurn = 1,
  opts: AofLogOptions & { readonly crashed?: boolean } = {},
): Promise<void> => {
  const log = await openLog(dir, { appendfsync: 'always', ...opts })
  for (let i = 0; i < records.length; i += perTurn) {
    const commits = records.slice(i, i + perTurn).map((r) => log.append(r))
    await Promise.all(commits)
  }
  await log.close()
  if (opts.crashed === true) {
    const m = await readManifest(nodeFileSystem, dir)
    await writeManifest(nodeFileSystem, dir, { snapshot: m.snapshot, segments: m.segments })
  }
}

/** The single segment file of a directory written by `writeRecords`. */
export const onlySegment = (dir: string): string => {
  const segs = fs.readdirSync(dir).filter((n) => /^log-\d+\.aof$/.test(n))
  if (segs.length !== 1) throw new Error(`expected one segment in ${dir}, found ${segs.join(', ')}`)
  return path.join(dir, segs[0]!)
}

/**
 * Byte offsets where each record's frame ends in a segment (header 64 bytes, then frames back to
 * back; a frame's first 4 bytes are its length).
 */
export const frameEnds = (file: string): number[] => {
  const buf = fs.readFileSync(file)
  const ends: number[] = []
  for (let at = 64; at + 4 <= buf.length; ) {
    const len = buf.readUInt32LE(at)
    if (len === 0) break
    at += len
    ends.push(at)
  }
  return ends
}

/**
 * Snapshots: the state at sequence N written as streamed JSON lines — a checkpoint of the fold
 * (DESIGN.md §3, DURABILITY.md §7.5). Readable with `jq -c . snap-*.jsonl`.
 *
 * ## Format (UTF-8 text, one JSON object per line, each line ends with `\n`)
 *
 * ```
 * {"format":"redust-snapshot","version":1,"seq":42,"at":1700000000000}
 * {"db":0,"key":"user:1","value":"alice","expireAt":null}
 * {"db":3,"key":"session","value":"\u0000\u00ff…","expireAt":1700000060000}
 * {"count":2,"crc32c":"1a2b3c4d"}
 * ```
 *
 * - Header: `seq` is the last log record the snapshot covers (replay resumes at seq+1); `at` is
 *   the wall-clock time it was taken (LASTSAVE).
 * - One line per key: database index, key, value, absolute deadline in Unix ms or null. Keys and
 *   values are byte strings (one char per byte, U+0000..U+00FF), so they are JSON-safe as they
 *   are and every byte value round-trips. Line order is unspecified (the maps' iteration order;
 *   sorting a million keys would stall the event loop).
 * - Trailer: the number of key lines and the CRC32C (8 hex digits) of every byte before the
 *   trailer line. A missing, malformed or mismatching trailer means the file is damaged.
 *
 * ## Writing (`writeSnapshot`)
 *
 * The caller passes a state (a persistent value); `writeSnapshot` captures it synchronously,
 * before its first await — an O(1) freeze of the maps (`Keyspace.capture`) — and releases the
 * capture when done, so the live state moves on meanwhile. Entries are serialized in slices of
 * a few thousand, each slice handed to an asynchronous write, so the event loop keeps serving
 * clients. The file
 * is written as `<name>.tmp`, fdatasynced, renamed into place and the directory fsynced.
 *
 * ## Loading (`loadSnapshot`)
 *
 * Read in chunks; each line in the writer's canonical form is read by a byte-level parser
 * (./jsonBytes.ts) and its fields checked with the predicates the io-ts codecs are built from;
 * any other line goes through `JSON.parse` and the io-ts `SnapshotEntry` codec (the edge where
 * disk bytes become domain values); entries go into a fresh keyspace through `Keyspace.builder()`
 * (native maps, nothing to undo). The trailer's count and CRC are verified before the state is
 * returned, and the total number of keys must equal the count (a duplicated line is damage too).
 *
 * Limit: a value whose JSON text exceeds V8's maximum string length (~512 MiB) cannot be
 * loaded; such values are beyond what this format supports.
 *
 * @category infra
 */
import * as path from 'node:path'
import * as t from 'io-ts'
import { PathReporter } from 'io-ts/lib/PathReporter.js'
import { ByteString, DbIndex, Epoch, isDbIndex, isEpochMs } from '../../domain/event.js'
import * as Keyspace from '../../domain/keyspace.js'
import type { State } from '../../domain/keyspace.js'
import { DATABASE_COUNT } from '../../domain/primitives.js'
import { crc32c, crcHex } from '../log/crc32c.js'
import { writeFully, type FileSystem } from '../log/fileSystem.js'
import { EntryCursor, JsonOut, readCanonicalEntry, type RawEntry } from './jsonBytes.js'

// ---------------------------------------------------------------------------------------------
// codecs (the schema of each line)
// ---------------------------------------------------------------------------------------------

export const SNAPSHOT_FORMAT = 'redust-snapshot'
export const SNAPSHOT_VERSION = 1

const SeqNumber = t.refinement(t.number, (n) => Number.isSafeInteger(n) && n >= 0, 'Seq')

export const SnapshotHeader = t.type({
  format: t.literal(SNAPSHOT_FORMAT),
  version: t.literal(SNAPSHOT_VERSION),
  seq: SeqNumber,
  at: Epoch,
})
export const SnapshotEntry = t.type({
  db: DbIndex,
  key: ByteString,
  value: ByteString,
  expireAt: t.union([Epoch, t.null]),
})
export const SnapshotTrailer = t.type({ count: SeqNumber, crc32c: t.string })
export type SnapshotEntry = t.TypeOf<typeof SnapshotEntry>

/** Where a snapshot lives and what it holds (also what the manifest records). */
export interface SnapshotInfo {
  /** File name inside the data directory. */
  readonly file: string
  readonly seq: number
  readonly at: number
  readonly count: number
  /** The CRC32C written in the trailer. */
  readonly crc: number
  /** File size in bytes. */
  readonly bytes: number
}

/** The snapshot is damaged or not a snapshot. `offset` is the byte offset of the bad line. */
export class SnapshotError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}: ${detail} (line ${line}, byte offset ${offset})`)
    this.name = 'SnapshotError'
  }
}

// ---------------------------------------------------------------------------------------------
// write
// ---------------------------------------------------------------------------------------------

export interface WriteSnapshotOptions {
  readonly seq: number
  readonly at: number
  /** File name inside `dir`. */
  readonly file: string
  /** Entries serialized per slice (one write, one event-loop yield). Default 2000. */
  readonly sliceEntries?: number
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const KEY_FIELD = Buffer.from(',"key":', 'latin1')
const VALUE_FIELD = Buffer.from(',"value":', 'latin1')
const EXPIRE_FIELD = Buffer.from(',"expireAt":', 'latin1')
const NO_EXPIRY_END = Buffer.from('null}\n', 'latin1')
const END = Buffer.from('}\n', 'latin1')
const DB_PREFIXES = Array.from({ length: DATABASE_COUNT }, (_, db) => Buffer.from(`{"db":${db}`, 'latin1'))

/**
 * Writes `state` (taken at `seq`) to `dir/file` atomically, in slices. Resolves with what was
 * written; on failure the temp file is removed and the error rethrown.
 */
export const writeSnapshot = async (
  fsys: FileSystem,
  dir: string,
  state: State,
  opts: WriteSnapshotOptions,
): Promise<SnapshotInfo> => {
  const captured = Keyspace.capture(state)
  try {
    return await writeCaptured(fsys, dir, captured, opts)
  } finally {
    Keyspace.release(captured)
  }
}

/**
 * Writes a snapshot of maps frozen by `Keyspace.capture` (the checkpoint path: the caller
 * captured synchronously at the cut and releases the capture afterwards).
 */
export const writeCaptured = async (
  fsys: FileSystem,
  dir: string,
  captured: Keyspace.Capture,
  opts: WriteSnapshotOptions,
): Promise<SnapshotInfo> => {
  const tmp = path.join(dir, `${opts.file}.tmp`)
  const slice = Math.max(1, opts.sliceEntries ?? 2000)
  const fd = await fsys.open(tmp, 'w')
  let ok = false
  let bytes = 0
  let crc = 0
  let count = 0
  const out = new JsonOut()
  /** Writes what `out` holds (the buffer is reused only after the write completed). */
  const flush = async (): Promise<void> => {
    crc = crc32c(out.buf, crc, 0, out.pos)
    await writeFully(fsys, fd, out.buf, 0, out.pos, bytes)
    bytes += out.pos
    out.pos = 0
  }
  try {
    out.ascii(JSON.stringify({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, seq: opts.seq, at: opts.at }) + '\n')
    let inSlice = 0
    for (let db = 0; db < DATABASE_COUNT; db++) {
      const d = captured.dbs[db]!
      const deadlines = d.expires.size > 0 ? d.expires : undefined
      const prefix = DB_PREFIXES[db]!
      for (const [key, value] of d.values) {
        out.bytes(prefix)
        out.bytes(KEY_FIELD)
        out.byteString(key)
        out.bytes(VALUE_FIELD)
        out.byteString(Keyspace.valueBytes(value))
        out.bytes(EXPIRE_FIELD)
        const expireAt = deadlines?.get(key)
        if (expireAt === undefined) out.bytes(NO_EXPIRY_END)
        else {
          out.integer(expireAt)
          out.bytes(END)
        }
        count++
        if (++inSlice === slice) {
          await flush()
          inSlice = 0
          await yieldToLoop()
        }
      }
    }
    if (out.pos > 0) await flush()
    out.ascii(JSON.stringify({ count, crc32c: crcHex(crc) }) + '\n')
    await writeFully(fsys, fd, out.buf, 0, out.pos, bytes)
    bytes += out.pos
    await fsys.fdatasync(fd)
    ok = true
  } finally {
    await fsys.close(fd).catch(() => undefined)
    if (!ok) await fsys.unlink(tmp).catch(() => undefined)
  }
  try {
    await fsys.rename(tmp, path.join(dir, opts.file))
  } catch (err) {
    await fsys.unlink(tmp).catch(() => undefined)
    throw err
  }
  await fsys.fsyncDir(dir)
  return { file: opts.file, seq: opts.seq, at: opts.at, count, crc, bytes }
}

// ---------------------------------------------------------------------------------------------
// load
// ---------------------------------------------------------------------------------------------

export interface LoadedSnapshot extends SnapshotInfo {
  readonly state: State
}

export interface LoadSnapshotOptions {
  /** Read chunk size (default 8 MiB); tests use small values to exercise chunk boundaries. */
  readonly chunkBytes?: number
}

const NEWLINE = 0x0a

const report = (codec: t.Any, value: unknown): string => PathReporter.report(codec.decode(value)).join('; ')

/**
 * Loads and verifies the snapshot at `filePath` (`file` is its name, used in messages). Throws
 * {@link SnapshotError} when it is damaged, and the file system's error when it cannot be read.
 */
export const loadSnapshot = async (
  fsys: FileSystem,
  filePath: string,
  opts: LoadSnapshotOptions = {},
): Promise<LoadedSnapshot> => {
  const file = path.basename(filePath)
  const fd = await fsys.open(filePath, 'r')
  try {
    const size = await fsys.fsize(fd)
    let buf = Buffer.allocUnsafe(Math.max(1, Math.min(opts.chunkBytes ?? 8 * 1024 * 1024, size)))
    let bufLen = 0 // bytes in buf
    let filePos = 0 // file offset of buf[0]
    let lineNo = 0 // lines consumed so far
    let crc = 0
    let header: t.TypeOf<typeof SnapshotHeader> | undefined
    let trailer: { count: number; crc: string; offset: number; line: number } | undefined
    let count = 0
    const build = Keyspace.builder()
    const w = build.writer

    const fail = (offset: number, line: number, detail: string): never => {
      throw new SnapshotError(file, offset, line, detail)
    }

    const cursor = new EntryCursor(buf)
    const scratch: RawEntry = { db: 0, key: '', value: '', expireAt: null }

    /** The line `buf[start, end)` as JSON (the slow, general path). */
    const parseLine = (start: number, end: number, line: number): unknown => {
      try {
        return JSON.parse(buf.toString('utf8', start, end))
      } catch (err) {
        return fail(filePos + start, line, `invalid JSON: ${(err as Error).message}`)
      }
    }

    /** Consumes the whole lines `buf[0, end)` (end is just past a newline). */
    const consume = (end: number, atEof: boolean): void => {
      if (trailer !== undefined) fail(trailer.offset, trailer.line, 'data after the trailer line')
      let p = 0
      if (header === undefined) {
        const nl = buf.indexOf(NEWLINE, 0)
        const h = parseLine(0, nl, 1)
        if (!SnapshotHeader.is(h)) fail(0, 1, `not a Redust snapshot header (${report(SnapshotHeader, h)})`)
        header = h as t.TypeOf<typeof SnapshotHeader>
        p = nl + 1
        lineNo = 1
      }
      // At the end of the file the last line is the trailer; the CRC covers everything before it.
      const entriesEnd = atEof ? buf.lastIndexOf(NEWLINE, end - 2) + 1 : end
      if (atEof && entriesEnd < p) fail(filePos, lineNo + 1, 'missing trailer line')
      crc = crc32c(buf, crc, 0, entriesEnd)
      cursor.at(buf)
      let added = 0
      while (p < entriesEnd) {
        const nl = buf.indexOf(NEWLINE, p)
        lineNo++
        // The edge: every entry is checked before it enters the keyspace — a canonical line field
        // by field with the predicates the io-ts codecs are built from (the strings are byte
        // strings by construction), anything else with the SnapshotEntry codec itself.
        let entry: SnapshotEntry | undefined = readCanonicalEntry(cursor, p, nl, scratch)
        if (entry === undefined || !isDbIndex(entry.db) || (entry.expireAt !== null && !isEpochMs(entry.expireAt))) {
          const e = parseLine(p, nl, lineNo)
          if (!SnapshotEntry.is(e)) fail(filePos + p, lineNo, `invalid entry (${report(SnapshotEntry, e)})`)
          entry = e as SnapshotEntry
        }
        // Each key appears once (a duplicate fails the count check below): nothing to clear.
        w.putNew(entry.db, entry.key, entry.value, entry.expireAt)
        added++
        p = nl + 1
      }
      count += added
      if (atEof) {
        lineNo++
        const v = parseLine(entriesEnd, end - 1, lineNo)
        if (!SnapshotTrailer.is(v)) fail(filePos + entriesEnd, lineNo, `missing or invalid trailer line (${report(SnapshotTrailer, v)})`)
        const tr = v as t.TypeOf<typeof SnapshotTrailer>
        trailer = { count: tr.count, crc: tr.crc32c, offset: filePos + entriesEnd, line: lineNo }
      }
    }

    for (;;) {
      const want = buf.length - bufLen
      const n = want > 0 && filePos + bufLen < size ? await fsys.read(fd, buf, bufLen, Math.min(want, size - filePos - bufLen), filePos + bufLen) : 0
      bufLen += n
      const atEof = filePos + bufLen >= size
      if (atEof) {
        if (bufLen === 0) {
          if (header === undefined) fail(0, 1, 'file is empty')
          break
        }
        if (buf[bufLen - 1] !== NEWLINE) fail(filePos, lineNo + 1, 'file does not end with a newline (truncated)')
        consume(bufLen, true)
        break
      }
      const lastNl = buf.lastIndexOf(NEWLINE, bufLen - 1)
      if (lastNl < 0) {
        if (bufLen < buf.length) continue
        // A line longer than the buffer: grow it.
        const next = Buffer.allocUnsafe(buf.length * 2)
        buf.copy(next, 0, 0, bufLen)
        buf = next
        continue
      }
      consume(lastNl + 1, false)
      buf.copy(buf, 0, lastNl + 1, bufLen)
      filePos += lastNl + 1
      bufLen -= lastNl + 1
    }

    if (header === undefined || trailer === undefined) return fail(0, 1, 'missing header or trailer')
    const tr = trailer as { count: number; crc: string; offset: number; line: number }
    if (tr.crc !== crcHex(crc)) fail(tr.offset, tr.line, `snapshot checksum mismatch (trailer ${tr.crc}, computed ${crcHex(crc)})`)
    if (tr.count !== count) fail(tr.offset, tr.line, `trailer counts ${tr.count} entries, the file holds ${count}`)
    let keys = 0
    const state = build.finish()
    for (let db = 0; db < DATABASE_COUNT; db++) keys += Keyspace.size(state, db)
    if (keys !== count) fail(tr.offset, tr.line, `${count - keys} duplicated keys`)
    const h = header as t.TypeOf<typeof SnapshotHeader>
    return { file, seq: h.seq, at: h.at, count, crc: parseInt(tr.crc, 16), bytes: size, state }
  } finally {
    await fsys.close(fd).catch(() => undefined)
  }
}

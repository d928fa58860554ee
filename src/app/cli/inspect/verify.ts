/**
 * `redust log verify [--fix] [--truncate-to SEQ]`: the `redis-check-aof` of Redust.
 *
 * ## What is checked
 *
 * The manifest (format, its own CRC32C), the snapshot (header, every line, trailer count and
 * CRC32C, no duplicated key, and that it is the file the manifest records), then every segment in
 * manifest order: header CRC and its agreement with the manifest, every frame's length, CRC,
 * consecutive seq and decodable events, and the continuity between segments and with the
 * snapshot — the rules recovery applies (infra/log/logReader.ts). Files the manifest does not
 * list are mentioned (recovery deletes leftovers of interrupted checkpoints).
 *
 * Exit codes: 0 intact (or repaired), 1 damaged (or the repair was refused), 2 usage error.
 *
 * ## Repairs (run them with the server stopped)
 *
 * - `--fix` repairs a **torn tail** — an incomplete last write in the last segment, as left by a
 *   crash — by truncating it, after copying the segment to `<file>.bak` (`.bak.1`, … if taken).
 *   That loses no whole record. Recovery at start-up does the same by itself.
 * - Damage **in the middle of the log** (a bad frame followed by readable ones, a damaged or
 *   missing segment, a sequence gap) is refused by `--fix`: cutting there would discard every
 *   record after it. The report says how many records are readable after the damage and how many
 *   a truncation would lose; `--truncate-to SEQ` accepts that loss: it keeps records up to SEQ
 *   (at most the last intact one), truncates the segment holding SEQ after it (backup first),
 *   drops later segments from the manifest (renamed `<file>.discarded`) and rewrites the manifest
 *   (the old one saved as `MANIFEST.bak`). On an intact log it is a point-in-time truncation.
 * - A damaged manifest or snapshot cannot be repaired here: restore it from a backup.
 *
 * @category cli
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { errorCode } from '../../../infra/log/fileSystem.js'
import {
  checkLength,
  checksumMatches,
  decodeSegmentHeader,
  frameSeed,
  readFrameLsn,
  SEGMENT_HEADER_BYTES,
} from '../../../infra/log/format.js'
import { fixLog, walkLog, type LogProblem, type WalkReport } from '../../../infra/log/logReader.js'
import { MANIFEST_NAME, SEGMENT_FILE, SNAPSHOT_FILE, writeManifest, type Manifest } from '../../../infra/log/manifest.js'
import { findValidFrame, scanSegment, SegmentHeaderError } from '../../../infra/log/segmentReader.js'
import { checkDir, fsys, loadBase, readManifestOf, zeroTailNote, type Base } from './dataDir.js'
import { CliError, EXIT_DAMAGED, EXIT_OK, usage, type Io } from './io.js'
import { count, plural } from './text.js'

export interface VerifyOptions {
  readonly fix: boolean
  readonly truncateTo?: number
  readonly json: boolean
  /** Wall clock for a fresh segment header (tests). */
  readonly now?: () => number
}

interface SegmentLine {
  readonly file: string
  readonly status: 'ok' | 'damaged' | 'after-damage' | 'missing' | 'unreadable'
  readonly firstSeq: number
  /** Last seq of the valid prefix (firstSeq - 1 when empty). */
  readonly lastSeq: number
  readonly records: number
  readonly events: number
  readonly bytes: number
  /** Zeros after the last record (included in `bytes`): see `checkDataDir`. */
  readonly zeroBytes?: number
  readonly detail?: string
}

/** What lies after mid-log damage. */
interface AfterDamage {
  /** Readable records after the damage point. */
  readonly records: number
  readonly firstSeq: number | undefined
  readonly lastSeq: number | undefined
}

export interface VerifyReport {
  readonly dir: string
  readonly status: 'intact' | 'damaged'
  readonly manifest: { readonly ok: boolean; readonly detail?: string }
  readonly snapshot: { readonly file: string; readonly seq: number; readonly keys: number; readonly bytes: number; readonly ok: boolean; readonly detail?: string } | null
  readonly segments: ReadonlyArray<SegmentLine>
  readonly problem: LogProblem | null
  /** The last seq of the intact prefix. */
  readonly lastGoodSeq: number
  readonly afterDamage: AfterDamage | null
  /** Records a cut at lastGoodSeq would discard (complete and damaged), when known. */
  readonly lostByTruncation: number
  readonly unlisted: ReadonlyArray<string>
}

// ---------------------------------------------------------------------------------------------
// checking
// ---------------------------------------------------------------------------------------------

/**
 * Readable frames of a segment from byte `from` on, resynchronising after every bad spot. Like
 * walkLog, frames at or past `untilSeq` (the next listed segment's first seq) are not counted: a
 * crash recovery copies unvouched records to a new segment and leaves superseded bytes behind.
 */
const readableFrom = async (file: string, from: number, minSeq: number, untilSeq = Infinity): Promise<AfterDamage> => {
  let buf: Buffer
  try {
    buf = await fs.promises.readFile(file)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { records: 0, firstSeq: undefined, lastSeq: undefined }
    throw err
  }
  const header = decodeSegmentHeader(buf.subarray(0, SEGMENT_HEADER_BYTES))
  if (typeof header === 'string') return { records: 0, firstSeq: undefined, lastSeq: undefined }
  const seed = frameSeed(header)
  let records = 0
  let firstSeq: number | undefined
  let lastSeq: number | undefined
  let at = Math.max(from, SEGMENT_HEADER_BYTES)
  let expect = minSeq
  for (;;) {
    const found = findValidFrame(buf, at, expect, seed)
    if (found === undefined || found.lsn >= untilSeq) break
    at = found.offset
    expect = found.lsn
    while (buf.length - at >= 4) {
      const len = buf.readUInt32LE(at)
      if (expect >= untilSeq) break
      if (checkLength(len, buf.length - at) !== undefined || !checksumMatches(buf, at, len, seed) || readFrameLsn(buf, at) !== expect) break
      records++
      firstSeq ??= expect
      lastSeq = expect
      expect++
      at += len
    }
    if (expect >= untilSeq) break
    at++
  }
  return { records, firstSeq, lastSeq }
}

const sizeOf = async (file: string): Promise<number> => (await fsys.size(file)) ?? 0

/** Checks `dir` without changing anything. */
export const checkDataDir = async (dir: string): Promise<{ report: VerifyReport; manifest: Manifest | undefined; walk: WalkReport | undefined }> => {
  checkDir(dir)
  let manifest: Manifest
  try {
    manifest = await readManifestOf(dir)
  } catch (err) {
    if (!(err instanceof CliError) || err.exitCode !== EXIT_DAMAGED) throw err
    const report: VerifyReport = {
      dir,
      status: 'damaged',
      manifest: { ok: false, detail: err.message },
      snapshot: null,
      segments: [],
      problem: null,
      lastGoodSeq: 0,
      afterDamage: null,
      lostByTruncation: 0,
      unlisted: [],
    }
    return { report, manifest: undefined, walk: undefined }
  }

  let snapshot: VerifyReport['snapshot'] = null
  const snap = manifest.snapshot
  if (snap !== undefined) {
    let base: Base | undefined
    let detail: string | undefined
    try {
      base = await loadBase(dir, manifest)
    } catch (err) {
      if (!(err instanceof Error)) throw err
      detail = err.message
    }
    snapshot = {
      file: snap.file,
      seq: snap.seq,
      keys: base?.keys ?? snap.count,
      bytes: base?.bytes ?? (await sizeOf(path.join(dir, snap.file))),
      ok: base !== undefined,
      ...(detail === undefined ? {} : { detail }),
    }
  }

  const events = new Map<string, number>()
  const walk = await walkLog(fsys, dir, manifest, {
    includeCovered: true,
    onRecord: (r, where) => {
      events.set(where.file, (events.get(where.file) ?? 0) + r.events.length)
    },
  })
  // Only zeros after the last record: what a running server writes ahead of its records (or a
  // power loss's zero fill). Start-up cuts them and no record is lost: not damage.
  const zeros = walk.problem?.kind === 'torn-tail' && walk.problem.zeroFilled === true ? walk.problem : undefined
  const problem = zeros === undefined ? walk.problem : undefined
  const segments: SegmentLine[] = []
  let after: { records: number; firstSeq: number | undefined; lastSeq: number | undefined } | null = null
  const addAfter = (a: AfterDamage): void => {
    after ??= { records: 0, firstSeq: undefined, lastSeq: undefined }
    after.records += a.records
    if (a.firstSeq !== undefined) after.firstSeq = Math.min(after.firstSeq ?? a.firstSeq, a.firstSeq)
    if (a.lastSeq !== undefined) after.lastSeq = Math.max(after.lastSeq ?? a.lastSeq, a.lastSeq)
  }
  for (let i = 0; i < manifest.segments.length; i++) {
    const entry = manifest.segments[i]!
    const file = path.join(dir, entry.file)
    const scan = walk.segments[i]?.scan
    const base = { file: entry.file, firstSeq: entry.firstLsn, events: events.get(entry.file) ?? 0 }
    // A segment is read only up to the next listed one's first seq (as walkLog does).
    const untilSeq = manifest.segments[i + 1]?.firstLsn ?? Infinity
    if (i < walk.segments.length && (problem === undefined || problem.segment !== i)) {
      segments.push({
        ...base,
        status: 'ok',
        lastSeq: scan!.lastLsn,
        records: scan!.records,
        bytes: scan!.size,
        ...(zeros?.segment === i ? { zeroBytes: zeros.tailBytes } : {}),
      })
      continue
    }
    if (problem !== undefined && problem.segment === i) {
      const bytes = await fsys.size(file)
      const status = problem.kind === 'missing-segment' ? 'missing' : problem.kind === 'segment-header' ? 'unreadable' : 'damaged'
      segments.push({
        ...base,
        status,
        lastSeq: scan?.lastLsn ?? entry.firstLsn - 1,
        records: scan?.records ?? 0,
        bytes: bytes ?? 0,
        detail: `${problem.kind} at byte offset ${problem.offset} (record seq ${problem.seq}): ${problem.detail}`,
      })
      if (problem.kind === 'corrupt-frame') addAfter(await readableFrom(file, problem.offset + 1, problem.seq, untilSeq))
      else if (problem.kind === 'sequence-gap' && scan === undefined) addAfter(await readableFrom(file, 0, 0, untilSeq))
      continue
    }
    // After the damage: what is still readable there (it would be lost by a cut).
    const bytes = await fsys.size(file)
    if (bytes === undefined) {
      segments.push({ ...base, status: 'missing', lastSeq: entry.firstLsn - 1, records: 0, bytes: 0, detail: 'file is missing' })
      continue
    }
    let detail: string | undefined
    try {
      await scanSegment(fsys, file)
    } catch (err) {
      if (!(err instanceof SegmentHeaderError)) throw err
      detail = err.detail
    }
    const readable = await readableFrom(file, 0, entry.firstLsn, untilSeq)
    addAfter(readable)
    segments.push({
      ...base,
      status: 'after-damage',
      firstSeq: readable.firstSeq ?? entry.firstLsn,
      lastSeq: readable.lastSeq ?? entry.firstLsn - 1,
      records: readable.records,
      events: 0,
      bytes,
      ...(detail === undefined ? {} : { detail }),
    })
  }

  const listed = new Set([...(snap === undefined ? [] : [snap.file]), ...manifest.segments.map((s) => s.file), MANIFEST_NAME])
  const unlisted = (await fsys.readdir(dir))
    .filter((n) => !listed.has(n) && (SEGMENT_FILE.test(n) || SNAPSHOT_FILE.test(n) || n.endsWith('.tmp')))
    .sort()

  const lastGoodSeq = walk.lastSeq
  const afterDamage = after as AfterDamage | null
  const lostByTruncation =
    problem === undefined
      ? 0
      : Math.max(problem.kind === 'torn-tail' ? lastGoodSeq : problem.seq, afterDamage?.lastSeq ?? 0) - lastGoodSeq
  const damaged = problem !== undefined || snapshot?.ok === false
  const report: VerifyReport = {
    dir,
    status: damaged ? 'damaged' : 'intact',
    manifest: { ok: true },
    snapshot,
    segments,
    problem: problem ?? null,
    lastGoodSeq,
    afterDamage,
    lostByTruncation,
    unlisted,
  }
  return { report, manifest, walk }
}

// ---------------------------------------------------------------------------------------------
// rendering
// ---------------------------------------------------------------------------------------------


const seqRange = (first: number, last: number): string => (last < first ? 'no records' : `seq ${first}..${last}`)

export const renderReport = (r: VerifyReport): string[] => {
  const out: string[] = []
  if (!r.manifest.ok) {
    out.push(`${MANIFEST_NAME}: DAMAGED: ${r.manifest.detail}`)
    out.push('result: DAMAGED: the manifest cannot be repaired by this tool; restore it from a backup')
    return out
  }
  const segs = r.segments.length
  out.push(`${MANIFEST_NAME}: ok (${r.snapshot === null ? 'no snapshot' : `snapshot of seq ${r.snapshot.seq}`}, ${plural(segs, 'segment')})`)
  if (r.snapshot !== null) {
    const s = r.snapshot
    out.push(s.ok ? `${s.file}: ok (seq ${s.seq}, ${plural(s.keys, 'key')}, ${count(s.bytes)} bytes)` : `${s.file}: DAMAGED: ${s.detail}`)
  }
  for (const s of r.segments) {
    const what = `${seqRange(s.firstSeq, s.lastSeq)}, ${plural(s.records, 'record')}`
    switch (s.status) {
      case 'ok': {
        const zeros =
          s.zeroBytes === undefined
            ? ''
            : `; then ${zeroTailNote(s.zeroBytes)}`
        out.push(
          s.records === 0
            ? `${s.file}: ok (no records yet, the next is seq ${s.firstSeq}, ${count(s.bytes)} bytes${zeros})`
            : `${s.file}: ok (${what}, ${plural(s.events, 'event')}, ${count(s.bytes)} bytes${zeros})`,
        )
        break
      }
      case 'damaged':
        out.push(`${s.file}: DAMAGED: ${s.lastSeq < s.firstSeq ? 'no intact record' : `${what} intact`}, then ${s.detail}`)
        break
      case 'missing':
      case 'unreadable':
        out.push(`${s.file}: DAMAGED: ${s.detail}`)
        break
      case 'after-damage':
        out.push(
          `${s.file}: after the damage: ${s.records === 0 ? 'no readable record' : `${what} readable`}${s.detail === undefined ? '' : ` (${s.detail})`}`,
        )
        break
    }
  }
  for (const f of r.unlisted) out.push(`note: ${f} is not listed in the manifest (a leftover of an interrupted checkpoint; the server deletes it at start)`)
  const p = r.problem
  if (p === null) {
    if (r.snapshot?.ok === false) out.push('result: DAMAGED: the snapshot cannot be repaired by this tool; restore it from a backup')
    else out.push(`result: intact (last seq ${r.lastGoodSeq})`)
    return out
  }
  if (p.kind === 'torn-tail') {
    out.push(
      `result: DAMAGED: torn tail in ${p.file}: ${plural(p.tailBytes, 'byte')} of an incomplete record after seq ${r.lastGoodSeq}; ` +
        'cutting it loses no whole record: run `redust log verify --fix` (the segment is backed up first)',
    )
    return out
  }
  const a = r.afterDamage
  const readable =
    a === null || a.records === 0 || a.firstSeq === undefined || a.lastSeq === undefined
      ? 'no readable record follows it'
      : `${plural(a.records, 'readable record')} follow it (seq ${a.firstSeq}..${a.lastSeq})`
  out.push(`result: DAMAGED: ${p.kind} in the middle of the log (${p.file}, byte offset ${p.offset}, record seq ${p.seq}); seq ${r.lastGoodSeq} and before are intact, ${readable}`)
  const lost = r.lostByTruncation
  out.push(
    `--fix will not cut damage in the middle of the log. Keeping seq ${r.lastGoodSeq} and before loses ${lost === 0 ? 'the records after it' : `${plural(lost, 'record')} (seq ${r.lastGoodSeq + 1}..${r.lastGoodSeq + lost})`}; ` +
      `to accept that, run \`redust log verify --truncate-to ${r.lastGoodSeq}\``,
  )
  return out
}

// ---------------------------------------------------------------------------------------------
// repairs
// ---------------------------------------------------------------------------------------------

/** Copies `dir/name` to the first free `name.bak`, `name.bak.1`, … and syncs it. Returns the name. */
export const backup = async (dir: string, name: string): Promise<string> => {
  for (let i = 0; ; i++) {
    const target = `${name}.bak${i === 0 ? '' : `.${i}`}`
    try {
      await fs.promises.copyFile(path.join(dir, name), path.join(dir, target), fs.constants.COPYFILE_EXCL)
    } catch (err) {
      if (errorCode(err) === 'EEXIST') continue
      throw err
    }
    const fh = await fs.promises.open(path.join(dir, target), 'r+')
    try {
      await fh.datasync()
    } finally {
      await fh.close()
    }
    return target
  }
}

const freeName = async (dir: string, name: string): Promise<string> => {
  for (let i = 0; ; i++) {
    const target = `${name}${i === 0 ? '' : `.${i}`}`
    if ((await fsys.size(path.join(dir, target))) === undefined) return target
  }
}

/** Where record `seq` ends in segment `file` (the header's end when seq is just before the first). */
const endOfRecord = async (dir: string, file: string, firstLsn: number, seq: number): Promise<number | undefined> => {
  if (seq === firstLsn - 1) return SEGMENT_HEADER_BYTES
  let end: number | undefined
  await scanSegment(fsys, path.join(dir, file), {
    onFrame: (f) => {
      if (f.lsn !== seq) return true
      end = f.offset + f.len
      return false
    },
  })
  return end
}

interface Truncation {
  readonly backups: ReadonlyArray<string>
  readonly truncated: { readonly file: string; readonly at: number; readonly bytes: number } | undefined
  readonly discarded: ReadonlyArray<string>
}

/** Keeps records up to `seq` (which must be readable): see the module comment. */
const truncateTo = async (dir: string, manifest: Manifest, walk: WalkReport, seq: number): Promise<Truncation> => {
  // The last segment whose intact prefix reaches seq (or that starts right after it).
  let keep = -1
  const p = walk.problem
  for (let i = 0; i < walk.segments.length; i++) {
    const s = walk.segments[i]!
    if (s.scan === undefined) break
    // A segment whose header is wrong or that does not continue the previous one is unusable.
    if (p !== undefined && p.segment === i && p.kind !== 'corrupt-frame' && p.kind !== 'torn-tail') break
    if (s.entry.firstLsn <= seq + 1 && (s.scan.lastLsn >= seq || s.entry.firstLsn === seq + 1)) keep = i
  }
  if (keep < 0) throw new CliError(`cannot truncate to seq ${seq}: no readable segment holds it`, EXIT_DAMAGED)
  const entry = manifest.segments[keep]!
  const at = await endOfRecord(dir, entry.file, entry.firstLsn, seq)
  if (at === undefined) throw new CliError(`cannot truncate to seq ${seq}: record ${seq} not found in ${entry.file}`, EXIT_DAMAGED)
  const file = path.join(dir, entry.file)
  const size = (await fsys.size(file)) ?? 0
  const dropped = manifest.segments.slice(keep + 1)
  const backups: string[] = []
  if (size > at) backups.push(await backup(dir, entry.file))
  if (dropped.length > 0) backups.push(await backup(dir, MANIFEST_NAME))
  if (size > at) {
    const fd = await fsys.open(file, 'r+')
    try {
      await fsys.ftruncate(fd, at)
      await fsys.fdatasync(fd)
    } finally {
      await fsys.close(fd)
    }
  }
  const discarded: string[] = []
  if (dropped.length > 0) {
    await writeManifest(fsys, dir, { snapshot: manifest.snapshot, segments: manifest.segments.slice(0, keep + 1) })
    for (const s of dropped) {
      const target = await freeName(dir, `${s.file}.discarded`)
      try {
        await fsys.rename(path.join(dir, s.file), path.join(dir, target))
        discarded.push(target)
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err
      }
    }
    await fsys.fsyncDir(dir)
  }
  return { backups, truncated: size > at ? { file: entry.file, at, bytes: size - at } : undefined, discarded }
}

// ---------------------------------------------------------------------------------------------
// the command
// ---------------------------------------------------------------------------------------------

export const logVerify = async (dir: string, o: VerifyOptions, io: Io): Promise<number> => {
  const { report, manifest, walk } = await checkDataDir(dir)
  const print = (): void => {
    if (o.json) io.line(JSON.stringify(report))
    else for (const l of renderReport(report)) io.line(l)
  }
  const say = (text: string): void => (o.json ? io.note(text) : io.line(text))

  if (o.truncateTo !== undefined) {
    print()
    const seq = o.truncateTo
    if (manifest === undefined || walk === undefined) throw new CliError('cannot truncate: the manifest is damaged', EXIT_DAMAGED)
    if (report.snapshot?.ok === false) throw new CliError('cannot truncate: the snapshot is damaged; restore it from a backup', EXIT_DAMAGED)
    const snapSeq = manifest.snapshot?.seq ?? 0
    if (seq < snapSeq) throw usage(`cannot truncate to seq ${seq}: the snapshot already holds the state at seq ${snapSeq}`)
    if (seq > report.lastGoodSeq) {
      throw usage(
        report.problem === null
          ? `cannot truncate to seq ${seq}: the log ends at seq ${report.lastGoodSeq}`
          : `cannot truncate to seq ${seq}: the log is intact only up to seq ${report.lastGoodSeq}`,
      )
    }
    const highest = report.problem === null ? report.lastGoodSeq : report.lastGoodSeq + report.lostByTruncation
    const lost = highest - seq
    if (lost === 0 && report.problem === null) {
      say(`nothing to truncate: the log ends at seq ${seq}`)
      return EXIT_OK
    }
    const t = await truncateTo(dir, manifest, walk, seq)
    for (const b of t.backups) say(`backed up ${b}`)
    if (t.truncated !== undefined) say(`truncated ${t.truncated.file} at byte offset ${t.truncated.at} (${plural(t.truncated.bytes, 'byte')} removed)`)
    for (const d of t.discarded) say(`dropped from the manifest: ${d.replace(/\.discarded(\.\d+)?$/, '')} (renamed ${d})`)
    say(`truncated to seq ${seq}: ${plural(lost, 'record')} discarded${lost > 0 ? ` (seq ${seq + 1}..${highest})` : ''}`)
    return EXIT_OK
  }

  print()
  if (report.status === 'intact') return EXIT_OK
  if (!o.fix) return EXIT_DAMAGED
  const p = report.problem
  if (p === null || p.kind !== 'torn-tail' || report.snapshot?.ok === false) {
    say('--fix: nothing done (see above)')
    return EXIT_DAMAGED
  }
  const saved = await backup(dir, p.file)
  const fixed = await fixLog(fsys, dir, (o.now ?? Date.now)())
  say(`backed up ${p.file} to ${saved}`)
  if (fixed.truncated !== undefined) {
    say(`truncated ${fixed.truncated.file} at byte offset ${fixed.truncated.at} (${plural(fixed.truncated.bytes, 'byte')} removed)`)
  }
  say(`fixed: the log now ends at seq ${fixed.lastSeq}`)
  return EXIT_OK
}

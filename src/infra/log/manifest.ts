/**
 * The MANIFEST: the one file that says which snapshot and which AOF segments make up the
 * database, replaced atomically (temp, fdatasync, rename, fsync dir — like Redis's
 * `writeAofManifestFile`).
 *
 * ## Format (text, UTF-8, `\n` line ends; DURABILITY.md §8.1)
 *
 * ```
 * redust-manifest 1
 * snapshot snap-000000000042-00000003.jsonl seq 42 count 1000 crc32c 1a2b3c4d
 * segment log-00000003.aof seq 3 first_lsn 43 uid 0f1e2d3c4b5a6978
 * segment log-00000004.aof seq 4 first_lsn 97 uid 8877665544332211
 * durable 120
 * crc32c 89abcdef
 * ```
 *
 * - Line 1: the format name and version. A reader refuses a version it does not know.
 * - `snapshot` (at most one, optional): the file, the seq it covers, its entry count and the
 *   CRC32C its trailer carries — so a different or damaged snapshot file is detected.
 *   Without one, replay starts from the empty state at seq 0.
 * - `segment` (one or more, in replay order): file name, segment_seq (strictly increasing), the
 *   first lsn it must hold (non-decreasing: an empty segment is followed by one starting at the
 *   same lsn), and its uid; each must match the segment's own header.
 * - `durable` (optional, at most one, after the segments): a seq known to be on disk when the
 *   manifest was written — after a clean close, at start-up once the replayed segments were
 *   fdatasynced, at a rotation. Recovery never treats damage at or below it as a torn tail.
 * - Last line: CRC32C (hex) of every byte before it. Unlike Redis's manifest, it checks itself.
 *
 * The parser is strict (as Redis's `aof-multi-part.tcl` matrix expects): blank lines, unknown
 * keys, missing or extra fields, a non-increasing segment seq, or a bad CRC are all refusals.
 * File names must be plain names inside the data directory (no separators).
 *
 * @category infra
 */
import { crc32cOfText, crcHex } from './crc32c.js'
import { writeFileAtomic, type FileSystem } from './fileSystem.js'

export const MANIFEST_NAME = 'MANIFEST'
export const MANIFEST_FORMAT = 'redust-manifest'
export const MANIFEST_VERSION = 1

export interface ManifestSnapshot {
  readonly file: string
  readonly seq: number
  readonly count: number
  readonly crc: number
}

export interface ManifestSegment {
  readonly file: string
  readonly segmentSeq: number
  readonly firstLsn: number
  /** 16 hex digits. */
  readonly uid: string
}

export interface Manifest {
  readonly snapshot: ManifestSnapshot | undefined
  readonly segments: ReadonlyArray<ManifestSegment>
  /**
   * A seq known durable when the manifest was written (after a clean close, at start-up after
   * the replayed segments were synced, at a rotation): damage at or below it is corruption of
   * synced data, never a torn tail. Optional; absent means 0.
   */
  readonly durable?: number
}

/** The manifest is unreadable or inconsistent. `line` is 1-based (0 when not about one line). */
export class ManifestError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly offset: number,
  ) {
    super(detail)
    this.name = 'ManifestError'
  }
}

// ---------------------------------------------------------------------------------------------
// names
// ---------------------------------------------------------------------------------------------

export const segmentFileName = (segmentSeq: number): string => `log-${String(segmentSeq).padStart(8, '0')}.aof`
/**
 * A snapshot's name carries the seq it covers and the segment seq of the checkpoint that wrote it,
 * so a second checkpoint at the same seq never overwrites the file the current manifest lists.
 */
export const snapshotFileName = (seq: number, segmentSeq: number): string =>
  `snap-${String(seq).padStart(12, '0')}-${String(segmentSeq).padStart(8, '0')}.jsonl`
export const SEGMENT_FILE = /^log-(\d+)\.aof$/
export const SNAPSHOT_FILE = /^snap-(\d+)-(\d+)\.jsonl$/

// ---------------------------------------------------------------------------------------------
// encode / parse
// ---------------------------------------------------------------------------------------------

export const encodeManifest = (m: Manifest): string => {
  let text = `${MANIFEST_FORMAT} ${MANIFEST_VERSION}\n`
  if (m.snapshot !== undefined) {
    const s = m.snapshot
    text += `snapshot ${s.file} seq ${s.seq} count ${s.count} crc32c ${crcHex(s.crc)}\n`
  }
  for (const s of m.segments) text += `segment ${s.file} seq ${s.segmentSeq} first_lsn ${s.firstLsn} uid ${s.uid}\n`
  if (m.durable !== undefined && m.durable > 0) text += `durable ${m.durable}\n`
  return `${text}crc32c ${crcHex(crc32cOfText(text))}\n`
}

const NAME = /^[A-Za-z0-9._-]+$/
const HEX8 = /^[0-9a-f]{8}$/
const HEX16 = /^[0-9a-f]{16}$/
const UINT = /^(0|[1-9][0-9]{0,15})$/

/** Parses and checks a manifest's text. Throws {@link ManifestError}. */
export const parseManifest = (text: string): Manifest => {
  const lines = text.split('\n')
  if (lines[lines.length - 1] !== '') throw new ManifestError('manifest does not end with a newline', lines.length, text.length)
  lines.pop()
  let offset = 0
  const offsets = lines.map((l) => {
    const at = offset
    offset += Buffer.byteLength(l, 'utf8') + 1
    return at
  })
  const fail = (i: number, why: string): never => {
    throw new ManifestError(`line ${i + 1}: ${why}`, i + 1, offsets[i] ?? 0)
  }
  const last = lines.length - 1
  if (last < 1) fail(0, 'manifest is empty or has no checksum line')
  const crcLine = lines[last]!.split(' ')
  if (crcLine.length !== 2 || crcLine[0] !== 'crc32c' || !HEX8.test(crcLine[1]!)) fail(last, 'expected `crc32c <8 hex digits>`')
  const body = text.slice(0, text.length - lines[last]!.length - 1)
  const computed = crcHex(crc32cOfText(body))
  if (computed !== crcLine[1]) fail(last, `manifest checksum mismatch (stored ${crcLine[1]}, computed ${computed})`)

  const head = lines[0]!.split(' ')
  if (head.length !== 2 || head[0] !== MANIFEST_FORMAT) fail(0, `expected \`${MANIFEST_FORMAT} <version>\``)
  if (head[1] !== String(MANIFEST_VERSION)) fail(0, `unsupported manifest version ${head[1]}`)

  let snapshot: ManifestSnapshot | undefined
  let durable: number | undefined
  const segments: ManifestSegment[] = []
  const num = (i: number, v: string | undefined): number => {
    if (v === undefined || !UINT.test(v) || !Number.isSafeInteger(Number(v))) fail(i, `expected a non-negative integer, got ${v}`)
    return Number(v)
  }
  const name = (i: number, v: string | undefined): string => {
    if (v === undefined || !NAME.test(v) || v === '.' || v === '..') fail(i, `invalid file name ${v}`)
    return v!
  }
  for (let i = 1; i < last; i++) {
    const f = lines[i]!.split(' ')
    switch (f[0]) {
      case 'snapshot': {
        if (snapshot !== undefined) fail(i, 'more than one snapshot line')
        if (segments.length > 0) fail(i, 'the snapshot line must come before the segments')
        if (f.length !== 8 || f[2] !== 'seq' || f[4] !== 'count' || f[6] !== 'crc32c' || !HEX8.test(f[7] ?? '')) {
          fail(i, 'expected `snapshot <file> seq <n> count <n> crc32c <hex>`')
        }
        snapshot = { file: name(i, f[1]), seq: num(i, f[3]), count: num(i, f[5]), crc: parseInt(f[7]!, 16) }
        break
      }
      case 'segment': {
        if (f.length !== 8 || f[2] !== 'seq' || f[4] !== 'first_lsn' || f[6] !== 'uid' || !HEX16.test(f[7] ?? '')) {
          fail(i, 'expected `segment <file> seq <n> first_lsn <n> uid <16 hex>`')
        }
        const seg = { file: name(i, f[1]), segmentSeq: num(i, f[3]), firstLsn: num(i, f[5]), uid: f[7]! }
        const prev = segments[segments.length - 1]
        if (prev !== undefined && seg.segmentSeq <= prev.segmentSeq) fail(i, 'segment seq does not increase')
        // Equal is allowed: a segment may hold no record (a checkpoint cut right after another,
        // or at start), and the next one then starts at the same lsn.
        if (prev !== undefined && seg.firstLsn < prev.firstLsn) fail(i, 'segment first_lsn decreases')
        if (seg.firstLsn < 1) fail(i, 'first_lsn must be at least 1')
        if (durable !== undefined) fail(i, 'the durable line must come after the segments')
        segments.push(seg)
        break
      }
      case 'durable': {
        if (durable !== undefined) fail(i, 'more than one durable line')
        if (f.length !== 2) fail(i, 'expected `durable <seq>`')
        durable = num(i, f[1])
        break
      }
      default:
        fail(i, lines[i] === '' ? 'blank line' : `unknown key ${JSON.stringify(f[0])}`)
    }
  }
  if (segments.length === 0) fail(last, 'no segment listed')
  const files = new Set<string>()
  for (const f of [snapshot?.file, ...segments.map((s) => s.file)]) {
    if (f === undefined) continue
    if (files.has(f)) fail(0, `file ${f} is listed twice`)
    files.add(f)
  }
  return durable === undefined ? { snapshot, segments } : { snapshot, segments, durable }
}

// ---------------------------------------------------------------------------------------------
// I/O
// ---------------------------------------------------------------------------------------------

/** Atomically replaces the manifest in `dir`. */
export const writeManifest = (fsys: FileSystem, dir: string, m: Manifest): Promise<void> =>
  writeFileAtomic(fsys, dir, MANIFEST_NAME, Buffer.from(encodeManifest(m), 'utf8'))

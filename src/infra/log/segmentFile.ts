/**
 * Creating a segment file safely (DURABILITY.md §8.2): the header is written to `<name>.tmp`,
 * fdatasynced, the file renamed into place and the directory fsynced — so a segment name never
 * exists with a partial header, and a segment listed in a manifest is always durable on disk.
 *
 * @category infra
 */
import { writeFileAtomic, type FileSystem } from './fileSystem.js'
import { encodeSegmentHeader, uidHex, type SegmentHeader } from './format.js'
import { segmentFileName, type ManifestSegment } from './manifest.js'

export interface CreatedSegment {
  readonly name: string
  readonly header: SegmentHeader
  /** The segment's manifest line. */
  readonly entry: ManifestSegment
}

/** The manifest line describing a segment with this header. */
export const manifestEntry = (name: string, header: SegmentHeader): ManifestSegment => ({
  file: name,
  segmentSeq: header.segmentSeq,
  firstLsn: header.firstLsn,
  uid: uidHex(header),
})

/** Creates `dir/log-<segmentSeq>.aof`, holding only its header, durably. */
export const createSegment = async (
  fsys: FileSystem,
  dir: string,
  header: SegmentHeader,
): Promise<CreatedSegment> => {
  const name = segmentFileName(header.segmentSeq)
  await writeFileAtomic(fsys, dir, name, encodeSegmentHeader(header))
  return { name, header, entry: manifestEntry(name, header) }
}

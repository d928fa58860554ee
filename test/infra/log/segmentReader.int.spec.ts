/**
 * The segment scanner on real files: reading in small chunks (frames straddling chunk boundaries,
 * frames larger than a chunk) delivers exactly the frames written; the stop point and its
 * classification (clean, torn, corrupt) are reported precisely.
 */
import * as fs from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as E from '../../../src/domain/event.js'
import type { LogRecord } from '../../../src/app/eventLog.js'
import { decodeEvents } from '../../../src/infra/log/eventCodec.js'
import { nodeFileSystem, type FileSystem } from '../../../src/infra/log/fileSystem.js'
import { scanSegment, SegmentHeaderError } from '../../../src/infra/log/segmentReader.js'
import { ALL_BYTES, cleanup, EPOCH, frameEnds, onlySegment, tempDir, toRecords, writeRecords } from '../support/logFixtures.js'

let dir: string
beforeEach(() => {
  dir = tempDir('redust-scan-')
})
afterEach(() => cleanup(dir))

const records = (): LogRecord[] =>
  toRecords(
    Array.from({ length: 60 }, (_, i) =>
      i % 10 === 9
        ? [E.valueSet(0, `big${i}`, ALL_BYTES.repeat(40), null)] // ~10 KiB: larger than small chunks
        : [E.valueSet(i % 16, `k${i}`, ALL_BYTES.slice(0, i * 3), i % 2 ? EPOCH + i : null), E.expiryRemoved(0, 'x')].slice(0, 1 + (i % 2)),
    ),
  )

describe('scanSegment', () => {
  it.each([33, 100, 4096, 1 << 20])('delivers exactly the frames written when reading in %i-byte chunks', async (chunkBytes) => {
    const written = records()
    await writeRecords(dir, written, 4)
    const seen: LogRecord[] = []
    const scan = await scanSegment(nodeFileSystem, onlySegment(dir), {
      chunkBytes,
      onFrame: (f) => void seen.push({ seq: f.lsn, at: f.at, events: decodeEvents(f.buf, f.payloadStart, f.payloadEnd, f.count) }),
    })
    expect(seen).toEqual(written)
    expect(scan).toMatchObject({ records: 60, lastLsn: 60, tail: 'clean', tailBytes: 0, stop: { reason: 'eof' } })
    expect(scan.end).toBe(scan.size)
  })

  it('stops when asked and reports where', async () => {
    await writeRecords(dir, records())
    const ends = frameEnds(onlySegment(dir))
    const scan = await scanSegment(nodeFileSystem, onlySegment(dir), { onFrame: (f) => f.lsn < 5 })
    expect(scan).toMatchObject({ records: 5, lastLsn: 5, end: ends[4], stop: { reason: 'stopped' } })
  })

  it('classifies a cut inside a frame as a torn tail, with the offset and seq of the cut frame', async () => {
    await writeRecords(dir, records())
    const seg = onlySegment(dir)
    const ends = frameEnds(seg)
    fs.truncateSync(seg, ends[ends.length - 1]! - 3)
    const scan = await scanSegment(nodeFileSystem, seg)
    expect(scan).toMatchObject({ records: 59, tail: 'torn', end: ends[58], stop: { reason: 'incomplete', lsn: 60, offset: ends[58] } })
  })

  it('classifies a bad frame followed by valid ones as corrupt and points at the next valid frame', async () => {
    await writeRecords(dir, records())
    const seg = onlySegment(dir)
    const ends = frameEnds(seg)
    const bytes = fs.readFileSync(seg)
    bytes[ends[20]! + 12]! ^= 4 // the lsn field of record 22
    fs.writeFileSync(seg, bytes)
    const scan = await scanSegment(nodeFileSystem, seg)
    expect(scan).toMatchObject({ records: 21, tail: 'corrupt', stop: { reason: 'checksum', lsn: 22, offset: ends[20] } })
    expect(scan.resync).toEqual({ offset: ends[21], lsn: 23 })
  })

  it('never allocates for an absurd frame length: a huge len is a bad or incomplete frame', async () => {
    await writeRecords(dir, records().slice(0, 3))
    const seg = onlySegment(dir)
    fs.appendFileSync(seg, Buffer.from([0xff, 0xff, 0xff, 0x7f, ...new Array<number>(40).fill(1)]))
    const scan = await scanSegment(nodeFileSystem, seg)
    expect(scan).toMatchObject({ records: 3, tail: 'torn', stop: { reason: 'bad-length' } })
  })

  it('refuses a file that is not a segment', async () => {
    fs.writeFileSync(`${dir}/x.aof`, 'hello, this is not a segment header at all; it is long enough though')
    await expect(scanSegment(nodeFileSystem, `${dir}/x.aof`)).rejects.toBeInstanceOf(SegmentHeaderError)
  })
})

describe('zeros after the records (the writer preallocates them)', () => {
  const withZeros = async (zeros: number): Promise<{ file: string; end: number }> => {
    await writeRecords(dir, records(), 1, { crashed: true, preallocateBytes: 0 })
    const file = onlySegment(dir)
    const end = frameEnds(file).at(-1)!
    fs.appendFileSync(file, Buffer.alloc(zeros))
    return { file, end }
  }

  it('a zero tail of any size is torn, not counted against the tolerance', async () => {
    const { file, end } = await withZeros(3 * 1024 * 1024)
    const scan = await scanSegment(nodeFileSystem, file, { tailTolerance: 1024 })
    expect(scan).toMatchObject({ end, tail: 'torn', tailBytes: 3 * 1024 * 1024 })
  })

  it('an interrupted append inside the zeros is torn when its bytes are within the tolerance', async () => {
    const { file, end } = await withZeros(256 * 1024)
    const fd = fs.openSync(file, 'r+')
    fs.writeSync(fd, Buffer.from('partial frame bytes'), 0, 19, end) // a frame cut short, then zeros
    fs.closeSync(fd)
    expect(await scanSegment(nodeFileSystem, file, { tailTolerance: 1024 })).toMatchObject({ end, tail: 'torn' })
    expect((await scanSegment(nodeFileSystem, file, { tailTolerance: 16 })).tail).toBe('corrupt')
  })

  // The scanner reads the next chunk while it works on the current one (ReadAhead).
  it('reads ahead without losing a read error, and never closes the file under a read in flight', async () => {
    await writeRecords(dir, records())
    const seg = onlySegment(dir)
    let reads = 0
    let inFlight = 0
    let inFlightAtClose = -1
    const failingRead = (nth: number): FileSystem => ({
      ...nodeFileSystem,
      read: async (fd, buffer, offset, length, position) => {
        const n = ++reads
        inFlight++
        try {
          await new Promise((resolve) => setTimeout(resolve, 1)) // a read that takes a while
          if (n === nth) throw Object.assign(new Error(`EIO: i/o error, read #${n}`), { code: 'EIO' })
          return await nodeFileSystem.read(fd, buffer, offset, length, position)
        } finally {
          inFlight--
        }
      },
      close: async (fd) => {
        inFlightAtClose = inFlight
        return nodeFileSystem.close(fd)
      },
    })
    // Read 1 is the segment header, 2 the first chunk, 3 the second (started once the first is
    // taken), 4 the third: a failed read the scan needs fails the scan.
    await expect(scanSegment(failingRead(4), seg, { chunkBytes: 512 })).rejects.toThrow(/EIO: i\/o error, read #4/)
    expect(inFlightAtClose).toBe(0)
    // A scan that stops in the first chunk never needs read 3: its failure goes unseen, and the
    // file is closed only once it has settled.
    reads = 0
    const stopped = await scanSegment(failingRead(3), seg, { chunkBytes: 512, onFrame: () => false })
    expect(stopped).toMatchObject({ records: 1, stop: { reason: 'stopped' } })
    expect(reads).toBe(3)
    expect(inFlightAtClose).toBe(0)
    // The same while the scan goes on to classify a damaged tail with reads of its own: read 3
    // fails while nothing awaits it, and that must not surface as an unhandled rejection.
    const ends = frameEnds(seg)
    const bytes = fs.readFileSync(seg)
    bytes[ends[1]! - 1]! ^= 0xff // the last byte of frame 2, inside the first chunk
    fs.writeFileSync(seg, bytes)
    reads = 0
    const damaged = await scanSegment(failingRead(3), seg, { chunkBytes: 512 })
    expect(damaged).toMatchObject({ records: 1, end: ends[0], stop: { reason: 'checksum' }, tail: 'corrupt' })
    expect(reads).toBeGreaterThan(3)
    expect(inFlightAtClose).toBe(0)
  })

  it('after a short read (the file cut, then back) the scan reads on from where the bytes ended', async () => {
    const written = records()
    await writeRecords(dir, written)
    const seg = onlySegment(dir)
    const bytes = fs.readFileSync(seg)
    let reads = 0
    const cutThenBack: FileSystem = {
      ...nodeFileSystem,
      read: async (fd, buffer, offset, length, position) => {
        const n = ++reads
        if (n === 3) fs.truncateSync(seg, position + 10) // this chunk's read comes back 10 bytes short…
        const got = await nodeFileSystem.read(fd, buffer, offset, length, position)
        if (n === 4) fs.writeFileSync(seg, bytes) // …and then the file is whole again
        return got
      },
    }
    const seen: number[] = []
    const scan = await scanSegment(cutThenBack, seg, { chunkBytes: 512, onFrame: (f) => void seen.push(f.lsn) })
    expect(reads).toBeGreaterThan(4)
    expect(seen).toEqual(written.map((r) => r.seq))
    expect(scan).toMatchObject({ tail: 'clean', end: bytes.length })
  })

  it('a live writer cutting its zeros while the scan reads (rotation, close) ends the scan cleanly at the new end', async () => {
    const { file, end } = await withZeros(64 * 1024)
    let cut = false
    const cutting = {
      ...nodeFileSystem,
      read: async (fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> => {
        if (!cut && position > 64) {
          cut = true
          fs.truncateSync(file, end)
        }
        return nodeFileSystem.read(fd, buffer, offset, length, position)
      },
    }
    const seen: number[] = []
    const scan = await scanSegment(cutting, file, { chunkBytes: 256, onFrame: (f) => void seen.push(f.lsn) })
    expect(cut).toBe(true)
    expect(scan).toMatchObject({ end, tail: 'clean', size: end })
    expect(seen).toEqual(records().map((r) => r.seq))
  })
})

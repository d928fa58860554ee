/**
 * The MANIFEST text format: round trip, and a strict parser that refuses every malformed variant
 * of Redis's `aof-multi-part.tcl` matrix (blank lines, unknown keys, odd parameters, duplicated or
 * misordered entries, a bad checksum) with the line it stopped at.
 */
import { describe, expect, it } from 'vitest'
import { crc32cOfText, crcHex } from '../../../src/infra/log/crc32c.js'
import { encodeManifest, ManifestError, parseManifest, type Manifest } from '../../../src/infra/log/manifest.js'

const sample: Manifest = {
  snapshot: { file: 'snap-000000000042-00000003.jsonl', seq: 42, count: 1000, crc: 0x1a2b3c4d },
  segments: [
    { file: 'log-00000003.aof', segmentSeq: 3, firstLsn: 43, uid: '0f1e2d3c4b5a6978' },
    { file: 'log-00000004.aof', segmentSeq: 4, firstLsn: 97, uid: '8877665544332211' },
  ],
}

/** Re-signs a hand-edited body so only the edit is under test, not the checksum. */
const signed = (body: string): string => `${body}crc32c ${crcHex(crc32cOfText(body))}\n`
const bodyOf = (m: Manifest): string => encodeManifest(m).replace(/crc32c [0-9a-f]{8}\n$/, '')

describe('manifest', () => {
  it('round-trips, with and without a snapshot', () => {
    expect(parseManifest(encodeManifest(sample))).toEqual(sample)
    const bare: Manifest = { snapshot: undefined, segments: [sample.segments[0]!] }
    expect(parseManifest(encodeManifest(bare))).toEqual(bare)
  })

  it('round-trips the durable line, written only when positive', () => {
    expect(parseManifest(encodeManifest({ ...sample, durable: 120 }))).toEqual({ ...sample, durable: 120 })
    expect(encodeManifest({ ...sample, durable: 0 })).toBe(encodeManifest(sample))
  })

  it('is the documented text', () => {
    expect(bodyOf(sample)).toBe(
      'redust-manifest 1\n' +
        'snapshot snap-000000000042-00000003.jsonl seq 42 count 1000 crc32c 1a2b3c4d\n' +
        'segment log-00000003.aof seq 3 first_lsn 43 uid 0f1e2d3c4b5a6978\n' +
        'segment log-00000004.aof seq 4 first_lsn 97 uid 8877665544332211\n',
    )
  })

  const body = bodyOf(sample)
  it.each([
    ['a bad checksum', encodeManifest(sample).replace('seq 42', 'seq 43'), /checksum mismatch/],
    ['no final newline', encodeManifest(sample).slice(0, -1), /newline/],
    ['a blank line', signed(body.replace('\nsegment', '\n\nsegment')), /blank line/],
    ['an unknown key', signed(body.replace('segment log-00000004', 'incr log-00000004')), /unknown key "incr"/],
    ['a missing parameter', signed(body.replace(' uid 8877665544332211', '')), /expected `segment/],
    ['an extra parameter', signed(body.replace('count 1000', 'count 1000 extra')), /expected `snapshot/],
    ['a non-numeric seq', signed(body.replace('seq 3 ', 'seq x ')), /non-negative integer/],
    ['a path in a file name', signed(body.replace('log-00000003.aof', '../log-00000003.aof')), /invalid file name/],
    ['two snapshots', signed(body.replace('segment log-00000003', `${body.split('\n')[1]}\nsegment log-00000003`)), /more than one snapshot/],
    ['segments out of order', signed(body.replace('seq 4 first_lsn 97', 'seq 2 first_lsn 97')), /does not increase/],
    ['no segment', signed('redust-manifest 1\n'), /no segment/],
    ['a newer version', signed(body.replace('redust-manifest 1', 'redust-manifest 2')), /unsupported manifest version/],
    ['an empty file', '', /empty|newline/],
    ['two durable lines', signed(`${body}durable 1\ndurable 2\n`), /more than one durable line/],
    ['a durable line before a segment', signed(body.replace('segment log-00000004', 'durable 5\nsegment log-00000004')), /after the segments/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseManifest(text)).toThrow(ManifestError)
    expect(() => parseManifest(text)).toThrow(message)
  })

  it('accepts a segment starting at the same seq as an empty one before it, but not an earlier one', () => {
    const m: Manifest = { snapshot: undefined, segments: [sample.segments[0]!, { ...sample.segments[1]!, firstLsn: 43 }] }
    expect(parseManifest(encodeManifest(m))).toEqual(m)
    expect(() => parseManifest(encodeManifest({ snapshot: undefined, segments: [sample.segments[0]!, { ...sample.segments[1]!, firstLsn: 42 }] }))).toThrow(
      /first_lsn decreases/,
    )
  })

  it('reports the line and byte offset it refused', () => {
    const text = signed(body.replace('segment log-00000004', 'bogus log-00000004'))
    try {
      parseManifest(text)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ManifestError)
      expect((err as ManifestError).line).toBe(4)
      expect((err as ManifestError).offset).toBe(text.indexOf('bogus'))
    }
  })
})

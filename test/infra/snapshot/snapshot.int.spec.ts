/**
 * JSON-lines snapshots on real files: any state round-trips (all 256 byte values, deadlines,
 * every database); the file is plain JSON per line (what `jq` reads); every damage is detected;
 * writing yields to the event loop between slices.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fold } from '../../../src/domain/evolve.js'
import * as Keyspace from '../../../src/domain/keyspace.js'
import type { State } from '../../../src/domain/keyspace.js'
import { nodeFileSystem } from '../../../src/infra/log/fileSystem.js'
import { loadSnapshot, SnapshotError, writeSnapshot } from '../../../src/infra/snapshot/snapshot.js'
import { assertAsyncProperty } from '../../support/fc.js'
import { ALL_BYTES, bytesArb, cleanup, EPOCH, eventArb, tempDir, timeArb } from '../support/logFixtures.js'

let dir: string
beforeEach(() => {
  dir = tempDir('redust-snap-')
})
afterEach(() => cleanup(dir))

const bigState = (n: number): State =>
  Keyspace.update(Keyspace.emptyState, (w) => {
    for (let i = 0; i < n; i++) {
      w.put(i % 16, `key:${i}\xff`, `value ${i} ${ALL_BYTES.slice(i % 200, (i % 200) + 20)}`, i % 3 === 0 ? EPOCH + i : null)
    }
  })

const write = (state: State, seq = 7, file = 'snap.jsonl', sliceEntries?: number) =>
  writeSnapshot(nodeFileSystem, dir, state, { seq, at: EPOCH, file, ...(sliceEntries === undefined ? {} : { sliceEntries }) })

describe('snapshots', () => {
  it('round-trip any state built from events, through every chunk size', async () => {
    let n = 0
    await assertAsyncProperty(
      'snapshot round trip',
      fc.asyncProperty(fc.array(eventArb, { maxLength: 60 }), fc.integer({ min: 1, max: 4096 }), async (events, chunk) => {
        const state = fold(Keyspace.emptyState, events)
        const file = `s${n++}.jsonl`
        const info = await write(state, 42, file, 1 + (chunk % 7))
        const loaded = await loadSnapshot(nodeFileSystem, path.join(dir, file), { chunkBytes: chunk })
        expect(loaded).toMatchObject({ seq: 42, at: EPOCH, count: info.count, crc: info.crc, bytes: info.bytes })
        expect(Keyspace.equals(loaded.state, state)).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it('is one JSON object per line: a header, one line per key with every byte value intact, a trailer', async () => {
    const state = Keyspace.put(Keyspace.put(Keyspace.emptyState, 0, ALL_BYTES, ALL_BYTES, EPOCH + 5), 9, '', '', null)
    await write(state)
    const lines = fs.readFileSync(path.join(dir, 'snap.jsonl'), 'utf8').split('\n')
    expect(lines.pop()).toBe('')
    const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(objects[0]).toEqual({ format: 'redust-snapshot', version: 1, seq: 7, at: EPOCH })
    expect(objects.slice(1, -1)).toEqual(
      expect.arrayContaining([
        { db: 0, key: ALL_BYTES, value: ALL_BYTES, expireAt: EPOCH + 5 },
        { db: 9, key: '', value: '', expireAt: null },
      ]),
    )
    expect(objects[objects.length - 1]).toMatchObject({ count: 2, crc32c: expect.stringMatching(/^[0-9a-f]{8}$/) })
  })

  it('writes each entry byte-identical to JSON.stringify, for any byte strings', async () => {
    let n = 0
    await assertAsyncProperty(
      'snapshot lines = JSON.stringify',
      fc.asyncProperty(bytesArb(40), bytesArb(40), fc.option(timeArb, { nil: null }), fc.integer({ min: 0, max: 15 }), async (key, value, expireAt, db) => {
        const file = `j${n++}.jsonl`
        await write(Keyspace.put(Keyspace.emptyState, db, key, value, expireAt), 1, file)
        const lines = fs.readFileSync(path.join(dir, file)).toString('utf8').split('\n')
        expect(lines[1]).toBe(JSON.stringify({ db, key, value, expireAt }))
      }),
      { numRuns: 300 },
    )
  })

  it('loads lines in any JSON layout (reformatted by a tool) through the general parser', async () => {
    const { crc32cOfText, crcHex } = await import('../../../src/infra/log/crc32c.js')
    const body =
      JSON.stringify({ format: 'redust-snapshot', version: 1, seq: 3, at: EPOCH }) +
      '\n' +
      '{ "value": "v\\u00ff", "key": "k", "db": 2, "expireAt": 12 }\n' +
      '{"db":0,"key":"\\u0000\\n\\"\\\\","value":"\u00e9","expireAt":-5}\n'
    fs.writeFileSync(path.join(dir, 'edited.jsonl'), body + JSON.stringify({ count: 2, crc32c: crcHex(crc32cOfText(body)) }) + '\n')
    const loaded = await loadSnapshot(nodeFileSystem, path.join(dir, 'edited.jsonl'))
    expect(Keyspace.getEntry(loaded.state, 2, 'k')).toEqual({ value: 'v\xff', expireAt: 12 })
    expect(Keyspace.getEntry(loaded.state, 0, '\x00\n"\\')).toEqual({ value: '\xe9', expireAt: -5 })
  })

  it('loads many keys across chunk boundaries and databases', async () => {
    const state = bigState(20_000)
    await write(state)
    const loaded = await loadSnapshot(nodeFileSystem, path.join(dir, 'snap.jsonl'), { chunkBytes: 4096 })
    expect(loaded.count).toBe(20_000)
    expect(Keyspace.equals(loaded.state, state)).toBe(true)
  })

  it('yields to the event loop between slices while writing', async () => {
    const state = bigState(20_000)
    let done = false
    let turnsDuring = 0
    const spin = (): void => {
      if (done) return
      turnsDuring++
      setImmediate(spin)
    }
    setImmediate(spin)
    await write(state, 7, 'snap.jsonl', 500) // 40 slices
    done = true
    expect(turnsDuring).toBeGreaterThanOrEqual(40)
  })

  it('detects 1500 bit flips spread over the whole file, reporting the file and a byte offset', async () => {
    const state = bigState(40)
    await write(state)
    const file = path.join(dir, 'snap.jsonl')
    const bytes = fs.readFileSync(file)
    const target = path.join(dir, 'damaged.jsonl')
    const bits = bytes.length * 8
    for (let i = 0; i < 1500; i++) {
      const bit = Math.floor((i * bits) / 1500) + (i % 8)
      const damaged = Buffer.from(bytes)
      damaged[bit >> 3]! ^= 1 << (bit & 7)
      fs.writeFileSync(target, damaged)
      const err = await loadSnapshot(nodeFileSystem, target).catch((e: unknown) => e)
      expect(err, `bit ${bit}`).toBeInstanceOf(SnapshotError)
      expect((err as SnapshotError).file).toBe('damaged.jsonl')
      expect((err as SnapshotError).offset).toBeGreaterThanOrEqual(0)
    }
  })

  it('refuses a snapshot cut at any byte', async () => {
    await write(bigState(5))
    const bytes = fs.readFileSync(path.join(dir, 'snap.jsonl'))
    const target = path.join(dir, 'cut.jsonl')
    for (let cut = 0; cut < bytes.length; cut++) {
      fs.writeFileSync(target, bytes.subarray(0, cut))
      await expect(loadSnapshot(nodeFileSystem, target), `cut ${cut}`).rejects.toBeInstanceOf(SnapshotError)
    }
  })

  it('refuses a duplicated key line even when the trailer is recomputed to match', async () => {
    await write(bigState(3))
    const text = fs.readFileSync(path.join(dir, 'snap.jsonl'), 'utf8').split('\n')
    const body = [text[0], text[1], text[1], text[2], text[3]].join('\n') + '\n'
    const { crc32cOfText, crcHex } = await import('../../../src/infra/log/crc32c.js')
    const forged = body + JSON.stringify({ count: 4, crc32c: crcHex(crc32cOfText(body)) }) + '\n'
    fs.writeFileSync(path.join(dir, 'dup.jsonl'), forged)
    await expect(loadSnapshot(nodeFileSystem, path.join(dir, 'dup.jsonl'))).rejects.toThrow(/duplicated keys/)
  })

  // Each bad line is in the writer's canonical shape, so the byte-level reader and the field
  // checks see it first (a line of another shape goes to JSON.parse and the io-ts codec).
  it.each([
    ['a database out of range and a key that is not a byte string', '{"db":16,"key":"\\u0100","value":"v","expireAt":null}'],
    ['a database out of range', '{"db":16,"key":"k","value":"v","expireAt":null}'],
    ['a key that is not a byte string', '{"db":0,"key":"\\u0100","value":"v","expireAt":null}'],
    ['a value that is not a byte string', '{"db":0,"key":"k","value":"a\\u20acb","expireAt":null}'],
    ['a deadline beyond 2^53', '{"db":0,"key":"k","value":"v","expireAt":9007199254740993}'],
    ['a deadline of 17 digits', '{"db":0,"key":"k","value":"v","expireAt":12345678901234567}'],
    ['a fractional deadline', '{"db":0,"key":"k","value":"v","expireAt":1.5}'],
  ])('refuses an entry with %s, naming the line', async (_what, line) => {
    const { crc32cOfText, crcHex } = await import('../../../src/infra/log/crc32c.js')
    const body =
      JSON.stringify({ format: 'redust-snapshot', version: 1, seq: 1, at: EPOCH }) +
      '\n' +
      JSON.stringify({ db: 0, key: 'ok', value: 'v', expireAt: null }) +
      '\n' +
      line +
      '\n'
    fs.writeFileSync(path.join(dir, 'bad.jsonl'), body + JSON.stringify({ count: 2, crc32c: crcHex(crc32cOfText(body)) }) + '\n')
    const err = (await loadSnapshot(nodeFileSystem, path.join(dir, 'bad.jsonl')).catch((e: unknown) => e)) as SnapshotError
    expect(err).toBeInstanceOf(SnapshotError)
    expect(err.line).toBe(3)
    expect(err.message).toMatch(/invalid entry/)
  })

  it('loads canonical entries with escaped bytes and the extreme safe deadlines', async () => {
    const { crc32cOfText, crcHex } = await import('../../../src/infra/log/crc32c.js')
    const entries = [
      { db: 15, key: 'caf\u00e9\n\u0000', value: '\u00ff"\\', expireAt: Number.MAX_SAFE_INTEGER },
      { db: 0, key: 'k', value: '', expireAt: Number.MIN_SAFE_INTEGER },
    ]
    const body = JSON.stringify({ format: 'redust-snapshot', version: 1, seq: 1, at: EPOCH }) + '\n' + entries.map((e) => JSON.stringify(e) + '\n').join('')
    fs.writeFileSync(path.join(dir, 'ok.jsonl'), body + JSON.stringify({ count: 2, crc32c: crcHex(crc32cOfText(body)) }) + '\n')
    const loaded = await loadSnapshot(nodeFileSystem, path.join(dir, 'ok.jsonl'))
    for (const e of entries) {
      expect(Keyspace.getValue(loaded.state, e.db, e.key)).toBe(e.value)
      expect(Keyspace.getExpireAt(loaded.state, e.db, e.key)).toBe(e.expireAt)
    }
  })

  it('leaves no temp file behind when writing fails', async () => {
    const { FaultyFileSystem } = await import('../../../src/infra/log/faultyFileSystem.js')
    const faulty = new FaultyFileSystem(nodeFileSystem).fail({ op: 'write', nth: 3, code: 'ENOSPC' })
    await expect(writeSnapshot(faulty, dir, bigState(100), { seq: 1, at: EPOCH, file: 'x.jsonl', sliceEntries: 10 })).rejects.toThrow(/ENOSPC/)
    expect(fs.readdirSync(dir)).toEqual([])
  })
})

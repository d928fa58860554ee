/**
 * End-to-end tests of the inspection CLI (`redust log show|stats|verify`, `replay`, `history`,
 * `diff`, `dump`): the real binary runs as a child process (a private build of src/, see
 * ./cliHarness.ts) against data directories written by the real engine and AofLog — intact, with
 * a torn tail, with a corrupted frame in the middle, with a checkpoint — and the tests check exact
 * output and exit codes (0 ok, 1 damaged, 2 usage).
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recover } from '../../src/app/recovery.js'
import { nodeFileSystem } from '../../src/infra/log/fileSystem.js'
import { scanSegment } from '../../src/infra/log/segmentReader.js'
import { readManifest } from '../../src/infra/log/logReader.js'
import { writeManifest } from '../../src/infra/log/manifest.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import {
  buildCli,
  copyDir,
  DirServer,
  eventually,
  FIXTURE_COMMANDS,
  fixtureDir,
  runCli,
  startCli,
  StepClock,
  T0,
  tempDir,
  type CliResult,
} from './cliHarness.js'

let bin = ''
let dir = '' // the intact fixture: 18 records
const made: string[] = []
const track = (d: string): string => {
  made.push(d)
  return d
}

beforeAll(async () => {
  bin = buildCli()
  dir = track(await fixtureDir())
}, 240_000)

afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true })
})

const cli = (...args: string[]): Promise<CliResult> => runCli(bin, args)

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '')

/** No stack trace, ever: only `redust: …` lines (and notes) on stderr. */
const noStack = (r: CliResult): void => {
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(r.stderr).not.toMatch(/internal error/)
}

const SHOW = [
  '      1 2026-11-25T14:02:00.000Z db0  ValueSet            "user:1" = "alice"',
  '      2 2026-11-25T14:02:00.250Z db0  ValueSet            "session:9" = "tok\\x00\\xff\\"x" expires 2026-11-25T14:03:00.250Z',
  '      3 2026-11-25T14:02:00.500Z db0  ValueSet            "counter" = "1"',
  '      4 2026-11-25T14:02:00.750Z db0  ValueSet            "counter" = "2"',
  '      5 2026-11-25T14:02:01.000Z db0  ValueAppended       "user:1" += "!"',
  '      6 2026-11-25T14:02:02.000Z db0  ValueSet            "a" = "1"',
  '      6 2026-11-25T14:02:02.000Z db0  ValueSet            "b" = "2"',
  '      7 2026-11-25T14:02:02.250Z db0  KeyRenamed          "a" -> "c"',
  '      8 2026-11-25T14:02:02.500Z db0  KeysDeleted         "b" "c"',
  '      9 2026-11-25T14:02:02.750Z db0  RangeOverwritten    "user:1" [1] = "L"',
  '     10 2026-11-25T14:02:03.000Z db0  ExpirySet           "user:1" expires 2026-11-25T14:03:43.000Z',
  '     11 2026-11-25T14:02:03.250Z db0  ExpiryRemoved       "user:1" persists',
  `     12 2026-11-25T14:02:03.500Z db0  ValueSet            "big" = "${'x'.repeat(64)}"...(200 bytes)`,
  '     13 2026-11-25T14:02:03.750Z db0  KeyMoved            "big" -> db3',
  '     14 2026-11-25T14:02:04.000Z db0  KeyCopied           "counter" -> db2 "counter2"',
  '     15 2026-11-25T14:02:04.250Z db0  DatabasesSwapped    db0 <-> db1',
  '     16 2026-11-25T14:02:04.500Z db0  DatabasesSwapped    db0 <-> db1',
  '     17 2026-11-25T14:02:04.750Z db0  DatabaseFlushed',
  '     18 2026-11-25T14:02:05.000Z db0  ValueSet            "user:1" = "bob"',
]

// ---------------------------------------------------------------------------------------------
// log show
// ---------------------------------------------------------------------------------------------

describe('redust log show', () => {
  it('prints one line per event: seq, time, db, type, escaped key and value, deadline', async () => {
    const r = await cli('log', 'show', '--dir', dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(SHOW.join('\n') + '\n')
    expect(r.stderr).toBe('')
  })

  it('filters by db, key, glob, type, seq range and time range', async () => {
    const pick = (...seqs: number[]): string => SHOW.filter((l) => seqs.includes(Number(l.slice(0, 7)))).join('\n') + '\n'
    expect((await cli('log', 'show', '--dir', dir, '--key', 'counter')).stdout).toBe(pick(3, 4, 14))
    expect((await cli('log', 'show', '--dir', dir, '--match', 'user:*')).stdout).toBe(pick(1, 5, 9, 10, 11, 18))
    expect((await cli('log', 'show', '--dir', dir, '--db', '3')).stdout).toBe(pick(13))
    expect((await cli('log', 'show', '--dir', dir, '--db', '2', '--key', 'counter2')).stdout).toBe(pick(14))
    expect((await cli('log', 'show', '--dir', dir, '--type', 'KeyRenamed,keysdeleted', '--type', 'DatabaseFlushed')).stdout).toBe(pick(7, 8, 17))
    expect((await cli('log', 'show', '--dir', dir, '--from-seq', '16', '--to-seq', '17')).stdout).toBe(pick(16, 17))
    const since = new Date(T0 + 4500).toISOString()
    expect((await cli('log', 'show', '--dir', dir, '--since', since)).stdout).toBe(pick(16, 17, 18))
    expect((await cli('log', 'show', '--dir', dir, '--until', String(T0 + 250))).stdout).toBe(pick(1, 2))
    // One event of the transaction (seq 6) matches, the other does not.
    expect((await cli('log', 'show', '--dir', dir, '--key', 'b', '--to-seq', '6')).stdout).toBe(SHOW[6] + '\n')
  })

  it('--max-value cuts values (0: never)', async () => {
    const r = await cli('log', 'show', '--dir', dir, '--from-seq', '12', '--to-seq', '12', '--max-value', '3')
    expect(r.stdout).toBe('     12 2026-11-25T14:02:03.500Z db0  ValueSet            "big" = "xxx"...(200 bytes)\n')
    const whole = await cli('log', 'show', '--dir', dir, '--from-seq', '12', '--to-seq', '12', '--max-value', '0')
    expect(whole.stdout).toContain(`"${'x'.repeat(200)}"\n`)
  })

  it('--json writes NDJSON: the event as in the catalogue plus seq, at, time and index', async () => {
    const r = await cli('log', 'show', '--dir', dir, '--json')
    expect(r.code).toBe(0)
    const objs = lines(r.stdout).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(objs).toHaveLength(19)
    expect(objs[1]).toEqual({
      seq: 2,
      at: T0 + 250,
      time: '2026-11-25T14:02:00.250Z',
      index: 0,
      type: 'ValueSet',
      db: 0,
      key: 'session:9',
      value: 'tok\x00\xff"x',
      expireAt: T0 + 250 + 60_000,
    })
    expect(objs[6]).toMatchObject({ seq: 6, index: 1, type: 'ValueSet', key: 'b' })
    expect(objs[8]).toMatchObject({ seq: 8, type: 'KeysDeleted', keys: ['b', 'c'] })
    expect(objs[12]).toMatchObject({ seq: 12, value: 'x'.repeat(200) }) // never cut in JSON
  })

  it('--follow tails a live server, across a checkpoint, until interrupted', async () => {
    const live = track(tempDir())
    const server = await DirServer.open(live)
    await server.run('SET', 'k', '1')
    const f = startCli(bin, ['log', 'show', '--follow', '--interval', '20', '--dir', live, '--key', 'k'])
    try {
      await eventually(() => f.out().includes('"k" = "1"'), () => f.out() + f.err())
      await server.run('SET', 'other', 'x')
      await server.run('SET', 'k', '2')
      await eventually(() => f.out().includes('"k" = "2"'), () => f.out() + f.err())
      await server.checkpoint() // new segment; the old one is deleted
      await server.run('SET', 'k', '3')
      await server.run('DEL', 'k')
      await eventually(() => f.out().includes('KeysDeleted'), () => f.out() + f.err())
    } finally {
      f.child.kill('SIGINT')
      await new Promise((r) => f.child.once('exit', r))
      await server.close()
    }
    expect(lines(f.out()).map((l) => l.slice(0, 7).trim() + ' ' + l.slice(38).trim())).toEqual([
      '1 ValueSet            "k" = "1"',
      '3 ValueSet            "k" = "2"',
      '4 ValueSet            "k" = "3"',
      '5 KeysDeleted         "k"',
    ])
    expect(f.err()).toBe('')
  })
})

describe('beside a running server', () => {
  it('reads consistently while the server appends and checkpoints (old files deleted under the reader)', async () => {
    const live = track(tempDir())
    const server = await DirServer.open(live)
    const runs: Array<{ show: CliResult; dump: CliResult }> = []
    let writing = true
    // Keeps writing (a checkpoint every 150 records) until the readers below have run 5 times.
    const writer = (async () => {
      try {
        for (let i = 1; runs.length < 5 && i <= 50_000; i++) {
          await server.run('SET', `k${i % 97}`, String(i))
          if (i % 150 === 0) await server.checkpoint()
          if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1))
        }
      } finally {
        writing = false
      }
    })()
    while (writing) runs.push({ show: await cli('log', 'show', '--json', '--dir', live), dump: await cli('dump', '--json', '--dir', live) })
    await writer
    await server.close()
    expect(runs.length).toBeGreaterThan(0)
    for (const { show, dump } of runs) {
      expect(show.code).toBe(0)
      expect(dump.code, dump.stderr).toBe(0)
      // Records come in seq order, once each; a jump is only ever a reported compaction.
      const seqs = lines(show.stdout).map((l) => (JSON.parse(l) as { seq: number }).seq)
      for (let i = 1; i < seqs.length; i++) {
        expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!)
        if (seqs[i] !== seqs[i - 1]! + 1) expect(show.stderr).toContain('compacted by a checkpoint while reading')
      }
      expect(show.stderr).not.toMatch(/^redust:/m)
      for (const l of lines(dump.stdout)) expect(JSON.parse(l)).toHaveProperty('key')
    }
    const final = await cli('log', 'verify', '--dir', live)
    expect(final.code).toBe(0)
  })

  it('log verify and log stats: the zeros a running server writes ahead of its records are not damage (exit 0)', async () => {
    const live = track(tempDir())
    const server = await DirServer.open(live)
    try {
      for (let i = 1; i <= 3; i++) await server.run('SET', `k${i}`, 'v')
      const r = await cli('log', 'verify', '--dir', live)
      expect(r.code, r.stdout).toBe(0)
      expect(lines(r.stdout)).toEqual([
        'MANIFEST: ok (no snapshot, 1 segment)',
        expect.stringMatching(
          /^log-00000001\.aof: ok \(seq 1\.\.3, 3 records, 3 events, [\d,]+ bytes; then [\d,]+ zero bytes, written ahead by a running server or left by a power loss: start-up cuts them\)$/,
        ),
        'result: intact (last seq 3)',
      ])
      const stats = await cli('log', 'stats', '--dir', live)
      expect(stats.code, stats.stderr).toBe(0)
      expect(stats.stdout).toMatch(/│ zeros ahead +│ log-00000001\.aof: after byte [\d,]+, [\d,]+ zero bytes, written ahead by a running server or left by a power loss: start-up cuts them +│/)
      expect(stats.stdout).not.toContain('torn')
    } finally {
      await server.close()
    }
    expect(lines((await cli('log', 'verify', '--dir', live)).stdout)[1]).toMatch(/^log-00000001\.aof: ok \(seq 1\.\.3, 3 records, 3 events, [\d,]+ bytes\)$/)
  })
})

// ---------------------------------------------------------------------------------------------
// log stats
// ---------------------------------------------------------------------------------------------

describe('redust log stats', () => {
  it('prints the summary, events by type, top keys and the write rate', async () => {
    const r = await cli('log', 'stats', '--dir', dir, '--top', '3')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      [
        '┌────────────────┬─────────────────────────────────────────────────────────────┐',
        `│ data directory │ ${dir.padEnd(59)} │`,
        '│ records        │ 18                                                          │',
        '│ events         │ 19                                                          │',
        '│ seq range      │ 1 .. 18                                                     │',
        '│ time range     │ 2026-11-25T14:02:00.000Z .. 2026-11-25T14:02:05.000Z (5.0s) │',
        '│ segments       │ 1 file, 1.3 KiB                                             │',
        '│ snapshot       │ none                                                        │',
        '└────────────────┴─────────────────────────────────────────────────────────────┘',
        '',
        'Events by type',
        '┌──────────────────┬────────┬───────┐',
        '│ type             │ events │ share │',
        '├──────────────────┼────────┼───────┤',
        '│ ValueSet         │      8 │ 42.1% │',
        '│ ValueAppended    │      1 │  5.3% │',
        '│ RangeOverwritten │      1 │  5.3% │',
        '│ KeysDeleted      │      1 │  5.3% │',
        '│ ExpirySet        │      1 │  5.3% │',
        '│ ExpiryRemoved    │      1 │  5.3% │',
        '│ DatabaseFlushed  │      1 │  5.3% │',
        '│ DatabasesSwapped │      2 │ 10.5% │',
        '│ KeyRenamed       │      1 │  5.3% │',
        '│ KeyMoved         │      1 │  5.3% │',
        '│ KeyCopied        │      1 │  5.3% │',
        '└──────────────────┴────────┴───────┘',
        '',
        'Top 3 keys by writes',
        '┌────┬──────────┬────────┐',
        '│ db │ key      │ writes │',
        '├────┼──────────┼────────┤',
        '│  0 │ "user:1" │      6 │',
        '│  0 │ "a"      │      2 │',
        '│  0 │ "b"      │      2 │',
        '└────┴──────────┴────────┘',
        '',
        // Records every 250 ms (none during the MULTI queue), in 200 ms buckets.
        'Write rate (records per 200ms; peak 1 = 5.0/s)',
        '[████ █    ████ ████ ████ █]',
        '2026-11-25T14:02:00.000Z 3 ████████████████████████████████████████',
        '2026-11-25T14:02:00.600Z 2 ███████████████████████████',
        '2026-11-25T14:02:01.200Z 0',
        '2026-11-25T14:02:01.800Z 2 ███████████████████████████',
        '2026-11-25T14:02:02.400Z 2 ███████████████████████████',
        '2026-11-25T14:02:03.000Z 3 ████████████████████████████████████████',
        '2026-11-25T14:02:03.600Z 2 ███████████████████████████',
        '2026-11-25T14:02:04.200Z 3 ████████████████████████████████████████',
        '2026-11-25T14:02:04.800Z 1 █████████████',
        '',
      ].join('\n'),
    )
  })

  it('--json: one object with every figure', async () => {
    const r = await cli('log', 'stats', '--dir', dir, '--json', '--top', '2')
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout) as Record<string, unknown>
    expect(s).toMatchObject({
      records: 18,
      events: 19,
      seq: { first: 1, last: 18 },
      time: { first: T0, last: T0 + 5000 },
      snapshot: null,
      segments: { files: 1 },
      topKeys: [
        { db: 0, key: 'user:1', writes: 6 },
        { db: 0, key: 'a', writes: 2 },
      ],
      writeRate: { start: T0, bucketMs: 200 },
      problem: null,
    })
    expect((s['eventsByType'] as Record<string, number>)['ValueSet']).toBe(8)
    expect((s['writeRate'] as { counts: number[] }).counts.reduce((a, b) => a + b, 0)).toBe(18)
  })
})

// ---------------------------------------------------------------------------------------------
// log verify: intact, torn, corrupted
// ---------------------------------------------------------------------------------------------

/**
 * The fixture with its last record cut short by 5 bytes, left as a crash leaves it: a torn tail.
 * A clean close records the last seq as durable in the manifest (after which no damage is a torn
 * tail), so that line is dropped, as test/infra/support/logFixtures.ts `writeRecords(…, { crashed })`
 * does.
 */
const tornDir = async (): Promise<string> => {
  const d = track(copyDir(dir))
  const seg = path.join(d, 'log-00000001.aof')
  fs.truncateSync(seg, fs.statSync(seg).size - 5)
  const m = await readManifest(nodeFileSystem, d)
  await writeManifest(nodeFileSystem, d, { snapshot: m.snapshot, segments: m.segments })
  return d
}

/** The fixture with one byte flipped inside record 4: damage in the middle of the log. */
const corruptDir = (): string => {
  const d = track(copyDir(dir))
  const seg = path.join(d, 'log-00000001.aof')
  const buf = fs.readFileSync(seg)
  buf[300] = buf[300]! ^ 0xff
  fs.writeFileSync(seg, buf)
  return d
}

describe('redust log verify', () => {
  it('an intact directory: exit 0', async () => {
    const r = await cli('log', 'verify', '--dir', dir)
    expect(r).toEqual({
      code: 0,
      stdout: [
        'MANIFEST: ok (no snapshot, 1 segment)',
        'log-00000001.aof: ok (seq 1..18, 18 records, 19 events, 1,361 bytes)',
        'result: intact (last seq 18)',
        '',
      ].join('\n'),
      stderr: '',
    })
  })

  it('a torn tail: exit 1; --fix backs the segment up, truncates it and exits 0', async () => {
    const d = await tornDir()
    const before = fs.readFileSync(path.join(d, 'log-00000001.aof'))
    const tornLines = [
      'MANIFEST: ok (no snapshot, 1 segment)',
      'log-00000001.aof: DAMAGED: seq 1..17, 17 records intact, then torn-tail at byte offset 1297 (record seq 18): ' +
        'frame of 64 bytes runs past the end of the file (59 bytes remain); 59 bytes of an incomplete append follow',
      'result: DAMAGED: torn tail in log-00000001.aof: 59 bytes of an incomplete record after seq 17; ' +
        'cutting it loses no whole record: run `redust log verify --fix` (the segment is backed up first)',
    ]
    const r = await cli('log', 'verify', '--dir', d)
    expect(r).toEqual({ code: 1, stdout: tornLines.join('\n') + '\n', stderr: '' })

    const fixed = await cli('log', 'verify', '--fix', '--dir', d)
    expect(fixed).toEqual({
      code: 0,
      stdout: [
        ...tornLines,
        'backed up log-00000001.aof to log-00000001.aof.bak',
        'truncated log-00000001.aof at byte offset 1297 (59 bytes removed)',
        'fixed: the log now ends at seq 17',
        '',
      ].join('\n'),
      stderr: '',
    })
    expect(fs.readFileSync(path.join(d, 'log-00000001.aof.bak'))).toEqual(before)
    expect(fs.statSync(path.join(d, 'log-00000001.aof')).size).toBe(1297)
    const again = await cli('log', 'verify', '--dir', d)
    expect(again.code).toBe(0)
    expect(lines(again.stdout).at(-1)).toBe('result: intact (last seq 17)')
    // The repaired directory recovers to the state after record 17.
    const rec = await recover(d, undefined, undefined, { readOnly: true })
    expect(rec.seq).toBe(17)
    expect(Keyspace.getValue(rec.state, 0, 'user:1')).toBeUndefined()
  })

  it('a torn tail is readable: show prints what is whole and notes the tail (exit 0)', async () => {
    const d = await tornDir()
    const r = await cli('log', 'show', '--dir', d, '--from-seq', '17')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(SHOW[17] + '\n')
    expect(r.stderr).toBe(
      `note: ${path.join(d, 'log-00000001.aof')} ends with 59 bytes of an incomplete record at byte offset 1297 (record seq 18): ` +
        'a write in progress, or a torn tail left by a crash (`redust log verify` tells)\n',
    )
  })

  it('damage mid-log: exit 1, --fix refuses, --truncate-to says what it loses and does it', async () => {
    const d = corruptDir()
    const report = [
      'MANIFEST: ok (no snapshot, 1 segment)',
      'log-00000001.aof: DAMAGED: seq 1..3, 3 records intact, then corrupt-frame at byte offset 272 (record seq 4): ' +
        'frame checksum mismatch; a valid frame (seq 5) follows at offset 335; the manifest records seq 18 as durable, so this damages synced data: it is not a torn tail',
      'result: DAMAGED: corrupt-frame in the middle of the log (log-00000001.aof, byte offset 272, record seq 4); ' +
        'seq 3 and before are intact, 14 readable records follow it (seq 5..18)',
      '--fix will not cut damage in the middle of the log. Keeping seq 3 and before loses 15 records (seq 4..18); ' +
        'to accept that, run `redust log verify --truncate-to 3`',
    ]
    expect(await cli('log', 'verify', '--dir', d)).toEqual({ code: 1, stdout: report.join('\n') + '\n', stderr: '' })

    const segment = fs.readFileSync(path.join(d, 'log-00000001.aof'))
    const refused = await cli('log', 'verify', '--fix', '--dir', d)
    expect(refused).toEqual({ code: 1, stdout: [...report, '--fix: nothing done (see above)', ''].join('\n'), stderr: '' })
    expect(fs.readFileSync(path.join(d, 'log-00000001.aof'))).toEqual(segment)
    expect(fs.readdirSync(d).sort()).toEqual(['MANIFEST', 'log-00000001.aof'])

    const tooFar = await cli('log', 'verify', '--truncate-to', '5', '--dir', d)
    expect(tooFar.code).toBe(2)
    expect(tooFar.stderr).toBe('redust: cannot truncate to seq 5: the log is intact only up to seq 3\n')

    const cut = await cli('log', 'verify', '--truncate-to', '3', '--dir', d)
    expect(cut).toEqual({
      code: 0,
      stdout: [
        ...report,
        'backed up log-00000001.aof.bak',
        'truncated log-00000001.aof at byte offset 272 (1,089 bytes removed)',
        'truncated to seq 3: 15 records discarded (seq 4..18)',
        '',
      ].join('\n'),
      stderr: '',
    })
    expect(fs.readFileSync(path.join(d, 'log-00000001.aof.bak'))).toEqual(segment)
    const after = await cli('log', 'verify', '--dir', d)
    expect(after.code).toBe(0)
    expect(lines(after.stdout).at(-1)).toBe('result: intact (last seq 3)')
  })

  it('reading through mid-log damage stops there with the file, offset and seq (exit 1)', async () => {
    const d = corruptDir()
    const r = await cli('log', 'show', '--dir', d)
    expect(r.code).toBe(1)
    expect(r.stdout).toBe(SHOW.slice(0, 3).join('\n') + '\n')
    expect(r.stderr).toBe(
      `redust: the log is damaged: ${path.join(d, 'log-00000001.aof')}: corrupt-frame at byte offset 272 (record seq 4): ` +
        'frame checksum mismatch; a valid frame (seq 5) follows at offset 335; the manifest records seq 18 as durable, so this damages synced data: it is not a torn tail; ' +
        `records up to seq 3 are intact (run \`redust log verify --dir ${d}\`)\n`,
    )
    noStack(r)
    // Points before the damage are still reachable; later ones are refused.
    expect((await cli('dump', '--at', '2', '--dir', d)).code).toBe(0)
    const late = await cli('dump', '--at', '10', '--dir', d)
    expect(late.code).toBe(1)
    expect(late.stderr).toMatch(/^redust: cannot reach seq 10: .*corrupt-frame at byte offset 272 \(record seq 4\).*records up to seq 3 are intact\n$/)
    noStack(late)
  })

  it('--truncate-to on an intact log: point-in-time truncation', async () => {
    const d = track(copyDir(dir))
    const seg = path.join(d, 'log-00000001.aof')
    // Where record 10 ends, found independently with the log's own reader.
    let end = 0
    await scanSegment(nodeFileSystem, seg, { onFrame: (f) => void (f.lsn === 10 && (end = f.offset + f.len)) })
    const size = fs.statSync(seg).size
    const r = await cli('log', 'verify', '--truncate-to', '10', '--dir', d)
    expect(r.code).toBe(0)
    expect(lines(r.stdout).slice(-3)).toEqual([
      'backed up log-00000001.aof.bak',
      `truncated log-00000001.aof at byte offset ${end} (${size - end} bytes removed)`,
      'truncated to seq 10: 8 records discarded (seq 11..18)',
    ])
    const rec = await recover(d, undefined, undefined, { readOnly: true })
    expect(rec.seq).toBe(10)
    expect(Keyspace.getExpireAt(rec.state, 0, 'user:1')).toBe(T0 + 3000 + 100_000)
  })

  it('a damaged manifest or snapshot: exit 1 with the file and offset; --fix cannot repair them', async () => {
    const m = track(copyDir(dir))
    fs.appendFileSync(path.join(m, 'MANIFEST'), 'x')
    const r = await cli('log', 'verify', '--fix', '--dir', m)
    expect(r.code).toBe(1)
    expect(r.stdout).toBe(
      [
        `MANIFEST: DAMAGED: ${path.join(m, 'MANIFEST')} is damaged at byte offset 110: manifest does not end with a newline`,
        'result: DAMAGED: the manifest cannot be repaired by this tool; restore it from a backup',
        '--fix: nothing done (see above)',
        '',
      ].join('\n'),
    )
    const show = await cli('log', 'show', '--dir', m)
    expect(show).toEqual({ code: 1, stdout: '', stderr: `redust: ${path.join(m, 'MANIFEST')} is damaged at byte offset 110: manifest does not end with a newline\n` })

    const s = track(tempDir())
    const server = await DirServer.open(s)
    await server.runAll([['SET', 'a', '1'], ['SET', 'b', '2']])
    await server.checkpoint()
    await server.run('SET', 'c', '3')
    await server.close()
    const snap = fs.readdirSync(s).find((n) => n.startsWith('snap-'))!
    const text = fs.readFileSync(path.join(s, snap), 'utf8')
    fs.writeFileSync(path.join(s, snap), text.replace('"value":"1"', '"value":"9"'))
    const v = await cli('log', 'verify', '--dir', s)
    expect(v.code).toBe(1)
    expect(lines(v.stdout)[1]).toMatch(new RegExp(`^${snap}: DAMAGED: .*${snap} is damaged at byte offset \\d+ \\(line 4, snapshot of seq 2\\): snapshot checksum mismatch`))
    expect(lines(v.stdout).at(-1)).toBe('result: DAMAGED: the snapshot cannot be repaired by this tool; restore it from a backup')
    const d = await cli('dump', '--dir', s)
    expect(d.code).toBe(1)
    expect(d.stderr).toMatch(/^redust: .*snap-.*is damaged at byte offset \d+ \(line 4, snapshot of seq 2\): snapshot checksum mismatch/)
    noStack(d)
  })

  it('--json: the report parses', async () => {
    const r = await cli('log', 'verify', '--json', '--dir', corruptDir())
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout) as Record<string, unknown>
    expect(report).toMatchObject({
      status: 'damaged',
      lastGoodSeq: 3,
      lostByTruncation: 15,
      problem: { kind: 'corrupt-frame', offset: 272, seq: 4 },
      afterDamage: { records: 14, firstSeq: 5, lastSeq: 18 },
    })
  })
})

// ---------------------------------------------------------------------------------------------
// usage errors and missing data
// ---------------------------------------------------------------------------------------------

describe('errors: a clear message and an exit code, never a stack trace', () => {
  it.each([
    [['log', 'show', '--dir', '/nonexistent/redust'], 2, 'redust: no such data directory: /nonexistent/redust\n'],
    [['log', 'verify', '--dir', '/nonexistent/redust'], 2, 'redust: no such data directory: /nonexistent/redust\n'],
    [['log', 'show', '--db', '16'], 2, 'redust: --db: database index out of range (0..15), got 16\n'],
    [['log', 'show', '--from-seq', 'ten'], 2, 'redust: --from-seq: expected a non-negative integer, got "ten"\n'],
    [['log', 'show', '--since', 'yesterday'], 2, 'redust: --since: expected an ISO-8601 time (2026-11-25T14:02:00Z) or epoch milliseconds, got "yesterday"\n'],
    [['log', 'show', '--type', 'Nope'], 2, /^redust: --type: unknown event type "Nope" \(one of ValueSet, /],
    [['dump', '--at', '1764079320000'], 2, 'redust: --at: 1764079320000 is ambiguous: a plain integer is a record seq; write @1764079320000 for epoch milliseconds\n'],
    [['dump', '--at', '99'], 2, 'redust: seq 99 is beyond the end of the log (the last record is seq 18)\n'],
    [['replay', '--out', '/tmp/x'], 2, 'redust: replay: give --until-seq SEQ or --until TIME\n'],
    [['log', 'show', '--key', 'a', '--match', 'b'], 2, /option '--key <key>' cannot be used with option '--match <pattern>'/],
    [['log', 'show', '--bogus'], 2, /unknown option '--bogus'/],
    [['diff', '--from', '1'], 2, /required option '--to <point>' not specified/],
  ] as const)('%j → exit %i', async (args, code, message) => {
    const argv: readonly string[] = args
    const r = await cli(...argv, ...(argv.includes('--dir') ? [] : ['--dir', dir]))
    expect(r.code).toBe(code)
    if (typeof message === 'string') expect(r.stderr).toBe(message)
    else expect(r.stderr).toMatch(message)
    expect(r.stdout).toBe('')
    noStack(r)
  })

  it('a directory without a manifest', async () => {
    const empty = track(tempDir())
    const r = await cli('log', 'stats', '--dir', empty)
    expect(r).toEqual({ code: 2, stdout: '', stderr: `redust: ${empty} is not a Redust data directory (no MANIFEST)\n` })
    fs.copyFileSync(path.join(dir, 'log-00000001.aof'), path.join(empty, 'log-00000001.aof'))
    const data = await cli('dump', '--dir', empty)
    expect(data).toEqual({
      code: 1,
      stdout: '',
      stderr: `redust: ${path.join(empty, 'MANIFEST')} is missing but the directory holds data files (log-00000001.aof); restore MANIFEST from a backup\n`,
    })
  })
})

// ---------------------------------------------------------------------------------------------
// history, diff, dump
// ---------------------------------------------------------------------------------------------

describe('redust history', () => {
  it('lists every event that touched the key, flushes and swaps included', async () => {
    const r = await cli('history', 'user:1', '--dir', dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(SHOW.filter((l) => [1, 5, 9, 10, 11, 15, 16, 17, 18].includes(Number(l.slice(0, 7)))).join('\n') + '\n')
    const moved = await cli('history', 'big', '--db', '3', '--dir', dir)
    expect(moved.stdout).toBe(SHOW[13] + '\n')
    const none = await cli('history', 'nope', '--dir', dir)
    expect(none).toEqual({ code: 0, stdout: '', stderr: 'no event in the log touched "nope"\n' })
  })

  it('starts from the snapshot after a checkpoint, and --json parses', async () => {
    const d = track(tempDir())
    const server = await DirServer.open(d, new StepClock(T0, 1000))
    await server.runAll([['SET', 'k', 'v1', 'EX', '3600'], ['APPEND', 'k', '+']])
    await server.checkpoint()
    await server.runAll([['RENAME', 'k', 'j'], ['SET', 'k', 'v2']])
    await server.close()
    const r = await cli('history', 'k', '--dir', d)
    expect(r.stdout).toBe(
      [
        // The snapshot header carries the checkpoint's time (the clock after the two commands).
        '      2 2026-11-25T14:02:02.000Z db0  (snapshot)          "k" = "v1+" expires 2026-11-25T15:02:00.000Z',
        '      3 2026-11-25T14:02:02.000Z db0  KeyRenamed          "k" -> "j"',
        '      4 2026-11-25T14:02:03.000Z db0  ValueSet            "k" = "v2"',
        '',
      ].join('\n'),
    )
    const json = await cli('history', 'k', '--json', '--dir', d)
    expect(lines(json.stdout).map((l) => JSON.parse(l) as { type: string })).toMatchObject([
      { type: 'Snapshot', seq: 2, value: 'v1+', expireAt: T0 + 3_600_000 },
      { type: 'KeyRenamed', seq: 3, from: 'k', to: 'j' },
      { type: 'ValueSet', seq: 4, value: 'v2' },
    ])
    // Before the snapshot, the log was compacted: asking for it is a clear usage error.
    const old = await cli('dump', '--at', '1', '--dir', d)
    expect(old.code).toBe(2)
    expect(old.stderr).toMatch(/^redust: cannot go back to seq 1: records up to seq 2 were compacted into the snapshot snap-/)
  })
})

describe('redust diff', () => {
  it('lists keys added, changed and removed between two seqs or times', async () => {
    const r = await cli('diff', '--from', '5', '--to', '12', '--dir', dir)
    expect(r).toEqual({
      code: 0,
      stdout: [
        `+ db0 "big" = "${'x'.repeat(64)}"...(200 bytes)`,
        '~ db0 "user:1" = "aLice!" (was "alice!")',
        'diff seq 5 (2026-11-25T14:02:01.000Z) -> seq 12 (2026-11-25T14:02:03.500Z): 1 added, 1 changed, 0 removed',
        '',
      ].join('\n'),
      stderr: '',
    })
    const byTime = await cli('diff', '--from', '2026-11-25T14:02:03.5Z', '--to', `@${T0 + 5000}`, '--dir', dir)
    // seq 12 → 18: MOVE big to db3, COPY counter to db2, SWAPDB twice, FLUSHDB, SET user:1.
    expect(byTime.stdout).toBe(
      [
        `- db0 "big" (was "${'x'.repeat(64)}"...(200 bytes))`,
        '- db0 "counter" (was "2")',
        '- db0 "session:9" (was "tok\\x00\\xff\\"x" expires 2026-11-25T14:03:00.250Z)',
        '~ db0 "user:1" = "bob" (was "aLice!")',
        '+ db2 "counter2" = "2"',
        `+ db3 "big" = "${'x'.repeat(64)}"...(200 bytes)`,
        'diff seq 12 (2026-11-25T14:02:03.500Z) -> seq 18 (2026-11-25T14:02:05.000Z): 2 added, 1 changed, 3 removed',
        '',
      ].join('\n'),
    )
    const json = await cli('diff', '--from', '16', '--to', '18', '--json', '--dir', dir)
    expect(lines(json.stdout).map((l) => JSON.parse(l) as unknown)).toEqual([
      { change: 'removed', db: 0, key: 'counter', before: { value: '2', expireAt: null }, after: null },
      { change: 'removed', db: 0, key: 'session:9', before: { value: 'tok\x00\xff"x', expireAt: T0 + 60_250 }, after: null },
      { change: 'changed', db: 0, key: 'user:1', before: { value: 'aLice!', expireAt: null }, after: { value: 'bob', expireAt: null } },
    ])
    expect(json.stderr).toBe('diff seq 16 (2026-11-25T14:02:04.500Z) -> seq 18 (2026-11-25T14:02:05.000Z): 0 added, 1 changed, 2 removed\n')
  })
})

describe('redust dump', () => {
  it('prints the state at a seq, a time, or the end; --json lines are snapshot entries', async () => {
    const at12 = [
      '# state at seq 12 (2026-11-25T14:02:03.500Z): 4 keys',
      `db0 "big" = "${'x'.repeat(64)}"...(200 bytes)`,
      'db0 "counter" = "2"',
      'db0 "session:9" = "tok\\x00\\xff\\"x" expires 2026-11-25T14:03:00.250Z',
      'db0 "user:1" = "aLice!"',
      '',
    ].join('\n')
    expect(await cli('dump', '--at', '12', '--dir', dir)).toEqual({ code: 0, stdout: at12, stderr: '' })
    // A time between records 12 (T0+3500) and 13 (T0+3750) gives the state after record 12.
    expect((await cli('dump', '--at', new Date(T0 + 3600).toISOString(), '--dir', dir)).stdout).toBe(at12)
    const end = await cli('dump', '--json', '--dir', dir)
    expect(lines(end.stdout).map((l) => JSON.parse(l) as unknown)).toEqual([
      { db: 0, key: 'user:1', value: 'bob', expireAt: null },
      { db: 2, key: 'counter2', value: '2', expireAt: null },
      { db: 3, key: 'big', value: 'x'.repeat(200), expireAt: null },
    ])
    const db2 = await cli('dump', '--db', '2', '--dir', dir)
    expect(db2.stdout).toBe('# state at seq 18 (2026-11-25T14:02:05.000Z): 1 key in db2\ndb2 "counter2" = "2"\n')
  })

  it('marks keys whose deadline had passed at that time', async () => {
    const d = track(tempDir())
    const server = await DirServer.open(d, new StepClock(T0, 1000))
    await server.runAll([['SET', 'soon', 'x', 'PX', '1500'], ['SET', 'a', '1'], ['SET', 'b', '2']])
    await server.close()
    const r = await cli('dump', '--dir', d)
    expect(r.stdout).toBe(
      [
        '# state at seq 3 (2026-11-25T14:02:02.000Z): 3 keys',
        'db0 "a" = "1"',
        'db0 "b" = "2"',
        'db0 "soon" = "x" expires 2026-11-25T14:02:01.500Z (expired)',
        '',
      ].join('\n'),
    )
  })
})

// ---------------------------------------------------------------------------------------------
// replay
// ---------------------------------------------------------------------------------------------

describe('redust replay', () => {
  it('--until-seq writes a data directory holding the state after that record', async () => {
    const out = path.join(track(tempDir()), 'at12')
    const r = await cli('replay', '--until-seq', '12', '--out', out, '--dir', dir)
    expect(r).toEqual({
      code: 0,
      stdout: `wrote ${out}: the state at seq 12 (2026-11-25T14:02:03.500Z), 4 keys\nserve it with: redust serve --dir ${out}\n`,
      stderr: '', // not a TTY: no progress bar
    })
    expect(fs.readdirSync(out).sort()).toEqual(['MANIFEST', 'log-00000001.aof', 'snap-000000000012-00000001.jsonl'])
    expect((await cli('log', 'verify', '--dir', out)).code).toBe(0)
    const rec = await recover(out, undefined, undefined, { readOnly: true })
    expect(rec.seq).toBe(12)
    const live = await recover(dir, undefined, undefined, { readOnly: true, untilSeq: 12 })
    expect(Keyspace.equals(rec.state, live.state)).toBe(true)
    // The source is untouched, and the target must be new.
    expect((await cli('log', 'verify', '--dir', dir)).code).toBe(0)
    const again = await cli('replay', '--until-seq', '3', '--out', out, '--dir', dir)
    expect(again).toEqual({ code: 2, stdout: '', stderr: `redust: --out ${out}: the directory exists and is not empty\n` })
  })

  it('--until TIME; the result continues numbering at seq + 1 when served', async () => {
    const out = path.join(track(tempDir()), 'pitr')
    const r = await cli('replay', '--until', new Date(T0 + 1100).toISOString(), '--out', out, '--quiet', '--dir', dir)
    expect(r.stdout).toBe(`wrote ${out}: the state at seq 5 (2026-11-25T14:02:01.000Z), 3 keys (requested 2026-11-25T14:02:01.100Z)\n`)
    const server = await DirServer.open(out)
    expect(server.engine.seq).toBe(5)
    await server.run('SET', 'after', 'pitr')
    await server.close()
    const show = await cli('log', 'show', '--dir', out)
    expect(show.stdout).toMatch(/^ {6}6 \S+ db0 {2}ValueSet {12}"after" = "pitr"\n$/)
    expect(show.stderr).toBe('note: records up to seq 5 are compacted into the snapshot; the log holds seq 6 onwards\n')
  })

  it('`redust serve --dir OUT` serves the replayed state', async () => {
    const out = path.join(track(tempDir()), 'served')
    expect((await cli('replay', '--until-seq', '5', '--out', out, '--dir', dir)).code).toBe(0)
    const port = await freePort()
    const server = startCli(bin, ['serve', '--port', String(port), '--dir', out, '--save', ''])
    try {
      let got: string | undefined
      const until = Date.now() + 30_000
      for (;;) {
        try {
          got = await redisGet(port, 'user:1')
          break
        } catch (err) {
          if (Date.now() > until) throw new Error(`no reply from the server: ${String(err)} ${server.out()} ${server.err()}`)
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      expect(got).toBe('alice!')
    } finally {
      server.child.kill('SIGTERM')
      await new Promise((r) => server.child.once('exit', r))
    }
  })
})

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

/** GET over a raw RESP socket (no client library needed). */
const redisGet = (port: number, key: string): Promise<string | undefined> =>
  new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1')
    let buf = ''
    sock.once('error', reject)
    sock.on('data', (b: Buffer) => {
      buf += b.toString('latin1')
      const m = /^\$(-?\d+)\r\n/.exec(buf)
      if (m === null) return
      const n = Number(m[1])
      if (n < 0) {
        sock.end()
        return resolve(undefined)
      }
      if (buf.length < m[0].length + n + 2) return
      sock.end()
      resolve(buf.slice(m[0].length, m[0].length + n))
    })
    sock.write(`*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`)
  })

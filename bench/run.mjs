#!/usr/bin/env node
// Side-by-side benchmark: redis-benchmark against a real redis-server 7 and `redust serve`, on
// loopback, same persistence settings, alternating server by server for several rounds; prints
// the medians and the ratio ours/redis per scenario, and writes them as Markdown with --md FILE.
//
//   npm run bench                       # all scenarios, 5 rounds
//   npm run bench -- --rounds 7 --only a,b
//
// Needs redis-server and redis-benchmark (Debian: apt-get install redis-server redis-tools) and a
// built Redust (`npm ci` builds it). Every server it starts is stopped by pid, even on failure.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { tmpdir, cpus } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : dflt
}
const ROUNDS = Number(opt('rounds', 5))
const ONLY = new Set((opt('only', 'a,b,c,d,f') ?? '').split(','))
const MD = opt('md', undefined)
const REQUESTS = Number(opt('requests', 200000))

const children = new Set()
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) try { process.kill(c.pid, 'SIGKILL') } catch {}
}
process.on('exit', cleanup)
process.on('SIGINT', () => process.exit(130))

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const ping = (port) =>
  new Promise((resolve) => {
    const s = new Socket()
    s.once('error', () => resolve(false))
    s.connect(port, '127.0.0.1', () => {
      s.write('PING\r\n')
      s.once('data', (d) => {
        s.destroy()
        resolve(d.toString().startsWith('+PONG'))
      })
    })
  })

/** Starts a server; `fsync` is 'everysec' | 'always'. Returns { name, port, pid, stop }. */
const startServer = async (name, fsync) => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`))
  const [cmd, argv] =
    name === 'redis'
      ? ['redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', fsync, '--daemonize', 'no', '--loglevel', 'warning']]
      : [process.execPath, [join(ROOT, 'dist/app/cli.main.js'), 'serve', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', fsync, '--loglevel', 'warning']]
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] })
  children.add(child)
  for (let i = 0; i < 200 && !(await ping(port)); i++) await sleep(50)
  return {
    name,
    port,
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null) {
        process.kill(child.pid, 'SIGKILL')
        await new Promise((r) => child.once('exit', r))
      }
      children.delete(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Runs redis-benchmark --csv; returns { TEST: { rps, p99 } }. */
const benchmark = (port, extra) => {
  const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '--csv', ...extra], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  })
  const rows = {}
  for (const line of out.trim().split('\n').slice(1)) {
    const cells = line.split(',').map((c) => c.replace(/"/g, ''))
    rows[cells[0].split(' ')[0]] = { rps: Number(cells[1]), p99: Number(cells[6]) }
  }
  return rows
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const rssKiB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

const results = []
const record = (scenario, metric, ours, redis, higherIsBetter = true) => {
  const ratio = ours / redis
  results.push({ scenario, metric, ours, redis, ratio, higherIsBetter })
  console.log(`${scenario.padEnd(40)} ${metric.padEnd(10)} redust=${fmt(ours)} redis=${fmt(redis)} ratio=${ratio.toFixed(3)}`)
}
const fmt = (x) => (x >= 1000 ? Math.round(x).toString() : x.toFixed(3))

/** Throughput scenario: alternate servers each round, median rps per test. */
const throughput = async (label, fsync, tests, extra) => {
  const samples = { redis: {}, redust: {} }
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 === 0 ? ['redis', 'redust'] : ['redust', 'redis']) {
      const server = await startServer(name, fsync)
      try {
        const rows = benchmark(server.port, ['-t', tests, '-n', String(REQUESTS), ...extra])
        for (const [test, row] of Object.entries(rows)) (samples[name][test] ??= []).push(row.rps)
      } finally {
        await server.stop()
      }
    }
  }
  for (const test of Object.keys(samples.redis)) {
    record(`${label} ${test}`, 'rps', median(samples.redust[test] ?? [0]), median(samples.redis[test]))
  }
}

/**
 * Memory per key: 1M keys with 16-byte values, RSS growth over the empty server, measured twice:
 * right after the load, and once RSS has settled (after 30 s, unchanged within 1% for 10 s; at most 90 s).
 * A garbage-collected heap still holds the overwritten values and the heap V8 grew for the load
 * right after it; V8's memory reducer returns them once allocation stops. Redis's RSS does not
 * move. The settled figure is the steady-state footprint of a server holding the keys.
 */
const memory = async () => {
  const KEYS = 1_000_000
  const perKey = { redis: [], redust: [] }
  const loaded = { redis: [], redust: [] }
  for (let round = 0; round < Math.min(ROUNDS, 3); round++) {
    for (const name of ['redis', 'redust']) {
      const server = await startServer(name, 'everysec')
      try {
        const before = rssKiB(server.pid)
        // -r makes redis-benchmark write __rand_int__ keys; -d 16 gives 16-byte values.
        benchmark(server.port, ['-t', 'set', '-n', String(KEYS * 3), '-r', String(KEYS), '-d', '16', '-P', '64', '-c', '8'])
        const dbsize = Number(execFileSync('redis-cli', ['-p', String(server.port), 'dbsize'], { encoding: 'utf8' }).trim())
        await sleep(500)
        loaded[name].push(((rssKiB(server.pid) - before) * 1024) / dbsize)
        // V8's memory reducer starts some seconds after allocation stops: wait at least 30 s,
        // then until RSS has not moved by more than 1% for 10 s (at most 90 s).
        let last = rssKiB(server.pid)
        for (let waited = 0, stable = 0; waited < 90 && (waited < 30 || stable < 10); waited++) {
          await sleep(1000)
          const now = rssKiB(server.pid)
          stable = Math.abs(now - last) <= last * 0.01 ? stable + 1 : 0
          last = now
        }
        perKey[name].push(((last - before) * 1024) / dbsize)
      } finally {
        await server.stop()
      }
    }
  }
  record('(d) memory right after the load, bytes/key', 'bytes', median(loaded.redust), median(loaded.redis), false)
  record('(d) memory, 1M keys x 16 B, settled, bytes/key', 'bytes', median(perKey.redust), median(perKey.redis), false)
}

/** p99 GET latency with and without a checkpoint (BGREWRITEAOF) of 1M keys running. */
const checkpointLatency = async () => {
  const p99 = { quiet: [], checkpoint: [] }
  for (let round = 0; round < Math.min(ROUNDS, 3); round++) {
    const server = await startServer('redust', 'everysec')
    try {
      benchmark(server.port, ['-t', 'set', '-n', '1000000', '-r', '100000000', '-d', '16', '-P', '64', '-c', '8'])
      const quiet = benchmark(server.port, ['-t', 'get', '-n', '100000', '-c', '50', '-r', '1000000'])
      p99.quiet.push(quiet.GET.p99)
      execFileSync('redis-cli', ['-p', String(server.port), 'bgrewriteaof'])
      const busy = benchmark(server.port, ['-t', 'get', '-n', '100000', '-c', '50', '-r', '1000000'])
      p99.checkpoint.push(busy.GET.p99)
    } finally {
      await server.stop()
    }
  }
  record('(f) GET p99 during checkpoint vs quiet', 'p99 ms', median(p99.checkpoint), median(p99.quiet), false)
}

const machine = `${cpus().length} cores, Node ${process.version}, ${execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim()}`
console.log(`machine: ${machine}; rounds=${ROUNDS}; requests=${REQUESTS}`)
if (ONLY.has('a')) await throughput('(a) -c 50 -P 1 -r 100000 everysec', 'everysec', 'set,get,incr,mset', ['-c', '50', '-P', '1', '-r', '100000'])
if (ONLY.has('b')) await throughput('(b) -c 50 -P 16 -r 100000 everysec', 'everysec', 'set,get,incr,mset', ['-c', '50', '-P', '16', '-r', '100000'])
if (ONLY.has('c')) await throughput('(c) -c 50 -P 1 appendfsync always', 'always', 'set', ['-c', '50', '-P', '1', '-r', '100000'])
if (ONLY.has('d')) await memory()
if (ONLY.has('f')) await checkpointLatency()

if (MD !== undefined) {
  const lines = [
    `### ${new Date().toISOString().slice(0, 10)} — \`node bench/run.mjs ${args.join(' ')}\``,
    '',
    `Machine: ${machine}. Medians of ${ROUNDS} alternating rounds, ${REQUESTS} requests per run.`,
    '',
    '| Scenario | Metric | Redust | Redis | Ratio ours/redis |',
    '|---|---|---|---|---|',
    ...results.map((r) => `| ${r.scenario} | ${r.metric} | ${fmt(r.ours)} | ${fmt(r.redis)} | ${r.ratio.toFixed(3)} |`),
    '',
  ]
  appendFileSync(MD, lines.join('\n') + '\n')
}
cleanup()

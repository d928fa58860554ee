/**
 * Abuse limits against a real server process (issue 7; DURABILITY.md §7.7, §9 test 14).
 *
 * A legitimate client runs in its own process (test/abuse/legitClient.mjs) and measures every
 * round trip while the test process abuses the server in phases:
 * 1. `connections`: open idle connections up to maxclients (10,000), then one more, which must
 *    get `-ERR max number of clients reached`;
 * 2. `pipelines`: clients that pipeline GETs of a 64 KiB value and never read a reply — the
 *    server must stop reading them (backpressure) instead of buffering replies;
 * 3. `bigbulk`: authenticated clients declare `$536870912` bulks (and one `$536870913`, which gets
 *    `invalid bulk length`) and send only part of them — nothing may be preallocated;
 * 4. `unauth`: with requirepass set, unauthenticated clients send `*1\r\n$536870912\r\n` (→
 *    `unauthenticated bulk length`), `*11` (→ `unauthenticated multibulk length`) and floods of
 *    pipelined commands without reading (→ NOAUTH, then closed past 1 MiB of query buffer).
 * The server's RSS (/proc/<pid>/status VmRSS) is sampled every 50 ms; the figures are its growth
 * over the baseline, the legit client's p50/p99/max per phase, and the error texts seen.
 *
 * Diagnostics: ABUSE_SERVER_NODE_OPTIONS is the server's NODE_OPTIONS (e.g. `--trace-gc` or
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`; the server is then stopped with SIGTERM so a profile is
 * written), and ABUSE_SERVER_LOG a file that gets the server's output with the phase changes
 * (milliseconds since the server started, like --trace-gc's) between its lines.
 */
import { spawn } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import net from 'node:net'
import * as path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { RespConn, sleep, startRedust, type ServerProcess } from '../crash/support.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const PASS = 'abuse-pw'

export interface PhaseLatency {
  count: number
  p50: number
  p99: number
  p999: number
  max: number
}

export interface AbuseOptions {
  /** Idle connections to aim for (maxclients is 10,000). */
  readonly connections: number
  readonly maxclients: number
  readonly pipelineClients: number
  readonly pipelineMs: number
  readonly bigBulkClients: number
  readonly unauthClients: number
  readonly unauthFloodBytes: number
  readonly phaseMs: number
  readonly log?: (s: string) => void
}

export interface AbuseFigures {
  fdLimit: string
  connectionsOpened: number
  overLimitReply: string
  pipelineBytesSent: number
  bigBulkReplies: Record<string, number>
  unauthReplies: Record<string, number>
  unauthFloodClosed: number
  rssBaseline: number
  rssMax: number
  rssGrowth: number
  /** Peak RSS per phase. */
  rssByPhase: Record<string, number>
  latency: Record<string, PhaseLatency>
  serverAlive: boolean
}

const count = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1
}

/** Sends bytes on a fresh connection, returns the first reply line (or 'closed') within `ms`. */
const firstLine = (port: number, data: Buffer, ms = 10_000): Promise<{ line: string; closed: boolean; socket: net.Socket }> =>
  new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let got = ''
    let done = false
    const finish = (closed: boolean): void => {
      if (done) return
      done = true
      clearTimeout(t)
      resolve({ line: got.split('\r\n')[0] ?? '', closed, socket: s })
    }
    const t = setTimeout(() => finish(false), ms)
    let lingering = false
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1')
      // after the first line, give the server up to 1 s to close the connection
      if (got.includes('\r\n') && !lingering) {
        lingering = true
        setTimeout(() => finish(false), 1000)
      }
    })
    s.on('error', () => undefined)
    s.on('close', () => finish(true))
    s.on('connect', () => s.write(data))
  })

const openIdle = (port: number): Promise<net.Socket | string> =>
  new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let settled = false
    s.on('error', (e) => {
      if (!settled) {
        settled = true
        resolve(`error ${(e as NodeJS.ErrnoException).code}`)
      }
    })
    // A PING proves the server accepted this client (and is not about to refuse it).
    s.once('data', (d: Buffer) => {
      if (settled) return
      settled = true
      const text = d.toString('latin1')
      if (text === '+PONG\r\n') resolve(s)
      else {
        s.destroy()
        resolve(text.trim())
      }
    })
    s.on('close', () => {
      if (!settled) {
        settled = true
        resolve('closed without a reply')
      }
    })
    s.on('connect', () => s.write('PING\r\n'))
  })

export const runAbuse = async (o: AbuseOptions): Promise<AbuseFigures> => {
  const log = o.log ?? ((s: string) => console.log(s))
  const diagOptions = process.env.ABUSE_SERVER_NODE_OPTIONS
  const diagLog = process.env.ABUSE_SERVER_LOG
  const nodeOptions = process.env.NODE_OPTIONS
  if (diagOptions !== undefined) process.env.NODE_OPTIONS = diagOptions
  const startedAt = Date.now()
  let server: ServerProcess
  try {
    server = await startRedust(['--appendonly', 'no', '--save', '', '--maxclients', String(o.maxclients)], { ulimitN: 65536 })
  } finally {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS
    else process.env.NODE_OPTIONS = nodeOptions
  }
  if (diagLog !== undefined) {
    appendFileSync(diagLog, server.output())
    const copy = (d: Buffer): void => appendFileSync(diagLog, d)
    server.child.stdout?.on('data', copy)
    server.child.stderr?.on('data', copy)
  }
  let fdLimit = 'unknown'
  try {
    const limits = (await import('node:fs')).readFileSync(`/proc/${server.pid}/limits`, 'utf8')
    fdLimit = /Max open files\s+(\d+)\s+(\d+)/.exec(limits)?.slice(1, 3).join('/') ?? 'unknown'
  } catch {
    /* no /proc */
  }
  log(`abuse: server pid ${server.pid}, open files limit (soft/hard) ${fdLimit}`)
  const legit = spawn(process.execPath, [path.join(HERE, 'legitClient.mjs'), String(server.port)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: legit.stdout! })
  const legitOut: string[] = []
  const ready = new Promise<void>((resolve) => lines.on('line', (l) => (l === 'ready' ? resolve() : legitOut.push(l))))
  const legitExit = new Promise<number | null>((resolve) => legit.on('exit', (c) => resolve(c)))
  let current = 'warmup'
  const phase = (name: string): void => {
    current = name
    legit.stdin!.write(`phase ${name}\n`)
    log(`abuse: phase ${name}`)
    if (diagLog !== undefined) appendFileSync(diagLog, `=== phase ${name} at ${Date.now() - startedAt} ms\n`)
  }

  const f: AbuseFigures = {
    fdLimit,
    connectionsOpened: 0,
    overLimitReply: '',
    pipelineBytesSent: 0,
    bigBulkReplies: {},
    unauthReplies: {},
    unauthFloodClosed: 0,
    rssBaseline: 0,
    rssMax: 0,
    rssGrowth: 0,
    rssByPhase: {},
    latency: {},
    serverAlive: true,
  }
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      const r = server.rss()
      if (r !== undefined) {
        f.rssMax = Math.max(f.rssMax, r)
        f.rssByPhase[current] = Math.max(f.rssByPhase[current] ?? 0, r)
      }
      await sleep(50)
    }
  })()
  const sockets: net.Socket[] = []
  try {
    await ready
    const admin = await RespConn.connect(server.port)
    await admin.call('SET', 'big', 'x'.repeat(64 * 1024))
    phase('warmup')
    await sleep(1500)
    phase('baseline')
    await sleep(o.phaseMs)
    f.rssBaseline = server.rss() ?? 0
    f.rssMax = f.rssBaseline

    // 1. connections up to maxclients, then one more
    phase('connections')
    for (let opened = 0; opened < o.connections; ) {
      const batch = Math.min(200, o.connections - opened)
      const rs = await Promise.all(Array.from({ length: batch }, () => openIdle(server.port)))
      for (const r of rs) {
        if (typeof r === 'string') {
          f.overLimitReply ||= r
        } else sockets.push(r)
      }
      opened += batch
      if (rs.some((r) => typeof r === 'string')) break
    }
    f.connectionsOpened = sockets.length
    if (f.overLimitReply === '') {
      const r = await openIdle(server.port)
      if (typeof r === 'string') f.overLimitReply = r
      else {
        sockets.push(r)
        f.overLimitReply = '(accepted)'
      }
    }
    log(`abuse: ${f.connectionsOpened} connections open; one more got ${JSON.stringify(f.overLimitReply)}`)
    await sleep(o.phaseMs)
    for (const s of sockets.splice(0)) s.destroy()
    await sleep(500)

    // 2. pipelines that are never read
    phase('pipelines')
    const pipeStop = { stop: false }
    const req = Buffer.from('*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n'.repeat(256))
    const pipers = Array.from({ length: o.pipelineClients }, async () => {
      const s = net.connect({ port: server.port, host: '127.0.0.1' })
      sockets.push(s)
      s.on('error', () => undefined)
      await new Promise((r) => s.once('connect', r))
      s.pause() // never read
      while (!pipeStop.stop && !s.destroyed) {
        f.pipelineBytesSent += req.length
        if (!s.write(req)) {
          let onDrain = (): void => undefined
          await Promise.race([new Promise<void>((r) => s.once('drain', (onDrain = r))), sleep(200)])
          s.off('drain', onDrain)
        }
      }
    })
    await sleep(o.pipelineMs)
    pipeStop.stop = true
    await Promise.all(pipers)
    log(`abuse: ${o.pipelineClients} clients pipelined ${(f.pipelineBytesSent / 1048576).toFixed(1)} MiB of GETs (64 KiB replies) without reading`)
    for (const s of sockets.splice(0)) s.destroy()
    await sleep(500)

    // 3. huge declared bulk lengths
    phase('bigbulk')
    const bulkHeader = Buffer.from('*2\r\n$3\r\nSET\r\n$536870912\r\n')
    const chunk = Buffer.alloc(1024 * 1024, 0x61)
    await Promise.all(
      Array.from({ length: o.bigBulkClients }, async () => {
        const s = net.connect({ port: server.port, host: '127.0.0.1' })
        sockets.push(s)
        s.on('error', () => undefined)
        await new Promise((r) => s.once('connect', r))
        s.write(bulkHeader)
        s.write(chunk)
      }),
    )
    const over = await firstLine(server.port, Buffer.from('*2\r\n$3\r\nSET\r\n$536870913\r\n'))
    count(f.bigBulkReplies, `${over.line} (closed: ${over.closed})`)
    await sleep(o.phaseMs)
    for (const s of sockets.splice(0)) s.destroy()
    await sleep(500)

    // 4. unauthenticated floods
    await admin.call('CONFIG', 'SET', 'requirepass', PASS) // the legit client stays authenticated
    phase('unauth')
    const unauth = await Promise.all(
      Array.from({ length: o.unauthClients }, async (_, i) => {
        const kind = i % 3
        if (kind === 0) return firstLine(server.port, Buffer.from('*1\r\n$536870912\r\n'))
        if (kind === 1) return firstLine(server.port, Buffer.from('*11\r\n'))
        return firstLine(server.port, Buffer.from('GET k\r\n'))
      }),
    )
    for (const u of unauth) {
      count(f.unauthReplies, `${u.line} (closed: ${u.closed})`)
      u.socket.destroy()
    }
    // floods of pipelined commands, never read: NOAUTH replies pile up, then the 1 MiB
    // unauthenticated query-buffer limit (or backpressure) must stop them
    const flood = Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'.repeat(4096))
    const floods = await Promise.all(
      Array.from({ length: Math.max(1, Math.floor(o.unauthClients / 10)) }, async () => {
        const s = net.connect({ port: server.port, host: '127.0.0.1' })
        s.on('error', () => undefined)
        const closed = new Promise<boolean>((r) => s.on('close', () => r(true)))
        await new Promise((r) => s.once('connect', r))
        s.pause()
        let sent = 0
        while (sent < o.unauthFloodBytes && !s.destroyed) {
          const ok = s.write(flood)
          sent += flood.length
          if (!ok) {
            const drained = await Promise.race([new Promise((r) => s.once('drain', () => r('drain'))), closed.then(() => 'closed'), sleep(2000).then(() => 'stalled')])
            if (drained !== 'drain') break
          }
        }
        const wasClosed = await Promise.race([closed, sleep(2000).then(() => false)])
        s.destroy()
        return wasClosed
      }),
    )
    f.unauthFloodClosed = floods.filter(Boolean).length
    await sleep(o.phaseMs)
    phase('after')
    await sleep(Math.min(1000, o.phaseMs))
    await admin.call('AUTH', PASS)
    await admin.call('CONFIG', 'SET', 'requirepass', '')
    admin.close()

    legit.stdin!.write('stop\n')
    const code = await legitExit
    if (code !== 0) throw new Error(`legit client exited with ${code}`)
    const json = legitOut.find((l) => l.startsWith('{'))
    if (json === undefined) throw new Error('legit client printed no figures')
    f.latency = JSON.parse(json) as Record<string, PhaseLatency>
  } finally {
    sampling = false
    await sampler
    for (const s of sockets) s.destroy()
    if (legit.exitCode === null) legit.kill('SIGKILL')
    f.serverAlive = server.child.exitCode === null && server.child.signalCode === null
    f.rssGrowth = f.rssMax - f.rssBaseline
    if (diagOptions !== undefined) await server.stop()
    else await server.kill()
  }
  return f
}

export const formatAbuse = (f: AbuseFigures): string => {
  const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`
  const lat = Object.entries(f.latency)
    .map(([p, l]) => `  ${p.padEnd(12)} n=${String(l.count).padStart(6)}  p50 ${l.p50.toFixed(2)} ms  p99 ${l.p99.toFixed(2)} ms  p99.9 ${l.p999.toFixed(2)} ms  max ${l.max.toFixed(2)} ms`)
    .join('\n')
  return [
    `abuse: open files limit of the server ${f.fdLimit}`,
    `  connections opened ${f.connectionsOpened}; the next one got ${JSON.stringify(f.overLimitReply)}`,
    `  pipelined without reading: ${mib(f.pipelineBytesSent)}`,
    `  huge bulk replies: ${JSON.stringify(f.bigBulkReplies)}`,
    `  unauthenticated replies: ${JSON.stringify(f.unauthReplies)}; floods closed by the server ${f.unauthFloodClosed} (the others were stopped by backpressure)`,
    `  RSS baseline ${mib(f.rssBaseline)}, max ${mib(f.rssMax)}, growth ${mib(f.rssGrowth)}; server alive ${f.serverAlive}`,
    `  RSS peak per phase: ${Object.entries(f.rssByPhase).map(([p, r]) => `${p} ${mib(r)}`).join(', ')}`,
    `  legit client latency per phase (SET and GET round trips):`,
    lat,
  ].join('\n')
}

/**
 * Fuzzing a real server process: generated streams (test/fuzz/arbitraries.ts) are written to
 * fresh connections in their random chunks, `concurrency` connections at a time, each followed by
 * a half-close; a watchdog connection PINGs all along and records its worst latency. The server
 * must never exit, must close every connection once its input ended, and must answer the
 * watchdog within 1 s (the long tier asserts it).
 */
import fc from 'fast-check'
import net from 'node:net'
import { RespConn, sleep, type ServerProcess } from '../crash/support.js'
import { chunked } from './arbitraries.js'

export interface ServerFuzzFigures {
  inputs: number
  bytes: number
  protocolErrors: number
  watchdogPings: number
  watchdogMaxMs: number
  slowestCloseMs: number
  /** Connections not closed by the server within `closeTimeoutMs` after the input ended. */
  stuck: number
  serverAlive: boolean
}

const one = (port: number, chunks: ReadonlyArray<Buffer>, closeTimeoutMs: number): Promise<{ ms: number; protocolError: boolean; stuck: boolean }> =>
  new Promise((resolve) => {
    const started = performance.now()
    const socket = net.connect({ port, host: '127.0.0.1' })
    let got = ''
    let done = false
    const finish = (stuck: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ ms: performance.now() - started, protocolError: got.includes('Protocol error'), stuck })
    }
    const timer = setTimeout(() => finish(true), closeTimeoutMs)
    socket.on('data', (d: Buffer) => {
      if (got.length < 4096) got += d.toString('latin1')
    })
    socket.on('error', () => finish(false))
    socket.on('close', () => finish(false))
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (socket.destroyed) return
        socket.write(c)
        if (chunks.length < 64) await new Promise((r) => setImmediate(r))
      }
      socket.end()
    })
  })

export const runServerFuzz = async (server: ServerProcess, o: { inputs: number; seed: number; concurrency: number; closeTimeoutMs?: number; log?: (s: string) => void }): Promise<ServerFuzzFigures> => {
  const f: ServerFuzzFigures = { inputs: 0, bytes: 0, protocolErrors: 0, watchdogPings: 0, watchdogMaxMs: 0, slowestCloseMs: 0, stuck: 0, serverAlive: true }
  let stop = false
  const watchdog = (async () => {
    const c = await RespConn.connect(server.port)
    try {
      while (!stop) {
        const t = performance.now()
        const r = await c.call('PING')
        const ms = performance.now() - t
        if (r !== 'PONG') throw new Error(`watchdog PING: ${JSON.stringify(r)}`)
        f.watchdogPings++
        f.watchdogMaxMs = Math.max(f.watchdogMaxMs, ms)
        await sleep(20)
      }
    } finally {
      c.close()
    }
  })()
  const batch = 2000
  let n = 0
  for (let b = 0; n < o.inputs; b++) {
    const samples = fc.sample(chunked(), { numRuns: Math.min(batch, o.inputs - n), seed: (o.seed + b * 7919) | 0 })
    let i = 0
    const lane = async (): Promise<void> => {
      while (i < samples.length) {
        const s = samples[i++]!
        const r = await one(server.port, s.chunks, o.closeTimeoutMs ?? 5_000)
        f.inputs++
        f.bytes += s.input.length
        if (r.protocolError) f.protocolErrors++
        if (r.stuck) f.stuck++
        else f.slowestCloseMs = Math.max(f.slowestCloseMs, r.ms)
      }
    }
    await Promise.all(Array.from({ length: o.concurrency }, lane))
    n += samples.length
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      f.serverAlive = false
      break
    }
    if (o.log !== undefined && (b + 1) % 10 === 0) o.log(`fuzz[server] ${f.inputs} inputs, watchdog max ${f.watchdogMaxMs.toFixed(1)} ms`)
  }
  stop = true
  await watchdog.catch(() => {
    f.serverAlive = false
  })
  if (server.child.exitCode !== null || server.child.signalCode !== null) f.serverAlive = false
  return f
}

export const formatServerFuzz = (seed: number, f: ServerFuzzFigures): string =>
  `fuzz[server] seed ${seed} (FUZZ_SEED=${seed}): ${f.inputs} inputs (${f.bytes} bytes), ${f.protocolErrors} answered with a protocol error, ` +
  `${f.stuck} connections not closed after their input, slowest close ${f.slowestCloseMs.toFixed(1)} ms, ` +
  `watchdog ${f.watchdogPings} PINGs, max ${f.watchdogMaxMs.toFixed(1)} ms, server alive: ${f.serverAlive}`

/**
 * Real-process test support (crash loop, fuzzing, abuse, auth): spawn the `redust` binary (a
 * private build of src/, see test/e2e/cliHarness.ts) or a real `redis-server` as a child process
 * on a loopback port, kill it by pid, and talk RESP to it over raw sockets.
 *
 * Every child started here is registered and SIGKILLed on the test process's 'exit', so a failing
 * test never leaves a server behind. Nothing here kills by name.
 *
 * @category test support
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import net from 'node:net'
import { buildCli } from '../e2e/cliHarness.js'

// ---------------------------------------------------------------------------------------------
// seeded randomness (mulberry32, never Math.random in the workload)
// ---------------------------------------------------------------------------------------------

export type Rng = () => number

export const mulberry32 = (seed: number): Rng => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const randInt = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))

/** A seed from `name` in the environment, else a fresh one. */
export const envSeed = (name: string): number => {
  const raw = process.env[name]
  if (raw !== undefined && raw.trim() !== '') return Number(raw) >>> 0
  return Math.floor(Math.random() * 0x7fffffff)
}

export const envInt = (name: string, dflt: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return dflt
  const n = Number(raw)
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${raw}`)
  return n
}

// ---------------------------------------------------------------------------------------------
// child processes
// ---------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>()
let hooked = false
const hookExit = (): void => {
  if (hooked) return
  hooked = true
  process.on('exit', () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try {
          process.kill(c.pid, 'SIGKILL')
        } catch {
          /* already gone */
        }
      }
    }
  })
}

let binary: string | undefined
/** The private build of the `redust` binary (cached by source hash). */
export const redustBinary = (): string => (binary ??= buildCli())

export interface ServerProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  /** The last ~64 KiB of stdout + stderr. */
  output(): string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGKILL by pid and wait for the exit. */
  kill(): Promise<void>
  /** SIGTERM (clean shutdown) by pid and wait. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** VmRSS of the process in bytes (from /proc), or undefined once gone. */
  rss(): number | undefined
}

const wrap = (child: ChildProcess, port: number, out: { text: string }, exited: ServerProcess['exited']): ServerProcess => {
  const pid = child.pid!
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  return {
    child,
    pid,
    port,
    output: () => out.text,
    exited,
    kill: async () => {
      if (alive()) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          /* gone */
        }
      }
      await exited
    },
    stop: async () => {
      if (alive()) {
        try {
          process.kill(pid, 'SIGTERM')
        } catch {
          /* gone */
        }
      }
      const t = setTimeout(() => {
        if (alive()) process.kill(pid, 'SIGKILL')
      }, 20_000)
      const r = await exited
      clearTimeout(t)
      return r
    },
    rss: () => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
        return m === null ? undefined : Number(m[1]) * 1024
      } catch {
        return undefined
      }
    },
  }
}

const collect = (child: ChildProcess): { text: string } => {
  const out = { text: '' }
  const on = (d: Buffer): void => {
    out.text += d.toString('utf8')
    if (out.text.length > 128 * 1024) out.text = out.text.slice(-64 * 1024)
  }
  child.stdout?.on('data', on)
  child.stderr?.on('data', on)
  return out
}

/**
 * Starts `redust serve --port 0 --bind 127.0.0.1 <args>` and resolves once it logs "Ready to
 * accept connections" (the port is read from that line). Rejects if it exits first.
 * `ulimitN` runs it through `sh -c 'ulimit -n N; exec node …'`.
 */
export const startRedust = async (args: ReadonlyArray<string>, opts: { ulimitN?: number; timeoutMs?: number } = {}): Promise<ServerProcess> => {
  hookExit()
  const bin = redustBinary()
  const full = ['serve', '--port', '0', '--bind', '127.0.0.1', ...args]
  const child =
    opts.ulimitN === undefined
      ? spawn(process.execPath, [bin, ...full], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
      : spawn('/bin/sh', ['-c', `ulimit -n ${opts.ulimitN} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$0" "$@"`, process.execPath, bin, ...full], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NO_COLOR: '1' },
        })
  children.add(child)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child)
      resolve({ code, signal })
    }),
  )
  const out = collect(child)
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
      reject(new Error(`redust did not become ready:\n${out.text.slice(-4000)}`))
    }, opts.timeoutMs ?? 60_000)
    const check = (): void => {
      const m = /"addresses":\["127\.0\.0\.1:(\d+)"/.exec(out.text)
      if (m !== null && out.text.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    child.stdout!.on('data', check)
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`redust exited (code ${code}, signal ${signal}) before it was ready:\n${out.text.slice(-4000)}`))
    })
  })
  return wrap(child, port, out, exited)
}

export const REDIS_SERVER = '/usr/bin/redis-server'
export const haveRedis = (): boolean => existsSync(REDIS_SERVER)

/** A free loopback port (bind to 0, read it, close). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

/** Starts a real redis-server 7.0.15 without persistence on a free loopback port. */
export const startRedis = async (extra: ReadonlyArray<string> = []): Promise<ServerProcess> => {
  hookExit()
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const child = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', '/tmp', ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    children.add(child)
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => {
        children.delete(child)
        resolve({ code, signal })
      }),
    )
    const out = collect(child)
    const server = wrap(child, port, out, exited)
    const deadline = Date.now() + 10_000
    let ok = false
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const c = await RespConn.connect(port)
        await c.call('PING')
        c.close()
        ok = true
        break
      } catch {
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    if (ok) return server
    await server.kill()
    if (attempt >= 3) throw new Error(`redis-server did not start:\n${out.text}`)
  }
}

// ---------------------------------------------------------------------------------------------
// a minimal RESP2 client over a raw socket
// ---------------------------------------------------------------------------------------------

export class RespError {
  constructor(readonly message: string) {}
}
export type Reply = string | number | null | RespError | Reply[]

export class ConnectionClosed extends Error {}

/** Encodes a command as a RESP multibulk. */
export const encode = (args: ReadonlyArray<string | Buffer>): Buffer => {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/**
 * Parses one reply at `pos`; returns [reply, next position] or undefined when incomplete.
 */
export const parseReply = (buf: Buffer, pos: number): [Reply, number] | undefined => {
  if (pos >= buf.length) return undefined
  const cr = buf.indexOf('\r\n', pos, 'latin1')
  if (cr === -1) return undefined
  const type = buf[pos]
  const line = buf.toString('latin1', pos + 1, cr)
  const after = cr + 2
  switch (type) {
    case 0x2b: // +
      return [line, after]
    case 0x2d: // -
      return [new RespError(line), after]
    case 0x3a: // :
      return [Number(line), after]
    case 0x24: {
      // $
      const n = Number(line)
      if (n < 0) return [null, after]
      if (buf.length < after + n + 2) return undefined
      return [buf.toString('latin1', after, after + n), after + n + 2]
    }
    case 0x2a: {
      // *
      const n = Number(line)
      if (n < 0) return [null, after]
      const items: Reply[] = []
      let p = after
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p)
        if (r === undefined) return undefined
        items.push(r[0])
        p = r[1]
      }
      return [items, p]
    }
    default:
      throw new Error(`unexpected reply byte ${JSON.stringify(String.fromCharCode(type ?? 0))} in ${JSON.stringify(buf.toString('latin1', pos, pos + 80))}`)
  }
}

/** One connection: commands are answered in order; replies resolve the oldest pending promise. */
export class RespConn {
  private buf: Buffer = Buffer.alloc(0)
  private pending: Array<{ resolve: (r: Reply) => void; reject: (e: Error) => void }> = []
  closed = false
  readonly closedPromise: Promise<void>

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true)
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
      let pos = 0
      for (;;) {
        const r = parseReply(this.buf, pos)
        if (r === undefined) break
        pos = r[1]
        const p = this.pending.shift()
        p?.resolve(r[0])
      }
      this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos)
    })
    socket.on('error', () => undefined)
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true
        const p = this.pending
        this.pending = []
        for (const x of p) x.reject(new ConnectionClosed('connection closed'))
        resolve()
      }),
    )
  }

  static connect(port: number, timeoutMs = 10_000): Promise<RespConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' })
      const t = setTimeout(() => {
        socket.destroy()
        reject(new Error('connect timeout'))
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(t)
        resolve(new RespConn(socket))
      })
      socket.once('error', (e) => {
        clearTimeout(t)
        reject(e)
      })
    })
  }

  /** Sends one command; resolves with its reply (rejects with ConnectionClosed). */
  call(...args: Array<string | Buffer>): Promise<Reply> {
    return this.send(encode(args))
  }

  /** Sends raw bytes that make exactly one reply. */
  send(bytes: Buffer): Promise<Reply> {
    if (this.closed) return Promise.reject(new ConnectionClosed('connection closed'))
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.socket.write(bytes)
    })
  }

  /** Sends several commands in one write; resolves with every reply. */
  pipeline(cmds: ReadonlyArray<ReadonlyArray<string | Buffer>>): Promise<Reply[]> {
    if (this.closed) return Promise.reject(new ConnectionClosed('connection closed'))
    const ps = cmds.map(() => new Promise<Reply>((resolve, reject) => this.pending.push({ resolve, reject })))
    this.socket.write(Buffer.concat(cmds.map((c) => encode(c))))
    return Promise.all(ps)
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Connects, retrying while the server is still coming up. */
export const connectRetry = async (port: number, ms = 10_000): Promise<RespConn> => {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await RespConn.connect(port)
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Reads raw bytes from a fresh connection after sending `data`: resolves with everything received
 * once the server closes the connection, or after `quietMs` of silence following some reply
 * (or `maxMs` overall).
 */
export const rawExchange = (port: number, data: Buffer | ReadonlyArray<Buffer>, opts: { quietMs?: number; maxMs?: number } = {}): Promise<{ text: string; closed: boolean }> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    let got: Buffer = Buffer.alloc(0)
    let done = false
    let quiet: NodeJS.Timeout | undefined
    const finish = (closed: boolean): void => {
      if (done) return
      done = true
      clearTimeout(quiet)
      clearTimeout(max)
      socket.destroy()
      resolve({ text: got.toString('latin1'), closed })
    }
    const max = setTimeout(() => finish(false), opts.maxMs ?? 5_000)
    const arm = (): void => {
      clearTimeout(quiet)
      quiet = setTimeout(() => finish(false), opts.quietMs ?? 300)
    }
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d])
      arm()
    })
    socket.on('close', () => finish(true))
    socket.on('error', (e) => {
      if (!done && got.length === 0 && (e as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
        done = true
        reject(e)
      }
    })
    socket.on('connect', () => {
      const chunks = Buffer.isBuffer(data) ? [data] : data
      for (const c of chunks) socket.write(c)
      arm()
    })
  })

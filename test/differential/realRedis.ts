/**
 * Test support: a real redis-server 7 started by hand on a free loopback port, and a minimal RESP
 * client that returns each reply's raw bytes, for byte-for-byte differential tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, Socket } from 'node:net'

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })

/** Index just past one complete RESP reply starting at `i`, or -1 when more bytes are needed. */
export const replyEnd = (buf: Buffer, i: number): number => {
  if (i >= buf.length) return -1
  const eol = buf.indexOf('\r\n', i)
  if (eol < 0) return -1
  const type = String.fromCharCode(buf[i]!)
  const header = buf.toString('latin1', i + 1, eol)
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return eol + 2
    case '$':
    case '=':
    case '!': {
      const n = Number(header)
      if (n < 0) return eol + 2
      const end = eol + 2 + n + 2
      return end <= buf.length ? end : -1
    }
    case '*':
    case '~':
    case '>':
    case '%': {
      let n = Number(header)
      if (n < 0) return eol + 2
      if (type === '%') n *= 2
      let at = eol + 2
      for (let k = 0; k < n; k++) {
        at = replyEnd(buf, at)
        if (at < 0) return -1
      }
      return at
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)} in ${JSON.stringify(buf.toString('latin1', i))}`)
  }
}

/** Encodes argv (byte strings) as a RESP multibulk request. */
export const encodeRequest = (argv: ReadonlyArray<string>): Buffer =>
  Buffer.from(`*${argv.length}\r\n${argv.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`, 'latin1')

/** A RESP client over one socket: `send(argv)` resolves with the reply's raw bytes. */
export class RawClient {
  private buffer = Buffer.alloc(0)
  private waiting: Array<(b: Buffer) => void> = []

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk])
      for (;;) {
        const end = replyEnd(this.buffer, 0)
        if (end < 0 || this.waiting.length === 0) break
        const reply = this.buffer.subarray(0, end)
        this.buffer = this.buffer.subarray(end)
        this.waiting.shift()!(Buffer.from(reply))
      }
    })
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new Socket()
      socket.once('error', reject)
      socket.connect(port, '127.0.0.1', () => resolve(new RawClient(socket)))
    })
  }

  send(argv: ReadonlyArray<string>): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiting.push(resolve)
      this.socket.write(encodeRequest(argv))
    })
  }

  close(): void {
    this.socket.destroy()
  }
}

export interface RealRedis {
  readonly port: number
  stop(): Promise<void>
}

/** Starts `redis-server` without persistence on a free loopback port; stop() kills it by pid. */
export const startRealRedis = async (): Promise<RealRedis> => {
  const port = await freePort()
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: 'ignore' },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  for (let attempt = 0; ; attempt++) {
    try {
      const c = await RawClient.connect(port)
      await c.send(['PING'])
      c.close()
      break
    } catch (e) {
      if (attempt > 100) throw e
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    port,
    stop: async () => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL')
      await exited
    },
  }
}

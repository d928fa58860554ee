/**
 * End-to-end helpers: an in-process Redust server on port 0, and a raw TCP client that sends
 * bytes and waits for exact reply bytes (mini-redis tests/server.rs style). No sleeps: reads
 * wait for the expected number of bytes or for the socket to close, with a generous timeout
 * that only fires when a test is already failing.
 */
import net from 'node:net'
import type { EventLog, LogFailure, LogRecord } from '../../src/app/eventLog.js'
import { defaultSettings, type Settings } from '../../src/app/server/config.js'
import { RedustServer, type RedustServerOptions } from '../../src/app/server/server.js'

/** Starts a server on 127.0.0.1:0 without persistence; `settings` override the defaults. */
export const startTestServer = async (
  settings: Partial<Settings> = {},
  options: Omit<RedustServerOptions, 'settings'> = {},
): Promise<RedustServer> => {
  const s: Settings = { ...defaultSettings(), port: 0, appendonly: false, save: [], ...settings }
  return RedustServer.start({ ...options, settings: s })
}

const WAIT_MS = 10_000

/** A raw RESP connection: bytes in, bytes out, as a byte string (latin1). */
export class RawClient {
  private received = Buffer.alloc(0)
  private waiters: Array<() => void> = []
  private isClosed = false
  readonly closed: Promise<void>

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d])
      this.wake()
    })
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true
        this.wake()
        resolve()
      })
    })
    socket.on('error', () => undefined)
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
      socket.once('connect', () => resolve(new RawClient(socket)))
      socket.once('error', reject)
    })
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Sends bytes given as a byte string (or a Buffer). */
  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data)
  }

  /** Waits until `predicate(received)` holds or the socket closes; returns what arrived. */
  async until(predicate: (received: string) => boolean, what = 'reply'): Promise<string> {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const text = this.received.toString('latin1')
      if (predicate(text) || this.isClosed) return text
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(text)}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 200).unref()
      })
    }
  }

  /** Waits for at least `n` bytes (or a close) and consumes exactly up to `n` of them. */
  async read(n: number): Promise<string> {
    const text = await this.until((t) => t.length >= n, `${n} bytes`)
    const out = text.slice(0, n)
    this.received = this.received.subarray(Math.min(n, this.received.length))
    return out
  }

  /** Sends `request` and reads as many bytes as `expected` has. */
  async roundTrip(request: string, expected: string): Promise<string> {
    this.send(request)
    return this.read(expected.length)
  }

  /** Everything received and not yet consumed. */
  pending(): string {
    return this.received.toString('latin1')
  }

  /** Waits for the server to close the connection; returns everything unread. */
  async untilClosed(): Promise<string> {
    await this.until(() => false, 'close')
    return this.pending()
  }

  get isOpen(): boolean {
    return !this.isClosed
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Polls `condition` between event-loop turns until it holds (fails after a long timeout). */
export const eventually = async (condition: () => boolean, what = 'condition'): Promise<void> => {
  const deadline = Date.now() + WAIT_MS
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Encodes a command as a RESP multibulk byte string. */
export const cmd = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`

/**
 * An event log whose commits the test releases by hand: shows that a write's reply waits for its
 * record, and that everything behind it waits too.
 */
export class ManualLog implements EventLog {
  readonly records: LogRecord[] = []
  private batch: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined

  append(record: LogRecord): Promise<void> {
    this.records.push(record)
    if (this.batch === undefined) {
      let resolve!: () => void
      let reject!: (e: Error) => void
      const promise = new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
      promise.catch(() => undefined)
      this.batch = { promise, resolve, reject }
    }
    return this.batch.promise
  }

  /** Makes the current batch durable. */
  commit(): void {
    this.batch?.resolve()
    this.batch = undefined
  }

  /** Fails the current batch. */
  fail(message: string): void {
    this.batch?.reject(new Error(message))
    this.batch = undefined
  }

  failure(): LogFailure | undefined {
    return undefined
  }

  close(): Promise<void> {
    this.commit()
    return Promise.resolve()
  }
}

/** Redis's HELLO reply bytes for a client id, in RESP2 or RESP3 (CLIENTS.md §3). */
export const helloBytes = (id: number, proto: 2 | 3): string => {
  const pairs =
    `$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:${proto}\r\n` +
    `$2\r\nid\r\n:${id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n`
  return (proto === 3 ? '%7\r\n' : '*14\r\n') + pairs
}

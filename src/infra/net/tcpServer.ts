/**
 * The TCP front end: sockets in, argument vectors to the application, replies out in order.
 *
 * This module knows bytes, sockets and RESP, and nothing about commands. Each accepted socket
 * becomes a {@link Connection} that
 * - decodes requests incrementally (infra/resp/decoder.ts) and hands each one to the
 *   application's {@link ConnectionHandler} synchronously, in arrival order;
 * - sends replies **strictly in request order**: a {@link Deferred} reply (a write waiting for
 *   its log record to be durable — invariant I8) holds back every later reply of that connection
 *   until its commit settles, while later commands keep executing (pipelining + group commit);
 * - writes once per read batch: replies are encoded into one byte string and written with a
 *   single `socket.write`, so a pipeline of 16 commands costs one syscall, not 16;
 * - applies backpressure: when the socket's buffer is full (`write` returned false) or too many
 *   replies wait for a commit, it stops reading from that client until things drain, so a slow
 *   reader cannot make the server buffer without bound;
 * - enforces Redis's limits: `maxclients` (`-ERR max number of clients reached`), the query
 *   buffer limit (client closed, counting queued MULTI commands), the decoder's protocol limits;
 * - answers a protocol error with Redis's text and then closes only that connection;
 * - treats resets and abrupt closes as normal traffic (never an uncaught error).
 *
 * @category infra
 */
import net from 'node:net'
import type { Reply } from '../../domain/reply.js'
import { ProtocolError, RequestDecoder } from '../resp/decoder.js'
import { encodeReply, encodeError, type Protocol } from '../resp/encoder.js'
import { DEFAULT_CLIENT_QUERY_BUFFER_LIMIT, DEFAULT_PROTO_MAX_BULK_LEN, UNAUTHENTICATED_QUERY_BUFFER_LIMIT } from '../resp/limits.js'

// ---------------------------------------------------------------------------------------------
// contracts with the application
// ---------------------------------------------------------------------------------------------

/**
 * A reply that may only be sent once `commit` resolves; if it rejects, `failedReply(err)` is
 * sent instead. The engine's PendingReply satisfies this structurally.
 */
export interface Deferred {
  readonly reply: Reply
  readonly commit: Promise<void>
  failedReply(err: unknown): Reply
}

/** Returned by a handler for a request that gets no reply at all (a repeated MONITOR). */
export const NO_REPLY: unique symbol = Symbol('no reply')

/** What a request produces: a reply now, a reply after a commit, or nothing. */
export type Outcome = Reply | Deferred | typeof NO_REPLY

const isDeferred = (o: Outcome): o is Deferred => typeof o === 'object' && 'commit' in o

/** The application's side of one connection. All methods are called synchronously. */
export interface ConnectionHandler {
  /** Runs one request; `argv` has at least one element. */
  handle(argv: string[]): Outcome
  /** The protocol to encode replies with, read right after each request (HELLO switches it). */
  protocol(): Protocol
  /** Whether the unauthenticated limits apply (a password is set and AUTH has not succeeded). */
  authRequired(): boolean
  /** Bytes of commands queued in an open MULTI, counted in the query buffer limit. */
  queuedBytes(): number
  /** Called once when the connection is gone, whatever the reason. */
  closed(): void
}

/** The connection's side, given to the application (CLIENT LIST/KILL, QUIT, MONITOR). */
export interface ConnectionControl {
  readonly remoteAddress: string
  readonly localAddress: string
  /** The OS file descriptor, or -1 when unknown. */
  readonly fd: number
  /** Whether the peer is on the loopback interface (protected mode). */
  readonly isLoopback: boolean
  /** Stops reading; closes once every reply queued so far (including the current one) is sent. */
  closeAfterReply(): void
  /** Closes at once, dropping unsent replies (CLIENT KILL, SHUTDOWN). */
  kill(): void
  /** Queues an unsolicited reply (MONITOR feed) behind the replies already queued. */
  push(reply: Reply): void
  /** Bytes received but not yet consumed as complete requests. */
  queryBufferBytes(): number
  /** Bytes encoded but not yet accepted by the kernel. */
  outputBufferBytes(): number
  /** Replies waiting behind an unsettled commit. */
  heldReplies(): number
}

export interface TcpServerOptions {
  /** Addresses to listen on (each with `port`); Redis's `bind`. */
  readonly bind: ReadonlyArray<string>
  readonly port: number
  /** Read at each accept, so CONFIG SET maxclients applies to new connections. */
  readonly maxClients: () => number
  /** `client-query-buffer-limit`, read on every check. */
  readonly queryBufferLimit?: () => number
  /** `proto-max-bulk-len`, read when a connection is created and on every read. */
  readonly maxBulkLen?: () => number
  /** `tcp-keepalive` in seconds (0 disables). */
  readonly tcpKeepAlive?: () => number
  /**
   * Creates the handler of an accepted connection, or returns an error reply to send before
   * closing it (protected mode).
   */
  readonly accept: (control: ConnectionControl) => ConnectionHandler | Reply
  /** Structured event sink (connection errors, limits hit). */
  readonly log?: (level: 'debug' | 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void
}

/** Server-wide counters for INFO stats. */
export interface NetStats {
  totalConnections: number
  rejectedConnections: number
  netInputBytes: number
  netOutputBytes: number
  readsProcessed: number
  writesProcessed: number
  /** Largest query buffer seen since the last reset (client_recent_max_input_buffer). */
  recentMaxInputBuffer: number
  recentMaxOutputBuffer: number
}

// ---------------------------------------------------------------------------------------------
// the server
// ---------------------------------------------------------------------------------------------

/** Stop reading from a client while this many replies wait behind unsettled commits. */
const MAX_HELD_REPLIES = 16 * 1024
/** Stop executing a client's pipeline while this much encoded output is unsent. */
const OUTPUT_HIGH_WATER = 4 * 1024 * 1024
/**
 * Unsolicited output (MONITOR) cannot be throttled by not reading: a client that lets more than
 * this pile up is disconnected, like Redis's hard `client-output-buffer-limit` for pubsub.
 */
const PUSH_HARD_LIMIT = 32 * 1024 * 1024

export class TcpServer {
  private readonly servers: net.Server[] = []
  private readonly connections = new Set<Connection>()
  readonly stats: NetStats = {
    totalConnections: 0,
    rejectedConnections: 0,
    netInputBytes: 0,
    netOutputBytes: 0,
    readsProcessed: 0,
    writesProcessed: 0,
    recentMaxInputBuffer: 0,
    recentMaxOutputBuffer: 0,
  }

  constructor(readonly options: TcpServerOptions) {}

  /** Number of open client connections. */
  get connectionCount(): number {
    return this.connections.size
  }

  /** Starts listening on every bind address; resolves with the bound addresses. */
  async listen(): Promise<ReadonlyArray<net.AddressInfo>> {
    const bound: net.AddressInfo[] = []
    let port = this.options.port
    for (const entry of this.options.bind) {
      // Redis's bind syntax: '*' is every IPv4 address, '::*' every IPv6 one, and a leading '-'
      // makes an address optional (skipped when the host does not have it).
      const optional = entry.startsWith('-')
      const name = optional ? entry.slice(1) : entry
      const host = name === '*' ? '0.0.0.0' : name === '::*' ? '::' : name
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.onSocket(socket))
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen({ host, port, backlog: 511 }, () => {
            server.off('error', reject)
            resolve()
          })
        })
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (optional && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) {
          this.options.log?.('warn', `Skipping optional bind address ${name}: ${code}`)
          continue
        }
        await this.stopListening()
        throw err
      }
      server.on('error', (err) => this.options.log?.('warn', 'listener error', { err: String(err) }))
      const address = server.address() as net.AddressInfo
      // With port 0, every further address binds the port the first one got.
      if (port === 0) port = address.port
      bound.push(address)
      this.servers.push(server)
    }
    return bound
  }

  /** Stops accepting connections (open ones stay). */
  async stopListening(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
    this.servers.length = 0
  }

  /** Closes every client connection at once. */
  closeAllConnections(): void {
    for (const c of [...this.connections]) c.kill()
  }

  /** Stops listening and closes all connections. */
  async close(): Promise<void> {
    const stopped = this.stopListening()
    this.closeAllConnections()
    await stopped
  }

  private onSocket(socket: net.Socket): void {
    this.stats.totalConnections++
    socket.on('error', () => undefined) // until the connection takes over
    if (this.connections.size >= this.options.maxClients()) {
      this.stats.rejectedConnections++
      this.options.log?.('warn', 'Error registering fd event for the new client: max number of clients reached', {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
      })
      socket.end('-ERR max number of clients reached\r\n')
      setTimeout(() => socket.destroy(), 1000).unref()
      return
    }
    const connection = new Connection(socket, this)
    const handler = this.options.accept(connection)
    if (!('handle' in handler)) {
      this.stats.rejectedConnections++
      socket.end(encodeReply(handler, 2), 'latin1')
      setTimeout(() => socket.destroy(), 1000).unref()
      return
    }
    this.connections.add(connection)
    connection.start(handler)
  }

  /** @internal */
  forget(connection: Connection): void {
    this.connections.delete(connection)
  }
}

// ---------------------------------------------------------------------------------------------
// one connection
// ---------------------------------------------------------------------------------------------

/** An item in the ordered output queue behind an unsettled commit. */
type Held =
  | { readonly kind: 'reply'; readonly reply: Reply; readonly proto: Protocol }
  | { readonly kind: 'deferred'; readonly deferred: Deferred; readonly proto: Protocol }
  | { readonly kind: 'close' }

const loopbackAddress = (address: string | undefined): boolean =>
  address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'))

const formatAddress = (address: string | undefined, port: number | undefined): string => {
  if (address === undefined) return '?:0'
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address
  return `${plain}:${port ?? 0}`
}

class Connection implements ConnectionControl {
  readonly remoteAddress: string
  readonly localAddress: string
  readonly fd: number
  readonly isLoopback: boolean

  private handler: ConnectionHandler | undefined
  private readonly decoder: RequestDecoder
  /** Encoded replies not yet written (flushed at the end of each batch). */
  private out = ''
  /** Replies behind an unsettled commit, from `heldHead` on. */
  private held: Held[] = []
  private heldHead = 0
  /** Set once a close is requested: no more requests are read or run. */
  private closing = false
  private closeAsked = false
  private destroyed = false
  private readingPaused = false
  private waitingDrain = false
  private resumeScheduled = false
  private flushScheduled = false
  /** Our side is closed and every byte handed to the kernel. */
  private finished = false

  constructor(
    private readonly socket: net.Socket,
    private readonly server: TcpServer,
  ) {
    this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort)
    this.localAddress = formatAddress(socket.localAddress, socket.localPort)
    this.isLoopback = loopbackAddress(socket.remoteAddress)
    const handle = (socket as unknown as { _handle?: { fd?: number } })._handle
    this.fd = typeof handle?.fd === 'number' ? handle.fd : -1
    this.decoder = new RequestDecoder(server.options.maxBulkLen?.() ?? DEFAULT_PROTO_MAX_BULK_LEN)
  }

  start(handler: ConnectionHandler): void {
    this.handler = handler
    const socket = this.socket
    const keepAlive = this.server.options.tcpKeepAlive?.() ?? 300
    if (keepAlive > 0) socket.setKeepAlive(true, keepAlive * 1000)
    socket.removeAllListeners('error')
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    // The peer finished sending: answer what it sent, then close (allowHalfOpen keeps the
    // writable side open until then).
    socket.on('end', () => {
      if (!this.closing) this.requestClose()
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.server.options.log?.('debug', 'client connection error', { client: this.remoteAddress, code: err.code })
    })
    socket.on('close', () => this.onClosed())
    socket.on('drain', () => this.onDrain())
  }

  // -------------------------------------------------------------------------------------------
  // ConnectionControl
  // -------------------------------------------------------------------------------------------

  closeAfterReply(): void {
    this.closeAsked = true
  }

  kill(): void {
    if (this.destroyed) return
    this.closing = true
    this.socket.destroy()
  }

  push(reply: Reply): void {
    if (this.destroyed || this.closing || this.handler === undefined) return
    if (this.outputBufferBytes() > PUSH_HARD_LIMIT) {
      this.server.options.log?.('warn', 'Client scheduled to be closed ASAP for overcoming of output buffer limits.', { client: this.remoteAddress })
      this.kill()
      return
    }
    this.emit(reply, this.handler.protocol())
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(() => {
        this.flushScheduled = false
        this.flush()
      })
    }
  }

  queryBufferBytes(): number {
    return this.decoder.bufferedBytes
  }

  outputBufferBytes(): number {
    return this.out.length + (this.destroyed ? 0 : this.socket.writableLength)
  }

  heldReplies(): number {
    return this.held.length - this.heldHead
  }

  // -------------------------------------------------------------------------------------------
  // input
  // -------------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closing || this.destroyed) {
      // Still sending after we finished answering (a client streaming past a protocol error):
      // everything is written, so drop the connection now instead of waiting for the timeout.
      if (this.finished) this.socket.destroy()
      return
    }
    const stats = this.server.stats
    stats.netInputBytes += chunk.length
    stats.readsProcessed++
    const maxBulk = this.server.options.maxBulkLen
    if (maxBulk !== undefined) this.decoder.maxBulkLen = maxBulk()
    this.decoder.push(chunk)
    this.processInput()
  }

  /** Runs every complete request, unless backpressure or a close stops it first. */
  private processInput(): void {
    const handler = this.handler!
    while (!this.closing && !this.destroyed) {
      if (this.overloaded()) {
        this.pauseReading()
        break
      }
      const argv = this.decoder.next(handler.authRequired())
      if (argv === undefined) break
      if (argv instanceof ProtocolError) {
        this.server.options.log?.('debug', `Protocol error (${argv.message}) from client`, { client: this.remoteAddress })
        this.emit({ type: 'error', message: `ERR ${argv.message}` }, handler.protocol())
        this.requestClose()
        break
      }
      const outcome = handler.handle(argv)
      if (outcome !== NO_REPLY) this.emit(outcome, handler.protocol())
      if (this.closeAsked && !this.closing) this.requestClose()
    }
    this.flush()
    this.checkQueryBuffer()
    // Paused for unsent output, but the kernel took the whole flush at once (write returned
    // true, so no 'drain' will come): nothing else would ever resume this client. Resume on the
    // next turn rather than recursing.
    if (this.readingPaused && !this.waitingDrain && !this.overloaded() && !this.resumeScheduled) {
      this.resumeScheduled = true
      setImmediate(() => {
        this.resumeScheduled = false
        this.resumeReading()
      })
    }
  }

  /** Too much unsent output or too many replies waiting for commits: stop for now. */
  private overloaded(): boolean {
    return (
      this.held.length - this.heldHead > MAX_HELD_REPLIES ||
      this.out.length + this.socket.writableLength > OUTPUT_HIGH_WATER
    )
  }

  private checkQueryBuffer(): void {
    if (this.closing || this.destroyed) return
    const handler = this.handler!
    const size = this.decoder.bufferedBytes
    const stats = this.server.stats
    if (size > stats.recentMaxInputBuffer) stats.recentMaxInputBuffer = size
    const total = size + handler.queuedBytes()
    const limit = this.server.options.queryBufferLimit?.() ?? DEFAULT_CLIENT_QUERY_BUFFER_LIMIT
    if (total > limit || (total > UNAUTHENTICATED_QUERY_BUFFER_LIMIT && handler.authRequired())) {
      this.server.options.log?.('warn', 'Closing client that reached max query buffer length', {
        client: this.remoteAddress,
        bytes: total,
      })
      this.kill()
    }
  }

  private pauseReading(): void {
    if (this.readingPaused) return
    this.readingPaused = true
    this.socket.pause()
  }

  /** Resumes after backpressure: first the requests already buffered, then the socket. */
  private resumeReading(): void {
    if (!this.readingPaused || this.destroyed) return
    if (this.overloaded()) return
    this.readingPaused = false
    this.processInput()
    if (!this.readingPaused && !this.closing) this.socket.resume()
  }

  // -------------------------------------------------------------------------------------------
  // output, in order
  // -------------------------------------------------------------------------------------------

  /** Queues one outcome behind everything queued before it. */
  private emit(outcome: Reply | Deferred, proto: Protocol): void {
    if (this.held.length === this.heldHead) {
      if (!isDeferred(outcome)) {
        this.out += encodeReply(outcome, proto)
        return
      }
      this.held.push({ kind: 'deferred', deferred: outcome, proto })
      this.awaitHead()
      return
    }
    this.held.push(isDeferred(outcome) ? { kind: 'deferred', deferred: outcome, proto } : { kind: 'reply', reply: outcome, proto })
  }

  /** Stops running requests and closes once all replies queued so far are written. */
  private requestClose(): void {
    this.closing = true
    this.closeAsked = true
    if (this.held.length === this.heldHead) {
      this.flush()
      this.endSocket()
    } else {
      this.held.push({ kind: 'close' })
    }
  }

  /** Waits for the first held reply's commit, then releases everything it unblocks. */
  private awaitHead(): void {
    const head = this.held[this.heldHead]
    if (head?.kind !== 'deferred') return
    const commit = head.deferred.commit
    commit.then(
      () => this.release(commit, true, undefined),
      (err: unknown) => this.release(commit, false, err),
    )
  }

  /**
   * Encodes held replies in order until one waits on a different, unsettled commit. Replies of
   * the same group commit share one promise, so a whole batch is released in one go.
   */
  private release(commit: Promise<void>, ok: boolean, err: unknown): void {
    if (this.destroyed) return
    const held = this.held
    while (this.heldHead < held.length) {
      const item = held[this.heldHead]!
      if (item.kind === 'deferred') {
        if (item.deferred.commit !== commit) break
        this.out += encodeReply(ok ? item.deferred.reply : item.deferred.failedReply(err), item.proto)
      } else if (item.kind === 'reply') {
        this.out += encodeReply(item.reply, item.proto)
      } else {
        this.heldHead = held.length
        this.flush()
        this.endSocket()
        return
      }
      this.heldHead++
    }
    if (this.heldHead === held.length) {
      this.held = []
      this.heldHead = 0
    } else {
      this.awaitHead()
    }
    this.flush()
    if (this.readingPaused && !this.waitingDrain) this.resumeReading()
  }

  /** Writes the encoded batch with one write; pauses reading if the socket is saturated. */
  private flush(): void {
    if (this.out.length === 0 || this.destroyed) return
    const data = this.out
    this.out = ''
    const stats = this.server.stats
    stats.netOutputBytes += data.length
    stats.writesProcessed++
    if (!this.socket.write(data, 'latin1')) {
      this.waitingDrain = true
      this.pauseReading()
    }
    const pending = this.socket.writableLength
    if (pending > stats.recentMaxOutputBuffer) stats.recentMaxOutputBuffer = pending
  }

  private onDrain(): void {
    this.waitingDrain = false
    this.resumeReading()
  }

  private endSocket(): void {
    if (this.destroyed) return
    this.socket.once('finish', () => (this.finished = true))
    this.socket.end()
    // A peer that never reads must not keep the connection alive forever.
    setTimeout(() => this.socket.destroy(), 10_000).unref()
  }

  private onClosed(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.closing = true
    this.held = []
    this.heldHead = 0
    this.server.forget(this)
    this.handler?.closed()
  }
}

/** Exposed for tests and the application: Redis's error line for a reply text. */
export const errorLine = encodeError

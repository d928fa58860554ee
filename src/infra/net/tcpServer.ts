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
 * - applies backpressure: it stops reading (and running) a client's requests while too many of
 *   its replies wait for a commit, while its own unsent output is above a per-client high water,
 *   or while the server-wide unsent output is over its budget and this client holds more than a
 *   small floor of it (see {@link OutputLimits}); the client resumes when its output drains or
 *   when other clients' drains free the budget. Slow or non-reading clients are never
 *   disconnected for it (Redis's `client-output-buffer-limit normal 0 0 0`);
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
import { adoptWithStaticReads } from './staticReads.js'

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
  /** Output backpressure limits; defaults in {@link DEFAULT_OUTPUT_LIMITS}. */
  readonly outputLimits?: Partial<OutputLimits>
  /**
   * Read sockets into one static buffer (./staticReads.ts; default true). False, or a runtime
   * without the support, reads through 'data' events.
   */
  readonly staticReads?: boolean
}

/**
 * Bounds on unsent output: bytes encoded for a client but not yet taken by the kernel (the
 * connection's unflushed batch plus `socket.writableLength`). Checked before each request, so a
 * client holds at most `clientHighWater + one reply`, and all clients together at most about
 * `budget + one reply + clients × (floor + one reply)` (a client under the floor always runs its
 * next request, so light clients are never starved by heavy ones; one that reads promptly has
 * nothing unsent). Not counted: replies held behind a commit (bounded by count) and MONITOR
 * output (its own hard limit). Nobody is disconnected for output, as with Redis's default
 * `client-output-buffer-limit normal 0 0 0`.
 */
export interface OutputLimits {
  /** A client stops being read while its own unsent output exceeds this. */
  readonly clientHighWater: number
  /** Server-wide budget: while the sum over clients exceeds it, clients above `floor` stop. */
  readonly budget: number
  /** Unsent output a client may always have, whatever the budget (so light clients progress). */
  readonly floor: number
}

export const DEFAULT_OUTPUT_LIMITS: OutputLimits = {
  clientHighWater: 1024 * 1024,
  budget: 64 * 1024 * 1024,
  floor: 64 * 1024,
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
  /** Times a client was paused because the server-wide output budget was exceeded. */
  outputBudgetPauses: number
}

// ---------------------------------------------------------------------------------------------
// the server
// ---------------------------------------------------------------------------------------------

/** The static read buffer's size: what libuv suggests per read (64 KiB). */
const READ_BUFFER_BYTES = 64 * 1024
/** Held-reply slots a connection keeps for reuse once its queue empties. */
const HELD_CAPACITY_KEPT = 1024
/** Stop reading from a client while this many replies wait behind unsettled commits. */
const MAX_HELD_REPLIES = 16 * 1024
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
    outputBudgetPauses: 0,
  }
  /** @internal */
  readonly limits: OutputLimits
  /**
   * Bytes handed to sockets and not yet taken by the kernel, summed over connections (each
   * connection's last seen `socket.writableLength`, updated on every write and write completion).
   * @internal
   */
  pendingOutput = 0
  /**
   * Connections that encoded replies while reading this turn. They are written together once the
   * turn's reads are done (Redis's handleClientsWithPendingWrites in beforeSleep), not one write
   * per read: the client then gets its replies in a burst and sends its next requests in one,
   * instead of the two processes waking each other once per request.
   */
  private readonly flushQueue: Connection[] = []
  private flushPassScheduled = false
  /** Clients paused by the budget, oldest first; resumed in that order as the budget frees. */
  private readonly budgetWaiters = new Set<Connection>()
  private budgetPassScheduled = false
  /** Resume paused clients once the total is back under this (7/8 of the budget). */
  private readonly budgetLowWater: number

  constructor(readonly options: TcpServerOptions) {
    this.limits = { ...DEFAULT_OUTPUT_LIMITS, ...options.outputLimits }
    this.budgetLowWater = this.limits.budget - Math.floor(this.limits.budget / 8)
  }

  /** Bytes of output accepted by sockets but not yet by the kernel, over all connections. */
  get unsentOutputBytes(): number {
    return this.pendingOutput
  }

  /** Clients currently waiting for the output budget. */
  get budgetWaiterCount(): number {
    return this.budgetWaiters.size
  }

  /** Connections reading into the static buffer (the rest read 'data' events). */
  get staticReadConnections(): number {
    let n = 0
    for (const c of this.connections) if (c.staticReads) n++
    return n
  }

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
      // The local address of every connection a listener on one specific address accepts:
      // known once it listens, so no getsockname per connection (wildcards still need one).
      let local: string | undefined
      // Paused on accept so the socket can be re-wrapped to read into the static buffer.
      const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) =>
        this.onSocket(socket, local),
      )
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
      if (address.address !== '0.0.0.0' && address.address !== '::') local = formatAddress(address.address, address.port)
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

  /**
   * The buffer every connection's reads land in (./staticReads.ts). One is enough: each read is
   * decoded, run and released before the next read of any socket starts.
   */
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES)

  private onSocket(accepted: net.Socket, localAddress: string | undefined): void {
    let reader: Connection | undefined
    const adopted =
      this.options.staticReads === false
        ? undefined
        : adoptWithStaticReads(accepted, this.readBuffer, (buffer, length) => reader?.onRead(buffer, true, length))
    const socket = adopted ?? accepted
    this.stats.totalConnections++
    if (this.connections.size >= this.options.maxClients()) {
      socket.on('error', ignore)
      this.stats.rejectedConnections++
      this.options.log?.('warn', 'Error registering fd event for the new client: max number of clients reached', {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
      })
      socket.end('-ERR max number of clients reached\r\n')
      setTimeout(() => socket.destroy(), 1000).unref()
      return
    }
    // Nothing can emit 'error' before the connection's listener is in place (start) or the
    // refusal installs one: accept() runs synchronously.
    const connection = new Connection(socket, this, localAddress)
    const handler = this.options.accept(connection)
    if (!('handle' in handler)) {
      socket.on('error', ignore)
      this.stats.rejectedConnections++
      socket.end(encodeReply(handler, 2), 'latin1')
      setTimeout(() => socket.destroy(), 1000).unref()
      return
    }
    this.connections.add(connection)
    if (adopted !== undefined) reader = connection
    connection.start(handler, adopted === undefined)
  }

  /** @internal */
  forget(connection: Connection): void {
    this.connections.delete(connection)
    this.budgetWaiters.delete(connection)
  }

  /** @internal Writes `connection`'s encoded replies at the end of this turn. */
  queueFlush(connection: Connection): void {
    this.flushQueue.push(connection)
    if (this.flushPassScheduled) return
    this.flushPassScheduled = true
    setImmediate(this.flushPass)
  }

  private readonly flushPass = (): void => {
    this.flushPassScheduled = false
    const queue = this.flushQueue
    // A flush can queue nothing new (it only writes), so one pass empties the queue.
    for (let i = 0; i < queue.length; i++) queue[i]!.flushQueued()
    queue.length = 0
  }

  /** @internal A client stopped because of the budget: queue it (at the back) to be resumed. */
  waitForBudget(connection: Connection): void {
    this.budgetWaiters.add(connection)
  }

  /**
   * @internal Called when pending output went down: once the total is back under the low water,
   * schedules one resume pass (not one per drain, and not reentrant).
   */
  outputFreed(): void {
    if (this.budgetPassScheduled || this.budgetWaiters.size === 0 || this.pendingOutput > this.budgetLowWater) return
    this.budgetPassScheduled = true
    setImmediate(() => this.resumeBudgetWaiters())
  }

  /**
   * Resumes budget waiters oldest first while the budget has room. A resumed client runs until
   * it is over its limits again, and then, if the budget stopped it, queues at the back: the
   * freed budget goes round the waiters instead of to whoever drained or to one greedy client.
   */
  private resumeBudgetWaiters(): void {
    this.budgetPassScheduled = false
    const waiters = this.budgetWaiters
    let n = waiters.size
    for (const c of waiters) {
      if (n-- === 0 || this.pendingOutput >= this.limits.budget) break
      waiters.delete(c)
      c.budgetFreed()
    }
    // Still room (the waiters left were over their own limits and dropped out, or the kernel took
    // what the resumed ones wrote at once): go round again rather than wait for a drain.
    this.outputFreed()
  }
}

// ---------------------------------------------------------------------------------------------
// one connection
// ---------------------------------------------------------------------------------------------

/** In the queue behind an unsettled commit: close the connection once everything before is sent. */
const CLOSE: unique symbol = Symbol('close')
/** An item in the ordered output queue behind an unsettled commit. */
type Held = Reply | Deferred | typeof CLOSE

/** {@link Connection.overloaded}'s answer. */
type Overload = 0 | 1 | 2
const NOT_OVERLOADED = 0
const OVER_OWN_LIMIT = 1
const OVER_BUDGET = 2

const ignore = (): void => undefined

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
  /**
   * Replies behind an unsettled commit: `held[heldHead, heldTail)`, each encoded with the
   * protocol at the same index of `heldProto`. The arrays are reused (slots cleared as they are
   * released), so a write costs no allocation here.
   */
  private readonly held: Held[] = []
  private readonly heldProto: Protocol[] = []
  private heldHead = 0
  private heldTail = 0
  /** The commit the head of `held` waits on (at most one `then` per connection at a time). */
  private awaited: Promise<void> | undefined = undefined
  private readonly onAwaitedCommitted = (): void => this.release(true, undefined)
  private readonly onAwaitedFailed = (err: unknown): void => this.release(false, err)
  /** Set once a close is requested: no more requests are read or run. */
  private closing = false
  private closeAsked = false
  private destroyed = false
  private readingPaused = false
  /** A flush left bytes the kernel did not take (`write` returned false): wait until they are. */
  private waitingDrain = false
  private resumeScheduled = false
  private flushScheduled = false
  /** Queued for the server's end-of-turn write pass. */
  private inFlushQueue = false
  /** This socket's share of the server's pendingOutput: its writableLength when last seen. */
  private accounted = 0
  /** Write callback (one per connection, not one per write): re-syncs the accounting. */
  private readonly afterWrite = (): void => this.syncPending()
  /** The peer finished sending ('end'). */
  private peerEnded = false
  /** Reads arrive through the server's static buffer (see {@link start}). */
  staticReads = false

  constructor(
    private readonly socket: net.Socket,
    private readonly server: TcpServer,
    localAddress: string | undefined,
  ) {
    this.remoteAddress = formatAddress(socket.remoteAddress, socket.remotePort)
    this.localAddress = localAddress ?? formatAddress(socket.localAddress, socket.localPort)
    this.isLoopback = loopbackAddress(socket.remoteAddress)
    const handle = (socket as unknown as { _handle?: { fd?: number } })._handle
    this.fd = typeof handle?.fd === 'number' ? handle.fd : -1
    this.decoder = new RequestDecoder(server.options.maxBulkLen?.() ?? DEFAULT_PROTO_MAX_BULK_LEN)
  }

  /**
   * Starts serving. `dataEvents`: the socket was not re-wrapped for static reads (./staticReads.ts),
   * so its bytes come as 'data' events; otherwise the server passes them to {@link onRead}.
   */
  start(handler: ConnectionHandler, dataEvents: boolean): void {
    this.handler = handler
    this.staticReads = !dataEvents
    const socket = this.socket
    const keepAlive = this.server.options.tcpKeepAlive?.() ?? 300
    if (keepAlive > 0) socket.setKeepAlive(true, keepAlive * 1000)
    if (dataEvents) {
      socket.on('data', (chunk: Buffer) => this.onRead(chunk, false, chunk.length))
      socket.resume() // accepted paused
    }
    // The peer finished sending: answer what it sent, then close (allowHalfOpen keeps the
    // writable side open until then).
    socket.on('end', () => {
      this.peerEnded = true
      if (!this.closing) this.requestClose()
    })
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.server.options.log?.('debug', 'client connection error', { client: this.remoteAddress, code: err.code })
    })
    socket.on('close', () => this.onClosed())
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
    return this.heldTail - this.heldHead
  }

  // -------------------------------------------------------------------------------------------
  // input
  // -------------------------------------------------------------------------------------------

  /**
   * Bytes read from the socket: `chunk[0, length)`. `transient`: they live in the server's static
   * read buffer and are overwritten by the next read, so the decoder copies whatever it has not
   * consumed.
   * @internal
   */
  onRead(chunk: Buffer, transient: boolean, length: number): void {
    if (this.closing || this.destroyed) {
      // Still sending after we finished answering (a client streaming past a protocol error):
      // everything is written, so drop the connection now instead of waiting for the timeout.
      if (this.socket.writableFinished) this.socket.destroy()
      return
    }
    const stats = this.server.stats
    stats.netInputBytes += length
    stats.readsProcessed++
    const maxBulk = this.server.options.maxBulkLen
    if (maxBulk !== undefined) this.decoder.maxBulkLen = maxBulk()
    this.decoder.push(chunk, transient, length)
    this.processInput()
    if (transient) this.decoder.release()
  }

  /** Runs every complete request, unless backpressure or a close stops it first. */
  private processInput(): void {
    const handler = this.handler!
    while (!this.closing && !this.destroyed) {
      const over = this.overloaded()
      if (over !== NOT_OVERLOADED) {
        this.pauseReading()
        if (over === OVER_BUDGET) {
          this.server.stats.outputBudgetPauses++
          this.server.waitForBudget(this)
        }
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
    if (this.out.length !== 0 && !this.inFlushQueue) {
      this.inFlushQueue = true
      this.server.queueFlush(this)
    }
    this.checkQueryBuffer()
    // Paused for unsent output, but the kernel took the whole flush at once (write returned
    // true): then no write completion will come to resume this client. Resume on the next turn
    // rather than recursing.
    if (this.readingPaused && !this.waitingDrain) this.scheduleResume()
  }

  /** @internal The server's end-of-turn write pass (see TcpServer.queueFlush). */
  flushQueued(): void {
    this.inFlushQueue = false
    this.flush()
    if (this.readingPaused && !this.waitingDrain) this.scheduleResume()
  }

  /**
   * Resumes on a later turn (not recursively) if the client is no longer over its limits; if only
   * the budget still stops it, makes sure it waits for the budget.
   */
  private scheduleResume(): void {
    if (this.resumeScheduled || this.destroyed || this.stillOverloaded()) return
    this.resumeScheduled = true
    setImmediate(() => {
      this.resumeScheduled = false
      this.resumeReading()
    })
  }

  /**
   * Whether to stop running this client's requests for now: too many replies waiting for
   * commits or too much of its own output unsent (its own drain resumes it), or the server-wide
   * budget exceeded while this client holds more than the floor (another client's drain may
   * resume it). Its unflushed batch counts as unsent.
   */
  private overloaded(): Overload {
    if (this.heldTail - this.heldHead > MAX_HELD_REPLIES) return OVER_OWN_LIMIT
    const limits = this.server.limits
    const out = this.out.length
    const mine = out + this.socket.writableLength
    if (mine > limits.clientHighWater) return OVER_OWN_LIMIT
    if (mine > limits.floor && this.server.pendingOutput + out > limits.budget) return OVER_BUDGET
    return NOT_OVERLOADED
  }

  /**
   * For a paused client: whether it must stay paused. Whatever stops it must also wake it: over
   * its own limits, its pending writes complete (or its commits settle) later; over the budget,
   * it waits in the server's queue for any client's output to go down.
   */
  private stillOverloaded(): boolean {
    const over = this.overloaded()
    if (over === OVER_BUDGET) this.server.waitForBudget(this)
    return over !== NOT_OVERLOADED
  }

  /**
   * @internal The budget has room again (the server's resume pass): run, even if this client's
   * socket has not drained, up to its own limits.
   */
  budgetFreed(): void {
    this.resumeReading()
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
      // The replies already encoded for earlier requests still go out (as when each read was
      // flushed at once), then the connection is dropped.
      this.flush()
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
    if (!this.readingPaused || this.destroyed || this.stillOverloaded()) return
    this.readingPaused = false
    this.processInput()
    if (!this.readingPaused && !this.closing) this.socket.resume()
  }

  // -------------------------------------------------------------------------------------------
  // output, in order
  // -------------------------------------------------------------------------------------------

  /** Queues one outcome behind everything queued before it. */
  private emit(outcome: Reply | Deferred, proto: Protocol): void {
    if (this.heldTail === this.heldHead) {
      if (!isDeferred(outcome)) {
        this.out += encodeReply(outcome, proto)
        return
      }
      this.hold(outcome, proto)
      this.awaitHead()
      return
    }
    this.hold(outcome, proto)
  }

  private hold(item: Held, proto: Protocol): void {
    this.held[this.heldTail] = item
    this.heldProto[this.heldTail] = proto
    this.heldTail++
  }

  /** Drops every held reply (the connection is closing or gone). */
  private clearHeld(): void {
    this.held.length = 0
    this.heldProto.length = 0
    this.heldHead = 0
    this.heldTail = 0
  }

  /** Stops running requests and closes once all replies queued so far are written. */
  private requestClose(): void {
    this.closing = true
    this.closeAsked = true
    if (this.heldTail === this.heldHead) {
      this.flush()
      this.endSocket()
    } else {
      this.hold(CLOSE, 2)
    }
  }

  /** Waits for the first held reply's commit, then releases everything it unblocks. */
  private awaitHead(): void {
    const head = this.held[this.heldHead]
    if (this.heldHead === this.heldTail || head === CLOSE || !isDeferred(head!)) return
    const commit = head.commit
    this.awaited = commit
    commit.then(this.onAwaitedCommitted, this.onAwaitedFailed)
  }

  /**
   * Encodes held replies in order until one waits on a different, unsettled commit. Replies of
   * the same group commit share one promise, so a whole batch is released in one go.
   */
  private release(ok: boolean, err: unknown): void {
    const commit = this.awaited
    this.awaited = undefined
    if (this.destroyed) return
    const held = this.held
    while (this.heldHead < this.heldTail) {
      const i = this.heldHead
      const item = held[i]!
      if (item === CLOSE) {
        this.clearHeld()
        this.flush()
        this.endSocket()
        return
      }
      if (isDeferred(item)) {
        if (item.commit !== commit) break
        this.out += encodeReply(ok ? item.reply : item.failedReply(err), this.heldProto[i]!)
      } else {
        this.out += encodeReply(item, this.heldProto[i]!)
      }
      held[i] = undefined as unknown as Held // release the reply for the GC
      this.heldHead++
    }
    if (this.heldHead === this.heldTail) {
      // Reuse the slots; after a long pipeline, give its capacity back.
      if (this.heldTail > HELD_CAPACITY_KEPT) this.clearHeld()
      else this.heldHead = this.heldTail = 0
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
    // The kernel did not take the whole batch: stop reading until it has (one batch in flight
    // per client). The limits above bound that batch.
    if (!this.socket.write(data, 'latin1', this.afterWrite)) {
      this.waitingDrain = true
      this.pauseReading()
    }
    const pending = this.socket.writableLength
    if (pending > stats.recentMaxOutputBuffer) stats.recentMaxOutputBuffer = pending
    this.syncPending()
  }

  /**
   * Brings the server's pendingOutput up to date with this socket's writableLength: after each
   * write, and after each write completes (the kernel took a whole chunk; the last one is the
   * 'drain', and this also sees completions when no 'drain' comes because `write` had returned
   * true). When output went down, a paused client may resume: this one if it has drained or is
   * back under its limits, and clients waiting for the budget (whoever drained).
   */
  private syncPending(): void {
    if (this.destroyed) return
    const now = this.socket.writableLength
    const delta = now - this.accounted
    if (delta === 0) return
    this.accounted = now
    const server = this.server
    server.pendingOutput += delta
    if (delta > 0) return
    if (now === 0) this.waitingDrain = false
    if (this.readingPaused && !this.waitingDrain) this.scheduleResume()
    server.outputFreed()
  }

  private endSocket(): void {
    if (this.destroyed) return
    const socket = this.socket
    socket.end()
    // A peer that never reads, or never closes its side, must not keep the connection alive
    // forever. (A peer that has closed its side and has nothing left to receive is gone as soon
    // as the FIN is out: no timer for each of thousands of clients leaving at once.)
    if (!this.peerEnded || socket.writableLength > 0) setTimeout(() => socket.destroy(), 10_000).unref()
  }

  private onClosed(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.closing = true
    this.clearHeld()
    const server = this.server
    server.forget(this)
    server.pendingOutput -= this.accounted
    this.accounted = 0
    server.outputFreed()
    this.handler?.closed()
  }
}

/** Exposed for tests and the application: Redis's error line for a reply text. */
export const errorLine = encodeError

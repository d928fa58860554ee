/**
 * The Redust server: the engine, the connection and server commands, the TCP front end, and the
 * shutdown procedure, put together.
 *
 * Start-up order matters (CLIENTS.md §7 "Loading"): the caller recovers the state first and
 * passes it in; only then does {@link RedustServer.start} listen, so no client ever sees a
 * half-loaded dataset and INFO always says `loading:0`.
 *
 * Shutdown (SHUTDOWN, SIGTERM, SIGINT) follows Redis's `prepareForShutdown`: snapshot unless
 * NOSAVE (a failed snapshot aborts the shutdown unless FORCE), stop accepting, close every
 * client, flush and fsync the log, remove the pid file.
 *
 * @category server
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { CommandMeta } from '../../domain/command.js'
import type { State } from '../../domain/keyspace.js'
import type { Reply } from '../../domain/reply.js'
import { Engine, type Clock } from '../engine.js'
import type { EventLog } from '../eventLog.js'
import { TcpServer, type ConnectionControl, type ConnectionHandler } from '../../infra/net/tcpServer.js'
import { Client, ClientRegistry } from './client.js'
import { connectionCommands } from './commands/connection.js'
import { serverCommands } from './commands/server.js'
import { Config, type Settings } from './config.js'
import { CommandStats, RateTracker, type ServerContext, type ShutdownOptions } from './context.js'
import { ClientHandler, feedMonitors } from './dispatcher.js'
import { pinoLevel, silentLogger, type Logger } from './logger.js'
import { InMemoryPersistence, type Persistence } from './persistence.js'
import { fullGc, IdleGc } from '../../infra/idleGc.js'

/** Redis's reply to a non-loopback client in protected mode (networking.c, 7.0.15). */
export const PROTECTED_MODE_DENIED =
  "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside."

/**
 * Redis's protected mode: with `protected-mode yes` and no password, only loopback clients may
 * connect (Redis 7.0 applies it whatever `bind` says; binding to loopback only, the default,
 * makes it moot).
 */
export const protectedModeDenies = (settings: Readonly<Settings>, isLoopback: boolean): boolean =>
  settings['protected-mode'] && settings.requirepass === '' && !isLoopback

/** Redust's version, from package.json (same relative path from src/ and dist/). */
export const REDUST_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
})()

export interface RedustServerOptions {
  readonly settings: Settings
  /** Absolute path of the config file the settings came from ('' for none). */
  readonly configFile?: string
  /** The event log (default: in memory). */
  readonly log?: EventLog
  /** Recovered state and the seq of its last record. */
  readonly state?: State
  readonly seq?: number
  readonly clock?: Clock
  readonly logger?: Logger
  /** Builds the persistence adapter once the engine exists (default: in memory). */
  readonly persistence?: (engine: Engine) => Persistence
}

/** Overlay entries moved back per 100 ms cron tick (~1–2 ms of work; 1M entries in ~10 s). */
const OVERLAY_ENTRIES_PER_TICK = 10_000

export class RedustServer {
  readonly engine: Engine
  readonly config: Config
  readonly clients = new ClientRegistry()
  readonly persistence: Persistence
  readonly log: Logger
  private readonly tcp: TcpServer
  private readonly ctx: ServerContext
  private readonly commandsByName = new Map<string, CommandMeta>()
  private bound: ReadonlyArray<AddressInfo> = []
  private readonly timers: Array<ReturnType<typeof setInterval>> = []
  /** A full GC after a quiet second that followed activity (infra/idleGc.ts). */
  private readonly idleGc = new IdleGc(fullGc)
  /** False while a checkpoint's overlay is still being moved back (cron, every 100 ms). */
  private overlaysSettled = true
  private shutdownPromise: Promise<string | undefined> | undefined
  private resolveStopped!: () => void
  /** Resolves once the server has shut down (SHUTDOWN, a signal, or {@link close}). */
  readonly stopped: Promise<void> = new Promise((resolve) => (this.resolveStopped = resolve))

  private constructor(options: RedustServerOptions) {
    this.log = options.logger ?? silentLogger()
    this.config = new Config(options.settings)
    this.engine = new Engine({
      ...(options.log !== undefined ? { log: options.log } : {}),
      ...(options.state !== undefined ? { state: options.state } : {}),
      ...(options.seq !== undefined ? { seq: options.seq } : {}),
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
    })
    const engine = this.engine
    this.persistence = options.persistence?.(engine) ?? new InMemoryPersistence(() => engine.stats.recordsAppended)
    const settings = this.config.settings
    this.tcp = new TcpServer({
      bind: settings.bind,
      port: settings.port,
      maxClients: () => settings.maxclients,
      queryBufferLimit: () => settings['client-query-buffer-limit'],
      maxBulkLen: () => settings['proto-max-bulk-len'],
      tcpKeepAlive: () => settings['tcp-keepalive'],
      accept: (control) => this.accept(control),
      log: (level, message, fields) => this.log[level](fields ?? {}, message),
    })
    this.ctx = {
      engine,
      config: this.config,
      clients: this.clients,
      stats: new CommandStats(),
      rates: { ops: new RateTracker(), input: new RateTracker(), output: new RateTracker() },
      net: () => this.tcp.stats,
      persistence: this.persistence,
      log: this.log,
      version: REDUST_VERSION,
      runId: randomBytes(20).toString('hex'),
      startedAt: Date.now(),
      tcpPort: () => this.port,
      configFile: options.configFile ?? '',
      lookup: (name) => this.commandsByName.get(name),
      shutdown: (o) => this.shutdown(o),
      resetStats: () => this.resetStats(),
    }
    for (const ext of [...connectionCommands(this.ctx), ...serverCommands(this.ctx)]) engine.registerExtension(ext)
    for (const m of engine.commands()) this.commandsByName.set(m.name, m)
    engine.onExecuted = (session, argv) => {
      if (this.clients.monitors.size > 0) feedMonitors(this.ctx, session, argv)
    }
    this.config.onChange((name, s) => {
      if (name === 'loglevel') this.log.level = pinoLevel(s.loglevel)
    })
  }

  /** Creates the server and starts listening. */
  static async start(options: RedustServerOptions): Promise<RedustServer> {
    const server = new RedustServer(options)
    await server.listen()
    return server
  }

  private async listen(): Promise<void> {
    this.bound = await this.tcp.listen()
    this.engine.start()
    // Redis's serverCron bits: instantaneous metrics (every 100 ms) and idle timeouts (1 s).
    const sampler = setInterval(() => {
      const now = Date.now()
      const net = this.tcp.stats
      this.ctx.rates.ops.sample(this.engine.stats.commandsProcessed, now)
      this.ctx.rates.input.sample(net.netInputBytes, now)
      this.ctx.rates.output.sample(net.netOutputBytes, now)
      // Redis's databasesCron incrementallyRehash: a bounded step (~1–2 ms) per tick, so the
      // overlay a checkpoint leaves disappears even when no more writes come to move it.
      this.overlaysSettled = this.engine.settleOverlays(OVERLAY_ENTRIES_PER_TICK)
    }, 100)
    const clientsCron = setInterval(() => {
      this.closeIdleClients()
      this.idleGc.tick(this.engine.stats.commandsProcessed, !this.overlaysSettled)
    }, 1000)
    sampler.unref()
    clientsCron.unref()
    this.timers.push(sampler, clientsCron)
  }

  /** The addresses actually listened on. */
  get addresses(): ReadonlyArray<AddressInfo> {
    return this.bound
  }

  /** The TCP port actually bound (the configured one, or the one the OS picked for port 0). */
  get port(): number {
    return this.bound[0]?.port ?? this.config.settings.port
  }

  /** The context the connection and server commands use (for tests and embedding). */
  get context(): ServerContext {
    return this.ctx
  }

  // -------------------------------------------------------------------------------------------
  // connections
  // -------------------------------------------------------------------------------------------

  private accept(control: ConnectionControl): ConnectionHandler | Reply {
    const settings = this.config.settings
    if (protectedModeDenies(settings, control.isLoopback)) {
      this.log.warn({ client: control.remoteAddress }, 'connection refused: protected mode')
      return { type: 'error', message: PROTECTED_MODE_DENIED }
    }
    const session = this.engine.newSession()
    const client = new Client(session, control, settings.requirepass === '', Date.now())
    this.clients.add(client)
    this.log.debug({ id: client.id, client: control.remoteAddress }, 'accepted')
    return new ClientHandler(this.ctx, client, (c) => {
      this.engine.closeSession(c.session)
      this.clients.remove(c)
      this.log.debug({ id: c.id, client: c.control.remoteAddress }, 'client closed connection')
    })
  }

  private closeIdleClients(): void {
    const timeout = this.config.settings.timeout
    if (timeout <= 0) return
    const now = Date.now()
    for (const c of this.clients.all()) {
      if (c.monitor) continue
      if (now - c.lastInteraction > timeout * 1000) {
        this.log.debug({ id: c.id }, 'Closing idle client')
        c.control.kill()
      }
    }
  }

  private resetStats(): void {
    const e = this.engine.stats
    e.commandCalls.clear()
    e.commandsProcessed = 0
    e.expiredKeys = 0
    e.rejectedWrites = 0
    const n = this.tcp.stats
    n.totalConnections = 0
    n.rejectedConnections = 0
    n.netInputBytes = 0
    n.netOutputBytes = 0
    n.readsProcessed = 0
    n.writesProcessed = 0
    n.recentMaxInputBuffer = 0
    n.recentMaxOutputBuffer = 0
    this.ctx.stats.reset()
    this.ctx.rates.ops.reset()
    this.ctx.rates.input.reset()
    this.ctx.rates.output.reset()
  }

  // -------------------------------------------------------------------------------------------
  // shutdown
  // -------------------------------------------------------------------------------------------

  /**
   * Shuts the server down (SHUTDOWN, SIGTERM/SIGINT). Resolves with an error text when the
   * shutdown was aborted because the final snapshot failed; otherwise resolves with undefined
   * once everything is closed (and {@link stopped} resolves too).
   */
  shutdown(options: ShutdownOptions): Promise<string | undefined> {
    if (this.shutdownPromise !== undefined) return this.shutdownPromise
    const run = async (): Promise<string | undefined> => {
      this.log.warn({ reason: options.reason }, 'User requested shutdown...')
      // Without durable storage there is nothing to snapshot to (appendonly no).
      const save = (options.save ?? this.config.settings.save.length > 0) && this.persistence.aofEnabled
      if (save) {
        this.log.info('Saving the final snapshot before exiting.')
        try {
          await this.persistence.save({ waitForRunning: true })
          this.log.info('Snapshot saved on disk')
        } catch (err) {
          this.log.error({ err: String(err) }, 'Error trying to save the DB, can\'t exit.')
          if (options.force !== true) {
            this.shutdownPromise = undefined
            return 'ERR Errors trying to SHUTDOWN. Check logs.'
          }
        }
      }
      await this.stop()
      this.log.warn('Redust is now ready to exit, bye bye...')
      return undefined
    }
    this.shutdownPromise = run()
    return this.shutdownPromise
  }

  /** Stops without a final snapshot: close listeners and clients, flush and close the log. */
  async close(): Promise<void> {
    await this.stop()
  }

  private stopping: Promise<void> | undefined

  private stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearInterval(t)
      await this.tcp.close()
      try {
        await this.persistence.close()
        await this.engine.close()
      } catch (err) {
        this.log.error({ err: String(err) }, 'error while closing the log')
      }
      const pidfile = this.config.settings.pidfile
      if (pidfile !== '') rmSync(pidfile, { force: true })
      this.resolveStopped()
    })()
    return this.stopping
  }
}

/** Re-exported for the composition root. */
export type { ShutdownOptions }

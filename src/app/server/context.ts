/**
 * What connection and server commands may use: the engine, the live configuration, the client
 * registry, counters, persistence and the shutdown procedure. Built once by the server
 * composition (server.ts) and passed to the command modules — the capabilities-as-interfaces
 * rule (R10): commands never reach for globals.
 *
 * @category server
 */
import type { CommandMeta } from '../../domain/command.js'
import type { Engine } from '../engine.js'
import type { NetStats } from '../../infra/net/tcpServer.js'
import type { ClientRegistry } from './client.js'
import type { Config } from './config.js'
import type { Logger } from './logger.js'
import type { Persistence } from './persistence.js'

/** Options of SHUTDOWN (and of SIGTERM/SIGINT, which behave like a plain SHUTDOWN). */
export interface ShutdownOptions {
  /** true: SAVE; false: NOSAVE; undefined: save if save points are configured. */
  readonly save?: boolean
  /** FORCE: go on even if the final save fails. */
  readonly force?: boolean
  readonly reason: string
}

/** Per-command counters the dispatcher keeps for INFO commandstats/errorstats. */
export class CommandStats {
  /** Microseconds spent, by lower-case name (`get`) or subcommand (`client|list`). */
  readonly micros = new Map<string, number>()
  /** Calls of container subcommands (`client|list`); top-level calls come from the engine. */
  readonly subcommandCalls = new Map<string, number>()
  /** Replies that were errors, by name. */
  readonly failed = new Map<string, number>()
  /** Commands refused before running (NOAUTH), by name. */
  readonly rejected = new Map<string, number>()
  /** Error replies by their code (`ERR`, `WRONGTYPE`): INFO errorstats. */
  readonly errorCodes = new Map<string, number>()
  errorReplies = 0

  reset(): void {
    this.micros.clear()
    this.subcommandCalls.clear()
    this.failed.clear()
    this.rejected.clear()
    this.errorCodes.clear()
    this.errorReplies = 0
  }

  countError(message: string): void {
    this.errorReplies++
    const space = message.indexOf(' ')
    const code = space === -1 ? message : message.slice(0, space)
    this.errorCodes.set(code, (this.errorCodes.get(code) ?? 0) + 1)
  }
}

/** Instantaneous rates, sampled like Redis's `trackInstantaneousMetric` (16 samples). */
export class RateTracker {
  private readonly samples: number[] = []
  private lastValue = 0
  private lastTime = 0

  sample(value: number, now: number): void {
    if (this.lastTime !== 0 && now > this.lastTime) {
      this.samples.push(((value - this.lastValue) * 1000) / (now - this.lastTime))
      if (this.samples.length > 16) this.samples.shift()
    }
    this.lastValue = value
    this.lastTime = now
  }

  /** Average per second over the recent samples. */
  rate(): number {
    if (this.samples.length === 0) return 0
    return this.samples.reduce((a, b) => a + b, 0) / this.samples.length
  }

  reset(): void {
    this.samples.length = 0
  }
}

export interface ServerContext {
  readonly engine: Engine
  readonly config: Config
  readonly clients: ClientRegistry
  readonly stats: CommandStats
  readonly rates: { readonly ops: RateTracker; readonly input: RateTracker; readonly output: RateTracker }
  readonly net: () => NetStats
  readonly persistence: Persistence
  readonly log: Logger
  /** Redust's own version (package.json). */
  readonly version: string
  /** 40 random hex chars, new at every start (INFO run_id). */
  readonly runId: string
  /** Start-up time in ms. */
  readonly startedAt: number
  /** The TCP port actually bound (differs from `port` when it is 0). */
  readonly tcpPort: () => number
  /** Absolute path of the config file, or '' without one. */
  readonly configFile: string
  /** Looks up any command (data, transaction, extension) by lower-case name. */
  readonly lookup: (name: string) => CommandMeta | undefined
  /**
   * Stops the server: stop accepting, save unless told not to, flush and fsync the log, close
   * every client. Resolves with an error text if the shutdown was aborted (the final save
   * failed), otherwise never before the server is down.
   */
  readonly shutdown: (options: ShutdownOptions) => Promise<string | undefined>
  /** CONFIG RESETSTAT. */
  readonly resetStats: () => void
}

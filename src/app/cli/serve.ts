/**
 * `redust serve [redust.conf] [--directive value …]`: the server's composition root.
 *
 * Like `redis-server`, it reads an optional config file in redis.conf syntax, then applies
 * `--directive value` options on top, validates everything (a clear message and exit code 1 on
 * any error), recovers the data directory (snapshot + log replay) **before** listening, and
 * serves until SHUTDOWN, SIGTERM or SIGINT — then saves (unless NOSAVE), flushes and fsyncs
 * the log, and exits 0.
 *
 * Wiring lives in {@link startServer}, separate from argument handling, so tests and embedders
 * get the same server the binary runs.
 *
 * @category cli
 */
import { readFileSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import type { Command } from 'commander'
import { openDurableLog, RecoveryError } from '../recovery.js'
import { applyConfigText, ConfigFileError, defaultSettings, directiveHelp, optionsToConfigText, type Settings } from '../server/config.js'
import { DurablePersistence } from '../server/durablePersistence.js'
import { createLogger, type Logger } from '../server/logger.js'
import { REDUST_VERSION, RedustServer } from '../server/server.js'

// ---------------------------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------------------------

export interface LoadedConfig {
  readonly settings: Settings
  /** Absolute path of the config file, or '' without one. */
  readonly configFile: string
}

/**
 * Builds the settings from `serve`'s words: an optional config file first (any word not
 * starting with `--`), then `--directive value…` options, which win. Throws a
 * {@link ConfigFileError} with Redis-style context on any invalid input.
 */
export const loadConfig = (words: ReadonlyArray<string>): LoadedConfig => {
  const settings = defaultSettings()
  let rest = words
  let configFile = ''
  const first = words[0]
  if (first !== undefined && !first.startsWith('--')) {
    configFile = path.resolve(first)
    let text: string
    try {
      text = readFileSync(configFile, 'utf8')
    } catch (err) {
      throw new ConfigFileError(0, first, `Fatal error, can't open config file '${configFile}': ${(err as Error).message}`, 'file')
    }
    applyConfigText(settings, text, `file ${configFile}`)
    rest = words.slice(1)
  }
  applyConfigText(settings, optionsToConfigText(rest), 'command line options')
  return { settings, configFile }
}

// ---------------------------------------------------------------------------------------------
// start-up
// ---------------------------------------------------------------------------------------------

/**
 * Starts a server from settings: recover the data directory (appendonly yes) or start empty
 * (appendonly no), then listen. Logs the start-up line with the version, addresses, data
 * directory, keys loaded and replay time.
 */
export const startServer = async (loaded: LoadedConfig, logger: Logger): Promise<RedustServer> => {
  const { settings } = loaded
  const started = performance.now()
  let server: RedustServer
  let keysLoaded = 0
  let recordsReplayed = 0
  let replayMs = 0
  if (settings.appendonly) {
    const dir = path.resolve(settings.dir)
    const opened = await openDurableLog(dir, { appendfsync: settings.appendfsync, logger })
    keysLoaded = opened.stats.keysLoaded
    recordsReplayed = opened.stats.recordsReplayed
    replayMs = opened.stats.ms
    try {
      server = await RedustServer.start({
        settings,
        configFile: loaded.configFile,
        log: opened.log,
        state: opened.state,
        seq: opened.seq,
        logger,
        persistence: (engine) => new DurablePersistence(engine, opened.log, settings, logger),
      })
    } catch (err) {
      await opened.log.close().catch(() => undefined)
      throw err
    }
  } else {
    server = await RedustServer.start({ settings, configFile: loaded.configFile, logger })
  }
  if (settings.pidfile !== '') writeFileSync(settings.pidfile, `${process.pid}\n`)
  const keys = server.engine.keyspaceInfo().reduce((n, db) => n + db.keys, 0)
  logger.info(
    {
      version: REDUST_VERSION,
      addresses: server.addresses.map((a) => `${a.address}:${a.port}`),
      dir: settings.appendonly ? path.resolve(settings.dir) : null,
      appendonly: settings.appendonly,
      appendfsync: settings.appendfsync,
      keysLoaded: settings.appendonly ? keysLoaded : 0,
      keys,
      recordsReplayed,
      replayMs: Math.round(replayMs),
      startupMs: Math.round(performance.now() - started),
      configFile: loaded.configFile === '' ? null : loaded.configFile,
    },
    'Ready to accept connections',
  )
  return server
}

// ---------------------------------------------------------------------------------------------
// the subcommand
// ---------------------------------------------------------------------------------------------

const fail = (message: string): void => {
  process.stderr.write(`${message}\n`)
  process.exitCode = 1
}

/** Runs `serve`: resolves when the server has shut down (the process then exits). */
export const serve = async (words: ReadonlyArray<string>): Promise<void> => {
  let loaded: LoadedConfig
  try {
    loaded = loadConfig(words)
  } catch (err) {
    if (err instanceof ConfigFileError) return fail(err.message)
    throw err
  }
  const logger = createLogger(loaded.settings.loglevel, loaded.settings.logfile)
  let server: RedustServer | undefined
  // Installed before start-up: a signal during recovery just exits (nothing was written yet).
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++
    if (server === undefined) {
      logger.warn(`Received ${signal} during start-up, exiting.`)
      process.exit(0)
    }
    if (signals > 1 && signal === 'SIGINT') {
      logger.warn('You insist... exiting now.')
      process.exit(1)
    }
    logger.warn(`Received ${signal} scheduling shutdown...`)
    void server.shutdown({ reason: signal }).then((aborted) => {
      if (aborted !== undefined) {
        logger.error(`${signal} received but errors trying to shut down the server, check the logs for more information`)
        signals = 0
      }
    })
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  try {
    server = await startServer(loaded, logger)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    if (err instanceof RecoveryError) {
      logger.fatal({ file: err.file, offset: err.offset, seq: err.seq }, err.message)
      return fail(err.message)
    }
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      const message = `Could not create server TCP listening socket ${loaded.settings.bind.join(' ')}:${loaded.settings.port}: ${(err as Error).message}`
      logger.fatal(message)
      return fail(message)
    }
    logger.fatal({ err: String(err) }, 'start-up failed')
    return fail(`start-up failed: ${(err as Error).message}`)
  }

  await server.stopped
  process.off('SIGTERM', onSignal)
  process.off('SIGINT', onSignal)
  process.exitCode = 0
}

const usageAfter = (): string => {
  const lines = directiveHelp().map(([name, help]) => `  --${name.padEnd(27)} ${help}`)
  return [
    '',
    'Directives (also accepted one per line in the config file, redis.conf syntax):',
    ...lines,
    '',
    'Examples:',
    '  redust serve',
    '  redust serve --port 7000 --appendfsync always',
    '  redust serve redust.conf --requirepass s3cret --save ""',
  ].join('\n')
}

/** Registers `serve` on the `redust` program. */
export const registerServe = (program: Command): void => {
  program
    .command('serve')
    .description('run the Redis-protocol server (default 127.0.0.1:7878, data in ./data)')
    .argument('[config-and-options...]', 'an optional config file in redis.conf syntax, then --directive value options')
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption('-h, --help', 'show this help')
    .addHelpText('after', usageAfter())
    .action(async (words: string[]) => {
      await serve(words)
      // Shut down: nothing else may keep the process alive (and stray handles must not).
      if (process.exitCode === 0) process.exit(0)
    })
}

/**
 * Structured logging with pino, configured from Redis's `loglevel` / `logfile` directives.
 *
 * Redis levels map onto pino's: debug → debug, verbose → debug, notice → info, warning → warn.
 * An empty `logfile` logs to standard output, as Redis does in the foreground.
 *
 * @category server
 */
import { pino, type Logger as PinoLogger, type Level } from 'pino'
import type { LogLevel } from './config.js'

export type Logger = PinoLogger

export const pinoLevel = (level: LogLevel): Level => (level === 'debug' || level === 'verbose' ? 'debug' : level === 'notice' ? 'info' : 'warn')

/** The server logger. `logfile` '' means stdout. */
export const createLogger = (level: LogLevel, logfile: string): Logger => {
  const destination = logfile === '' ? pino.destination({ dest: 1, sync: true }) : pino.destination({ dest: logfile, mkdir: true, sync: true })
  return pino({ name: 'redust', level: pinoLevel(level), base: { pid: process.pid } }, destination)
}

/** A logger that writes nothing (tests, embedding). */
export const silentLogger = (): Logger => pino({ level: 'silent' })

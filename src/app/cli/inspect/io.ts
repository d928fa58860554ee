/**
 * Output, errors and exit codes of the inspection CLI.
 *
 * Exit codes (those of `redis-check-aof`, for every inspection command):
 * - 0: done (for `log verify`: the data directory is intact);
 * - 1: the data is damaged, or an operation on it failed;
 * - 2: usage error (bad arguments, no such data directory).
 *
 * Every command runs inside {@link runAction}: whatever it throws becomes one `redust: …` line on
 * stderr and an exit code, never a stack trace (set `REDUST_DEBUG=1` to see one).
 *
 * @category cli
 */
import { errorCode } from '../../../infra/log/fileSystem.js'

export const EXIT_OK = 0
export const EXIT_DAMAGED = 1
export const EXIT_USAGE = 2

/** A failure with a message meant for the user and the exit code that goes with it. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_DAMAGED,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

/** A usage error (exit code 2). */
export const usage = (message: string): CliError => new CliError(message, EXIT_USAGE)

/**
 * Where a command writes. `out` is buffered (flushed every 64 KiB and at the end); `err` lines go
 * out at once. Tests pass in-memory sinks.
 */
export interface Io {
  /** Appends a line (a newline is added) to stdout. */
  line(text: string): void
  /** Appends raw text to stdout. */
  write(text: string): void
  /** A line on stderr (notes, warnings). */
  note(text: string): void
  /** Writes buffered stdout text; resolves once handed to the stream. */
  flush(): Promise<void>
  /** Whether stderr is a terminal (progress bars). */
  readonly stderrIsTTY: boolean
  readonly stderr: NodeJS.WritableStream
}

const FLUSH_AT = 64 * 1024

/** The process's stdout and stderr. A closed stdout (`… | head`) ends the process quietly. */
export const processIo = (): Io => {
  let buffered = ''
  const stdout = process.stdout
  const writeOut = (text: string): Promise<void> =>
    new Promise((resolve) => {
      if (text === '') return resolve()
      stdout.write(text, () => resolve())
    })
  return {
    line(text) {
      buffered += `${text}\n`
      if (buffered.length >= FLUSH_AT) {
        void writeOut(buffered)
        buffered = ''
      }
    },
    write(text) {
      buffered += text
      if (buffered.length >= FLUSH_AT) {
        void writeOut(buffered)
        buffered = ''
      }
    },
    note(text) {
      process.stderr.write(`${text}\n`)
    },
    flush() {
      const text = buffered
      buffered = ''
      return writeOut(text)
    },
    stderrIsTTY: process.stderr.isTTY === true,
    stderr: process.stderr,
  }
}

/** An in-memory Io (tests, in-process use). */
export const memoryIo = (): Io & { readonly out: () => string; readonly err: () => string } => {
  let out = ''
  let err = ''
  const stderr = {
    write: (chunk: string | Uint8Array): boolean => {
      err += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
      return true
    },
  } as unknown as NodeJS.WritableStream
  return {
    line: (text) => {
      out += `${text}\n`
    },
    write: (text) => {
      out += text
    },
    note: (text) => {
      err += `${text}\n`
    },
    flush: () => Promise.resolve(),
    stderrIsTTY: false,
    stderr,
    out: () => out,
    err: () => err,
  }
}

/** The message for an unexpected error: I/O errors by their text, anything else as internal. */
export const describeError = (err: unknown): { message: string; exitCode: number } => {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode }
  const code = errorCode(err)
  if (code !== undefined && err instanceof Error) return { message: err.message, exitCode: EXIT_DAMAGED }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  return { message: `internal error: ${text}`, exitCode: EXIT_DAMAGED }
}

/**
 * Runs a command body: flushes its output, turns any error into `redust: <message>` on stderr,
 * and sets the process exit code (the body returns the code, default 0). Never rejects.
 */
export const runAction = async (body: (io: Io) => Promise<number | void>, io: Io = processIo()): Promise<number> => {
  const onStdoutError = (err: unknown): void => {
    // The reader went away (`redust log show | head`): stop quietly, like other Unix tools.
    if (errorCode(err) === 'EPIPE') process.exit(process.exitCode ?? 0)
  }
  process.stdout.on('error', onStdoutError)
  let exitCode: number
  try {
    exitCode = (await body(io)) ?? EXIT_OK
    await io.flush()
  } catch (err) {
    await io.flush().catch(() => undefined)
    const { message, exitCode: code } = describeError(err)
    io.note(`redust: ${message}`)
    if (process.env['REDUST_DEBUG'] && err instanceof Error && err.stack !== undefined) io.note(err.stack)
    exitCode = code
  }
  process.exitCode = exitCode
  return exitCode
}

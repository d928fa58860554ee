/**
 * Compat-tier helpers: run the built `redust` binary as a child process (on port 0, reading the
 * bound address from its start-up log line), and run redis-cli / redis-benchmark with a timeout.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BINARY = path.join(ROOT, 'dist/app/cli.main.js')

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a program to completion (stdin optional), resolving with its exit code and output. */
export const run = (file: string, args: ReadonlyArray<string>, input?: string | Buffer, timeoutMs = 110_000): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024, encoding: 'latin1' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? ((err as unknown as { code: number }).code) : null
      if (err !== null && code === null && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(err)
      resolve({ code, stdout, stderr })
    })
    if (input !== undefined) child.stdin?.end(input)
    else child.stdin?.end()
  })

/** A temporary directory removed by `cleanup`. */
export const tempDir = (): { readonly dir: string; cleanup(): void } => {
  const dir = mkdtempSync(path.join(tmpdir(), 'redust-compat-'))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A `redust serve` child process. */
export class RedustProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly output: { text: string },
    readonly exited: Promise<number | null>,
  ) {}

  /**
   * Starts `node dist/app/cli.main.js serve <args> --port 0` and waits for its "Ready to accept
   * connections" line, from which the port is read.
   */
  static async start(args: ReadonlyArray<string>): Promise<RedustProcess> {
    const child = spawn(process.execPath, [BINARY, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const output = { text: '' }
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const port = await new Promise<number>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        output.text += d.toString('utf8')
        for (const line of output.text.split('\n')) {
          if (!line.includes('Ready to accept connections')) continue
          const address = (JSON.parse(line) as { addresses: string[] }).addresses[0]!
          resolve(Number(address.slice(address.lastIndexOf(':') + 1)))
        }
      }
      child.stdout!.on('data', onData)
      child.stderr!.on('data', (d: Buffer) => (output.text += d.toString('utf8')))
      void exited.then((code) => reject(new Error(`redust exited with ${code} before it was ready:\n${output.text}`)))
    })
    return new RedustProcess(child, port, output, exited)
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal)
    return this.exited
  }
}

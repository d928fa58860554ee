/**
 * Harness of the inspection CLI's end-to-end tests: a private build of the `redust` binary, a way
 * to run it as a child process, and data directories written by the real engine and AofLog.
 *
 * ## Why a private build (and not `dist/`)
 *
 * `dist/` may be stale (sources edited since the last `npm run build`) or rebuilt by another
 * process while tests read it. So the tests transpile `src/**\/*.ts` themselves with TypeScript's
 * `transpileModule` (the project compiles with `isolatedModules` and `verbatimModuleSyntax`, so a
 * per-file transpile is exactly what `tsc` emits, minus type checking, which `npm run typecheck`
 * does) into `node_modules/.cache/redust-cli-e2e/<hash of the sources>/`. A build takes about a
 * second, is reused while the sources are unchanged, and is written under a temporary name then
 * renamed, so parallel test files never see a partial build. The binary then runs as
 * `node <build>/app/cli.main.js …`, resolving packages from the project's node_modules.
 *
 * @category test support
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { Engine, type Clock } from '../../src/app/engine.js'
import { openDurableLog } from '../../src/app/recovery.js'
import type { AofLog } from '../../src/infra/log/aofLog.js'
import type { Reply } from '../../src/domain/reply.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SRC = path.join(ROOT, 'src')
const CACHE = path.join(ROOT, 'node_modules', '.cache', 'redust-cli-e2e')

// ---------------------------------------------------------------------------------------------
// build
// ---------------------------------------------------------------------------------------------

const sourceFiles = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path.join(dir, e.name)] : []))
    .sort()

/** Transpiles src/ into a content-addressed cache directory; returns the path of cli.main.js. */
export const buildCli = (): string => {
  const files = sourceFiles(SRC)
  const hash = createHash('sha256')
  hash.update(ts.version)
  for (const f of files) {
    hash.update(path.relative(SRC, f))
    hash.update(fs.readFileSync(f))
  }
  const out = path.join(CACHE, hash.digest('hex').slice(0, 16))
  const main = path.join(out, 'app', 'cli.main.js')
  if (fs.existsSync(main)) return main
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`
  for (const f of files) {
    const { outputText } = ts.transpileModule(fs.readFileSync(f, 'utf8'), {
      fileName: f,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        verbatimModuleSyntax: true,
        isolatedModules: true,
        esModuleInterop: true,
        sourceMap: false,
      },
    })
    const target = path.join(tmp, path.relative(SRC, f)).replace(/\.ts$/, '.js')
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, outputText)
  }
  // Inside node_modules, Node finds no package scope above: declare ESM explicitly.
  fs.writeFileSync(path.join(tmp, 'package.json'), '{ "type": "module" }\n')
  try {
    fs.renameSync(tmp, out)
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }) // another test file won the race
  }
  if (!fs.existsSync(main)) throw new Error(`build failed: ${main} missing`)
  // Builds of older sources are garbage once a day old.
  for (const name of fs.readdirSync(CACHE)) {
    const p = path.join(CACHE, name)
    if (p !== out && Date.now() - fs.statSync(p).mtimeMs > 24 * 3600 * 1000) fs.rmSync(p, { recursive: true, force: true })
  }
  return main
}

// ---------------------------------------------------------------------------------------------
// running
// ---------------------------------------------------------------------------------------------

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the binary to completion. */
export const runCli = (bin: string, args: ReadonlyArray<string>, cwd: string = ROOT): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, REDUST_DEBUG: '', NO_COLOR: '1' } },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') return reject(err)
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr })
      },
    )
  })

/** Starts the binary and collects its output as it comes (for `--follow`). */
export const startCli = (bin: string, args: ReadonlyArray<string>): { child: ChildProcess; out: () => string; err: () => string } => {
  const child = spawn(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
  let out = ''
  let err = ''
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')))
  child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')))
  return { child, out: () => out, err: () => err }
}

/** Resolves once `pred()` holds (polling), or rejects after `ms` with `what`. */
export const eventually = async (pred: () => boolean, what: () => string, ms = 20_000): Promise<void> => {
  const until = Date.now() + ms
  while (!pred()) {
    if (Date.now() > until) throw new Error(`timed out waiting: ${what()}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

// ---------------------------------------------------------------------------------------------
// data directories
// ---------------------------------------------------------------------------------------------

export const tempDir = (prefix = 'redust-cli-'): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** 2026-11-25T14:02:00.000Z: a fixed start so outputs are exact. */
export const T0 = Date.UTC(2026, 10, 25, 14, 2, 0)

/** A clock the test moves; every command advances it by `step` ms after running. */
export class StepClock implements Clock {
  constructor(
    public ms: number = T0,
    public step = 250,
  ) {}

  now(): number {
    return this.ms
  }
}

/** An engine over a durable data directory, as `redust serve` runs it (without the network). */
export class DirServer {
  private constructor(
    readonly dir: string,
    readonly engine: Engine,
    readonly log: AofLog,
    readonly clock: StepClock,
  ) {}

  static async open(dir: string, clock: StepClock = new StepClock()): Promise<DirServer> {
    const opened = await openDurableLog(dir, { now: () => clock.now(), appendfsync: 'no' })
    const engine = new Engine({ log: opened.log, clock, state: opened.state, seq: opened.seq })
    return new DirServer(dir, engine, opened.log, clock)
  }

  /** Runs one command, then moves the clock on by its step. */
  async run(...argv: string[]): Promise<Reply> {
    const reply = await this.engine.call(argv)
    this.clock.ms += this.clock.step
    return reply
  }

  async runAll(commands: ReadonlyArray<ReadonlyArray<string>>): Promise<void> {
    for (const c of commands) await this.run(...c)
  }

  /** A checkpoint (BGREWRITEAOF): snapshot of the current state + a new segment. */
  async checkpoint(): Promise<void> {
    await this.log.checkpoint(() => this.engine.capture(), this.engine.seq)
  }

  close(): Promise<void> {
    return this.engine.close()
  }
}

/**
 * The fixture every exact-output test uses: 18 records, one per command, 250 ms apart from T0,
 * covering every event type (record 6 is a transaction of two events).
 */
export const FIXTURE_COMMANDS: ReadonlyArray<ReadonlyArray<string>> = [
  ['SET', 'user:1', 'alice'],
  ['SET', 'session:9', 'tok\x00\xff"x', 'PX', '60000'],
  ['INCR', 'counter'],
  ['INCR', 'counter'],
  ['APPEND', 'user:1', '!'],
  ['MULTI'],
  ['SET', 'a', '1'],
  ['SET', 'b', '2'],
  ['EXEC'],
  ['RENAME', 'a', 'c'],
  ['DEL', 'b', 'c'],
  ['SETRANGE', 'user:1', '1', 'L'],
  ['EXPIRE', 'user:1', '100'],
  ['PERSIST', 'user:1'],
  ['SET', 'big', 'x'.repeat(200)],
  ['MOVE', 'big', '3'],
  ['COPY', 'counter', 'counter2', 'DB', '2'],
  ['SWAPDB', '0', '1'],
  ['SWAPDB', '0', '1'],
  ['FLUSHDB'],
  ['SET', 'user:1', 'bob'],
]

/** Writes the fixture into a fresh directory and returns it. */
export const fixtureDir = async (commands: ReadonlyArray<ReadonlyArray<string>> = FIXTURE_COMMANDS): Promise<string> => {
  const dir = tempDir()
  const server = await DirServer.open(dir)
  await server.runAll(commands)
  await server.close()
  return dir
}

/** Copies a data directory (to damage the copy). */
export const copyDir = (dir: string): string => {
  const to = tempDir()
  fs.cpSync(dir, to, { recursive: true })
  return to
}

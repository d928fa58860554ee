/**
 * A fault-injecting wrapper around a {@link FileSystem}, for durability tests (DURABILITY.md §9
 * tests 11, 12 and 20): fail the N-th write or fdatasync with EIO/ENOSPC, fail every call from the
 * N-th on (a full disk), leave a partial write behind before failing, or hold every fdatasync
 * until the test releases it.
 *
 * Faults apply only to files accepted by `target` (default: every file), and operations are
 * counted per kind over those files only, so "the 3rd write" means the 3rd write to, say, an AOF
 * segment, whatever the manifest or snapshot writers did meanwhile.
 *
 * It lives in src/ (not test/) so end-to-end tests of the server can inject the same faults.
 *
 * @category infra
 */
import { nodeFileSystem, type FileSystem, type OpenMode } from './fileSystem.js'

/** The operations a rule can fail. */
export type FaultOp = 'open' | 'write' | 'fdatasync' | 'ftruncate' | 'rename' | 'unlink' | 'fsyncDir'

export interface FaultRule {
  readonly op: FaultOp
  /** Fail exactly the n-th matching call (1-based)… */
  readonly nth?: number
  /** …or every matching call from the n-th on (a full disk). */
  readonly from?: number
  /** The errno code of the injected error, e.g. 'EIO' or 'ENOSPC'. */
  readonly code: string
  /** For writes: bytes that really reach the file before the call fails (a torn write). */
  readonly partialBytes?: number
}

const injected = (code: string, op: FaultOp, file: string): NodeJS.ErrnoException => {
  const text = code === 'ENOSPC' ? 'no space left on device' : code === 'EIO' ? 'i/o error' : 'injected fault'
  return Object.assign(new Error(`${code}: ${text}, ${op} '${file}'`), { code, syscall: op, path: file })
}

export class FaultyFileSystem implements FileSystem {
  /** Calls per operation kind over targeted files. */
  readonly counts: Record<FaultOp, number> = {
    open: 0,
    write: 0,
    fdatasync: 0,
    ftruncate: 0,
    rename: 0,
    unlink: 0,
    fsyncDir: 0,
  }
  /** fdatasync calls currently running (targeted files), and the highest value seen. */
  syncsInFlight = 0
  maxSyncsInFlight = 0
  /** Every fdatasync on a targeted file awaits this before it runs (a slow or stalled disk). */
  fdatasyncGate: ((n: number) => Promise<void>) | undefined
  /** A log of targeted operations, in order: `write`, `fdatasync`, … (for ordering assertions). */
  readonly trace: string[] = []

  private readonly rules: FaultRule[] = []
  private readonly paths = new Map<number, string>()

  constructor(
    private readonly inner: FileSystem = nodeFileSystem,
    private readonly target: (file: string) => boolean = () => true,
  ) {}

  /** Adds a fault rule; returns `this` for chaining. */
  fail(rule: FaultRule): this {
    this.rules.push(rule)
    return this
  }

  /** Removes every rule (the disk was repaired, space was freed). */
  heal(): this {
    this.rules.length = 0
    return this
  }

  private check(op: FaultOp, file: string): FaultRule | undefined {
    if (!this.target(file)) return undefined
    const n = ++this.counts[op]
    this.trace.push(op)
    return this.rules.find((r) => r.op === op && (r.nth === n || (r.from !== undefined && n >= r.from)))
  }

  private fileOf(fd: number): string {
    return this.paths.get(fd) ?? `<fd ${fd}>`
  }

  async open(file: string, mode: OpenMode): Promise<number> {
    const rule = this.check('open', file)
    if (rule) throw injected(rule.code, 'open', file)
    const fd = await this.inner.open(file, mode)
    this.paths.set(fd, file)
    return fd
  }

  async close(fd: number): Promise<void> {
    this.paths.delete(fd)
    return this.inner.close(fd)
  }

  async write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const file = this.fileOf(fd)
    const rule = this.check('write', file)
    if (rule) {
      const partial = Math.min(rule.partialBytes ?? 0, length)
      if (partial > 0) await this.inner.write(fd, buffer, offset, partial, position)
      throw injected(rule.code, 'write', file)
    }
    return this.inner.write(fd, buffer, offset, length, position)
  }

  /** Counted, traced and failed exactly like `write` (a rule on the N-th write hits either). */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const file = this.fileOf(fd)
    const rule = this.check('write', file)
    if (rule) {
      const partial = Math.min(rule.partialBytes ?? 0, length)
      if (partial > 0) this.inner.writeSync(fd, buffer, offset, partial, position)
      throw injected(rule.code, 'write', file)
    }
    return this.inner.writeSync(fd, buffer, offset, length, position)
  }

  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.inner.read(fd, buffer, offset, length, position)
  }

  async fdatasync(fd: number): Promise<void> {
    const file = this.fileOf(fd)
    const targeted = this.target(file)
    const rule = this.check('fdatasync', file)
    if (targeted) {
      this.syncsInFlight++
      this.maxSyncsInFlight = Math.max(this.maxSyncsInFlight, this.syncsInFlight)
    }
    try {
      if (targeted && this.fdatasyncGate) await this.fdatasyncGate(this.counts.fdatasync)
      if (rule) throw injected(rule.code, 'fdatasync', file)
      await this.inner.fdatasync(fd)
    } finally {
      if (targeted) this.syncsInFlight--
    }
  }

  /**
   * The blocking fdatasync, absent until {@link withBlockingFdatasync} (so a log under test uses
   * the asynchronous, gateable `fdatasync` by default). Counted, traced and failed like
   * `fdatasync` (a rule on the N-th fdatasync hits either); no gate can hold it.
   */
  fdatasyncSync: ((fd: number) => void) | undefined

  /** Offers `fdatasyncSync`; `before(n)` runs ahead of the N-th (advance a fake clock: a slow disk). */
  withBlockingFdatasync(before: (n: number) => void = () => undefined): this {
    this.fdatasyncSync = (fd) => {
      const file = this.fileOf(fd)
      const rule = this.check('fdatasync', file)
      if (this.target(file)) before(this.counts.fdatasync)
      if (rule) throw injected(rule.code, 'fdatasync', file)
      const inner = this.inner.fdatasyncSync
      if (inner === undefined) throw new Error('the inner file system has no fdatasyncSync')
      inner.call(this.inner, fd)
    }
    return this
  }

  async ftruncate(fd: number, length: number): Promise<void> {
    const file = this.fileOf(fd)
    const rule = this.check('ftruncate', file)
    if (rule) throw injected(rule.code, 'ftruncate', file)
    return this.inner.ftruncate(fd, length)
  }

  fsize(fd: number): Promise<number> {
    return this.inner.fsize(fd)
  }

  size(file: string): Promise<number | undefined> {
    return this.inner.size(file)
  }

  readFile(file: string): Promise<Buffer> {
    return this.inner.readFile(file)
  }

  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir)
  }

  mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(dir)
  }

  async rename(from: string, to: string): Promise<void> {
    const rule = this.check('rename', to)
    if (rule) throw injected(rule.code, 'rename', to)
    return this.inner.rename(from, to)
  }

  async unlink(file: string): Promise<void> {
    const rule = this.check('unlink', file)
    if (rule) throw injected(rule.code, 'unlink', file)
    return this.inner.unlink(file)
  }

  async fsyncDir(dir: string): Promise<void> {
    const rule = this.check('fsyncDir', dir)
    if (rule) throw injected(rule.code, 'fsyncDir', dir)
    return this.inner.fsyncDir(dir)
  }
}

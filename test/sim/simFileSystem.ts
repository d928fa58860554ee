/**
 * An in-memory {@link FileSystem} that implements a power-loss crash model, for the deterministic
 * simulation (DURABILITY.md §9 tests 3 and 16, after SQLite's `test6.c` crash VFS and LazyFS).
 *
 * ## What it models
 *
 * - **Files** (inodes) have two contents: the *durable* one (what the platter holds after the last
 *   successful `fdatasync`) and the *page cache* one (what reads see). Every write or truncate
 *   since the last sync is kept, in issue order, as a pending operation.
 * - **Directory entries** likewise: the current name → inode table and the durable one. Creations
 *   (open 'w'/'wx' of a new name), renames and unlinks since the last `fsyncDir` of their
 *   directory are pending directory operations, in issue order (a journaling file system commits
 *   them in order, so a crash keeps a prefix of them).
 * - **Effects happen at issue time** (the kernel did the work; the caller just has not been told
 *   yet), except `fdatasync` and `fsyncDir`, whose durability effect happens when they complete,
 *   covering what was issued before they were called.
 * - **fsyncgate**: a failed `fdatasync` loses the pending writes it covered — reads still see them
 *   (the page cache keeps the pages, marked clean) but no later sync will ever make them durable,
 *   and a power loss loses them.
 * - **Completion order**: every call returns a promise that settles only when the test *delivers*
 *   it (`deliver`, `deliverRandom`, `deliverAll`), in an order the test picks with its seeded PRNG —
 *   or at once, in issue order, in `auto` mode. Nothing here touches real I/O or real time.
 * - **`writeSync`** (the log's group-commit flush) has the effect, faults and short writes of
 *   `write` but returns at once, like a blocking write(2): nothing to deliver. Durability is
 *   unchanged: the bytes are pending until an fdatasync covers them.
 *
 * ## `crash(rng, kind)` — the disk after a crash
 *
 * - `process` (kill -9): the kernel survives: every issued operation is on "disk" as the page
 *   cache shows it (fsyncgate pages included). `reopen` gives the next process the same disk with
 *   its durability state intact; `crash(…, 'process')` gives an image where everything is durable.
 * - `power-writeback`: the kernel wrote back every dirty page before the power went out; only
 *   writes lost to a failed fdatasync (fsyncgate) are missing. Deterministic (regression tests).
 * - `power-ordered`: the durable directory plus a random prefix of the pending directory
 *   operations; for each file, its durable content plus a random prefix of its pending writes,
 *   the first write past the cut torn (some sectors kept, the rest dropped, zero-filled or
 *   garbled). What `ext4 data=ordered` appends and LazyFS's `torn-seq` produce.
 * - `power-reordered`: like SQLite's crash VFS: each sector (or whole write) of every pending
 *   write is independently kept, dropped, zero-filled or garbled, so a later write can reach the
 *   disk while an earlier one does not (page-cache writeback order is not issue order).
 *
 * The sector size (whole write, 512 B or 4 KiB) is picked per crash. The result is a fresh image
 * from which a new `SimFileSystem` is built; the crashed instance is dead (its calls never settle).
 *
 * @category test support
 */
import * as path from 'node:path'
import type { FileSystem, OpenMode } from '../../src/infra/log/fileSystem.js'

// ---------------------------------------------------------------------------------------------
// a tiny seeded PRNG (also used by the harness)
// ---------------------------------------------------------------------------------------------

/** mulberry32: a 32-bit seeded PRNG. Never Math.random in the simulation. */
export class Rng {
  private s: number

  constructor(seed: number) {
    this.s = seed >>> 0
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 0x100000000
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor(this.float() * n)
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  chance(p: number): boolean {
    return this.float() < p
  }

  pick<T>(items: ReadonlyArray<T>): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list')
    return items[this.int(items.length)]!
  }

  /** Picks an index by weight. */
  weighted(weights: ReadonlyArray<number>): number {
    let total = 0
    for (const w of weights) total += Math.max(0, w)
    let x = this.float() * total
    for (let i = 0; i < weights.length; i++) {
      x -= Math.max(0, weights[i]!)
      if (x < 0) return i
    }
    return weights.length - 1
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff
    return b
  }

  /** An independent stream derived from this one. */
  fork(): Rng {
    return new Rng(this.u32() ^ 0x9e3779b9)
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[items[i], items[j]] = [items[j]!, items[i]!]
    }
    return items
  }
}

/**
 * The simulation's entropy for code that asks `node:crypto` for random bytes (segment uids): the
 * sim specs mock `randomBytes` to read from here, so a seed reproduces the exact bytes on disk.
 */
export const simEntropy: { rng: Rng } = { rng: new Rng(1) }

// ---------------------------------------------------------------------------------------------
// files
// ---------------------------------------------------------------------------------------------

/** A growable byte array. */
class Bytes {
  buf: Buffer
  len: number

  constructor(init?: Buffer) {
    this.buf = Buffer.alloc(Math.max(64, init?.length ?? 0))
    this.len = 0
    if (init !== undefined) this.write(0, init)
  }

  private reserve(n: number): void {
    if (n <= this.buf.length) return
    const next = Buffer.alloc(Math.max(n, this.buf.length * 2))
    this.buf.copy(next, 0, 0, this.len)
    this.buf = next
  }

  write(pos: number, data: Uint8Array): void {
    this.reserve(pos + data.length)
    if (pos > this.len) this.buf.fill(0, this.len, pos)
    this.buf.set(data, pos)
    this.len = Math.max(this.len, pos + data.length)
  }

  truncate(n: number): void {
    if (n > this.len) {
      this.reserve(n)
      this.buf.fill(0, this.len, n)
    }
    this.len = n
  }

  snapshot(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len))
  }
}

type FileOp = { readonly kind: 'write'; readonly pos: number; readonly data: Buffer } | { readonly kind: 'truncate'; readonly len: number }

let inodeIds = 0

class Inode {
  readonly id = ++inodeIds
  /** What reads see. */
  readonly data: Bytes
  /** What the disk holds as of the last successful fdatasync. */
  durable: Buffer
  /** Writes and truncates issued since, in order. */
  pending: FileOp[] = []

  constructor(content: Buffer = Buffer.alloc(0), durable = true) {
    this.data = new Bytes(content)
    this.durable = durable ? Buffer.from(content) : Buffer.alloc(0)
    if (!durable && content.length > 0) this.pending.push({ kind: 'write', pos: 0, data: Buffer.from(content) })
  }

  apply(op: FileOp): void {
    if (op.kind === 'write') this.data.write(op.pos, op.data)
    else this.data.truncate(op.len)
  }
}

/** `path → inode` (undefined: removed), applied atomically: one create, rename or unlink. */
interface DirOp {
  readonly dir: string
  readonly set: ReadonlyArray<readonly [string, Inode | undefined]>
}

/** A crash image: file path → content. */
export type DiskImage = ReadonlyMap<string, Buffer>

export type CrashKind = 'process' | 'power-writeback' | 'power-ordered' | 'power-reordered'

/** What happens to one unsynced write (or sector of it) in a power loss. */
export type Fate = 'keep' | 'drop' | 'zero' | 'garble'

/** Injected I/O errors, drawn from the file system's own PRNG at issue time. */
export interface SimFaults {
  /** Probability that a write fails (EIO or ENOSPC; ENOSPC may leave a partial write). */
  readonly writeError?: number
  /** Probability that an fdatasync fails with EIO (fsyncgate: the covered writes are lost). */
  readonly syncError?: number
  /** Probability that a rename, open for writing, or fsyncDir fails (EIO / ENOSPC). */
  readonly metaError?: number
  /** Only files this accepts get faults (default: all). */
  readonly target?: (file: string) => boolean
}

export interface SimStats {
  ops: number
  writes: number
  syncs: number
  dirSyncs: number
  faults: number
}

interface Delivery {
  readonly label: string
  readonly settle: () => void
  /** The event-loop iteration the call was issued in. */
  readonly loop: number
}

const errno = (code: string, syscall: string, file: string): NodeJS.ErrnoException => {
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EEXIST: 'file already exists',
    EBADF: 'bad file descriptor',
    EIO: 'i/o error',
    ENOSPC: 'no space left on device',
    EISDIR: 'illegal operation on a directory',
  }
  return Object.assign(new Error(`${code}: ${text[code] ?? 'error'}, ${syscall} '${file}'`), { code, syscall, path: file, errno: -1 })
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined)

// ---------------------------------------------------------------------------------------------
// the file system
// ---------------------------------------------------------------------------------------------

export class SimFileSystem implements FileSystem {
  /** `manual`: calls settle only when delivered; `auto`: each settles in a microtask, in issue order. */
  mode: 'manual' | 'auto' = 'manual'
  faults: SimFaults = {}
  readonly stats: SimStats = { ops: 0, writes: 0, syncs: 0, dirSyncs: 0, faults: 0 }
  /** Every call, in issue order (`op path`), for traces and debugging. */
  readonly trace: string[] = []
  traceEnabled = false
  /** The simulated clock, for measuring how long fdatasyncs stay in flight. */
  clock: () => number = () => 0

  private readonly files = new Map<string, Inode>()
  private readonly durableFiles = new Map<string, Inode>()
  private readonly dirs = new Set<string>(['/'])
  private dirOps: DirOp[] = []
  private readonly fds = new Map<number, { readonly file: string; readonly inode: Inode; readonly writable: boolean }>()
  private nextFd = 3
  private readonly queue: Delivery[] = []
  private dead = false
  private loop = 0
  private maxSync = 0
  private readonly syncsInFlight = new Set<{ readonly started: number }>()

  constructor(
    private readonly rng: Rng,
    image: DiskImage = new Map(),
    dirs: Iterable<string> = [],
  ) {
    for (const d of dirs) this.addDir(d)
    for (const [file, content] of image) {
      this.addDir(path.dirname(file))
      const inode = new Inode(content)
      this.files.set(file, inode)
      this.durableFiles.set(file, inode)
    }
  }

  // -------------------------------------------------------------------------------------------
  // delivery (the test drives completion order)
  // -------------------------------------------------------------------------------------------

  /** Calls issued but not yet settled. */
  get pendingCount(): number {
    return this.queue.length
  }

  /**
   * Marks the end of an event-loop iteration (the test ran the check phase: pending
   * setImmediates). Node delivers an I/O completion in the poll phase of an iteration *after* the
   * one that issued the request, so a chain of dependent requests never completes without the
   * check phase running in between; `deliverRandom` respects that.
   */
  tick(): void {
    this.loop++
  }

  /** Calls that may complete now (issued before the last `tick`). */
  get deliverableCount(): number {
    let n = 0
    for (const d of this.queue) if (d.loop < this.loop) n++
    return n
  }

  pendingLabels(): string[] {
    return this.queue.map((d) => d.label)
  }

  /** Settles the `i`-th pending call. */
  deliver(i: number): string | undefined {
    const [d] = this.queue.splice(i, 1)
    if (d === undefined) return undefined
    d.settle()
    return d.label
  }

  /**
   * Settles one call that may complete now (see `tick`), picked by `rng` — the oldest with
   * probability 0.6, else any: completions come in any order.
   */
  deliverRandom(rng: Rng): string | undefined {
    const ready: number[] = []
    this.queue.forEach((d, i) => {
      if (d.loop < this.loop) ready.push(i)
    })
    if (ready.length === 0) return undefined
    const i = rng.chance(0.6) ? ready[0]! : rng.pick(ready)
    return this.deliver(i)
  }

  /** Settles everything pending, oldest first. */
  deliverAll(): void {
    while (this.queue.length > 0) this.deliver(0)
  }

  /** True once `crash` was called: every later call on this instance never settles. */
  get crashed(): boolean {
    return this.dead
  }

  private settleLater<T>(label: string, outcome: () => T): Promise<T> {
    if (this.dead) return never<T>()
    this.stats.ops++
    if (this.traceEnabled) this.trace.push(label)
    return new Promise<T>((resolve, reject) => {
      const settle = (): void => {
        if (this.dead) return
        try {
          resolve(outcome())
        } catch (err) {
          reject(err)
        }
      }
      if (this.mode === 'auto') queueMicrotask(settle)
      else this.queue.push({ label, settle, loop: this.loop })
    })
  }

  /** Runs `now` synchronously (the effect at issue time) and settles its result or error later. */
  private issue<T>(label: string, now: () => T): Promise<T> {
    if (this.dead) return never<T>()
    let value: T
    try {
      value = now()
    } catch (err) {
      return this.settleLater(label, () => {
        throw err
      })
    }
    return this.settleLater(label, () => value)
  }

  private fault(p: number | undefined, file: string): boolean {
    if (p === undefined || p <= 0) return false
    if (this.faults.target !== undefined && !this.faults.target(file)) return false
    if (!this.rng.chance(p)) return false
    this.stats.faults++
    return true
  }

  // -------------------------------------------------------------------------------------------
  // namespace helpers
  // -------------------------------------------------------------------------------------------

  private addDir(dir: string): void {
    for (let d = dir; !this.dirs.has(d); d = path.dirname(d)) this.dirs.add(d)
  }

  private link(op: DirOp): void {
    for (const [file, inode] of op.set) {
      if (inode === undefined) this.files.delete(file)
      else this.files.set(file, inode)
    }
    this.dirOps.push(op)
  }

  private fdEntry(fd: number, syscall: string): { readonly file: string; readonly inode: Inode; readonly writable: boolean } {
    const e = this.fds.get(fd)
    if (e === undefined) throw errno('EBADF', syscall, `<fd ${fd}>`)
    return e
  }

  private requireDir(dir: string, syscall: string): void {
    if (!this.dirs.has(dir)) throw errno('ENOENT', syscall, dir)
  }

  // -------------------------------------------------------------------------------------------
  // FileSystem
  // -------------------------------------------------------------------------------------------

  open(file: string, mode: OpenMode): Promise<number> {
    return this.issue(`open ${file} ${mode}`, () => {
      if (this.dirs.has(file)) throw errno('EISDIR', 'open', file)
      this.requireDir(path.dirname(file), 'open')
      let inode = this.files.get(file)
      if (mode === 'r' || mode === 'r+') {
        if (inode === undefined) throw errno('ENOENT', 'open', file)
      } else {
        if (this.fault(this.faults.metaError, file)) throw errno(this.rng.chance(0.5) ? 'EIO' : 'ENOSPC', 'open', file)
        if (mode === 'wx' && inode !== undefined) throw errno('EEXIST', 'open', file)
        if (inode === undefined) {
          inode = new Inode(Buffer.alloc(0), false)
          this.link({ dir: path.dirname(file), set: [[file, inode]] })
        } else if (inode.data.len > 0) {
          const op: FileOp = { kind: 'truncate', len: 0 }
          inode.apply(op)
          inode.pending.push(op)
        }
      }
      const fd = this.nextFd++
      this.fds.set(fd, { file, inode, writable: mode !== 'r' })
      return fd
    })
  }

  close(fd: number): Promise<void> {
    return this.issue(`close ${fd}`, () => {
      this.fdEntry(fd, 'close')
      this.fds.delete(fd)
    })
  }

  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const e = this.fds.get(fd)
    return this.issue(`write ${e?.file ?? fd} @${position}+${length}`, () => this.doWrite(fd, buffer, offset, length, position))
  }

  /**
   * The write at once, with the same effects, faults and short writes as `write` (the same draws
   * from the PRNG, so a seed stays deterministic). On a crashed instance it throws EIO and touches
   * nothing: the dead process's code may still run (a pending setImmediate), but its disk is gone.
   */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const label = `writeSync ${this.fds.get(fd)?.file ?? fd} @${position}+${length}`
    if (this.dead) throw errno('EIO', 'write', `${label} (crashed)`)
    this.stats.ops++
    if (this.traceEnabled) this.trace.push(label)
    return this.doWrite(fd, buffer, offset, length, position)
  }

  /** The effect of a write, at issue time; returns the count written or throws. */
  private doWrite(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const { file, inode, writable } = this.fdEntry(fd, 'write')
    if (!writable) throw errno('EBADF', 'write', file)
    this.stats.writes++
    const data = Buffer.from(buffer.subarray(offset, offset + length))
    if (this.fault(this.faults.writeError, file)) {
      const code = this.rng.chance(0.5) ? 'EIO' : 'ENOSPC'
      // A full disk may take part of the write before failing.
      const partial = code === 'ENOSPC' ? this.rng.int(length) : 0
      if (partial > 0) {
        const op: FileOp = { kind: 'write', pos: position, data: data.subarray(0, partial) }
        inode.apply(op)
        inode.pending.push(op)
      }
      throw errno(code, 'write', file)
    }
    // Occasionally a short write (callers must loop).
    const n = length > 1 && this.rng.chance(0.02) ? 1 + this.rng.int(length - 1) : length
    const op: FileOp = { kind: 'write', pos: position, data: data.subarray(0, n) }
    inode.apply(op)
    inode.pending.push(op)
    return n
  }

  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.issue(`read ${fd}`, () => {
      const { inode } = this.fdEntry(fd, 'read')
      const end = Math.min(inode.data.len, position + length)
      if (end <= position) return 0
      buffer.set(inode.data.buf.subarray(position, end), offset)
      return end - position
    })
  }

  fdatasync(fd: number): Promise<void> {
    const e = this.fds.get(fd)
    if (this.dead) return never()
    if (e === undefined) return this.issue(`fdatasync ${fd}`, () => this.fdEntry(fd, 'fdatasync') as never)
    const { file, inode } = e
    this.stats.syncs++
    const covered = inode.pending.length
    const fails = this.fault(this.faults.syncError, file)
    const token = { started: this.clock() }
    this.syncsInFlight.add(token)
    return this.settleLater(`fdatasync ${file}`, () => {
      this.syncsInFlight.delete(token)
      this.maxSync = Math.max(this.maxSync, this.clock() - token.started)
      const ops = inode.pending.slice(0, covered)
      // Whatever was issued after the call stays pending.
      inode.pending = inode.pending.slice(covered)
      if (fails) {
        // fsyncgate: the pages are marked clean; the data never reaches the disk.
        throw errno('EIO', 'fdatasync', file)
      }
      const durable = new Bytes(inode.durable)
      for (const op of ops) {
        if (op.kind === 'write') durable.write(op.pos, op.data)
        else durable.truncate(op.len)
      }
      inode.durable = durable.snapshot()
    })
  }

  ftruncate(fd: number, length: number): Promise<void> {
    return this.issue(`ftruncate ${fd} ${length}`, () => {
      const { file, inode, writable } = this.fdEntry(fd, 'ftruncate')
      if (!writable) throw errno('EBADF', 'ftruncate', file)
      const op: FileOp = { kind: 'truncate', len: length }
      inode.apply(op)
      inode.pending.push(op)
    })
  }

  fsize(fd: number): Promise<number> {
    return this.issue(`fsize ${fd}`, () => this.fdEntry(fd, 'fstat').inode.data.len)
  }

  size(file: string): Promise<number | undefined> {
    return this.issue(`size ${file}`, () => this.files.get(file)?.data.len)
  }

  readFile(file: string): Promise<Buffer> {
    return this.issue(`readFile ${file}`, () => {
      const inode = this.files.get(file)
      if (inode === undefined) throw errno(this.dirs.has(file) ? 'EISDIR' : 'ENOENT', 'open', file)
      return inode.data.snapshot()
    })
  }

  readdir(dir: string): Promise<string[]> {
    return this.issue(`readdir ${dir}`, () => {
      this.requireDir(dir, 'scandir')
      const names: string[] = []
      for (const file of this.files.keys()) if (path.dirname(file) === dir) names.push(path.basename(file))
      for (const d of this.dirs) if (d !== dir && path.dirname(d) === dir) names.push(path.basename(d))
      // Directory order is arbitrary on real file systems: make it seeded.
      return this.rng.shuffle(names.sort())
    })
  }

  mkdir(dir: string): Promise<void> {
    return this.issue(`mkdir ${dir}`, () => {
      if (this.files.has(dir)) throw errno('EEXIST', 'mkdir', dir)
      this.addDir(dir)
    })
  }

  rename(from: string, to: string): Promise<void> {
    return this.issue(`rename ${from} ${to}`, () => {
      const inode = this.files.get(from)
      if (inode === undefined) throw errno('ENOENT', 'rename', from)
      if (this.fault(this.faults.metaError, to)) throw errno(this.rng.chance(0.5) ? 'EIO' : 'ENOSPC', 'rename', to)
      if (from === to) return
      this.link({ dir: path.dirname(to), set: [[to, inode], [from, undefined]] })
    })
  }

  unlink(file: string): Promise<void> {
    return this.issue(`unlink ${file}`, () => {
      if (!this.files.has(file)) throw errno('ENOENT', 'unlink', file)
      this.link({ dir: path.dirname(file), set: [[file, undefined]] })
    })
  }

  fsyncDir(dir: string): Promise<void> {
    if (this.dead) return never()
    this.stats.dirSyncs++
    const covered = this.dirOps.filter((op) => op.dir === dir)
    const fails = this.fault(this.faults.metaError, dir)
    return this.settleLater(`fsyncDir ${dir}`, () => {
      if (!this.dirs.has(dir)) throw errno('ENOENT', 'open', dir)
      if (fails) throw errno('EIO', 'fsync', dir)
      for (const op of covered) {
        const i = this.dirOps.indexOf(op)
        if (i < 0) continue
        // Directory operations commit in order: everything before a covered op commits too.
        for (const earlier of this.dirOps.splice(0, i + 1)) {
          for (const [file, inode] of earlier.set) {
            if (inode === undefined) this.durableFiles.delete(file)
            else this.durableFiles.set(file, inode)
          }
        }
      }
    })
  }

  // -------------------------------------------------------------------------------------------
  // inspection (tests)
  // -------------------------------------------------------------------------------------------

  /** The longest time an fdatasync took or has been in flight, in simulated ms. */
  maxSyncMs(): number {
    let m = this.maxSync
    for (const t of this.syncsInFlight) m = Math.max(m, this.clock() - t.started)
    return m
  }

  /** Current names (as reads see them). */
  listFiles(): string[] {
    return [...this.files.keys()].sort()
  }

  /** What a read of `file` returns now. */
  contentOf(file: string): Buffer | undefined {
    return this.files.get(file)?.data.snapshot()
  }

  /** Bytes issued but not yet durable, over all files (0 means a power loss loses nothing). */
  unsyncedOps(): number {
    let n = this.dirOps.length
    for (const inode of new Set(this.files.values())) n += inode.pending.length
    return n
  }

  // -------------------------------------------------------------------------------------------
  // crash
  // -------------------------------------------------------------------------------------------

  /**
   * Kills this instance (every later call and every undelivered one never settles) and returns
   * the disk as a crash of `kind` leaves it, choices drawn from `rng`.
   */
  crash(rng: Rng, kind: CrashKind): { image: Map<string, Buffer>; dirs: string[]; note: string } {
    this.dead = true
    this.queue.length = 0
    const image = new Map<string, Buffer>()
    const dirs = [...this.dirs]
    if (kind === 'process') {
      for (const [file, inode] of this.files) image.set(file, inode.data.snapshot())
      return { image, dirs, note: 'process crash: the page cache survives' }
    }
    if (kind === 'power-writeback') return this.crashWith(() => 'keep')
    // The directory: durable entries plus a prefix of the pending operations (journal order).
    const names = new Map(this.durableFiles)
    const keepDirOps = rng.int(this.dirOps.length + 1)
    for (const op of this.dirOps.slice(0, keepDirOps)) {
      for (const [file, inode] of op.set) {
        if (inode === undefined) names.delete(file)
        else names.set(file, inode)
      }
    }
    const sector = rng.pick([0, 512, 4096]) // 0: whole writes
    const contents = new Map<Inode, Buffer>()
    let torn = 0
    for (const [file, inode] of names) {
      let content = contents.get(inode)
      if (content === undefined) {
        const r = kind === 'power-ordered' ? this.ordered(inode, rng, sector) : this.reordered(inode, rng, sector)
        content = r.content
        torn += r.torn
        contents.set(inode, content)
      }
      image.set(file, content)
    }
    return {
      image,
      dirs,
      note: `${kind}: kept ${keepDirOps}/${this.dirOps.length} directory ops, sector ${sector === 0 ? 'whole write' : sector}, ${torn} pieces lost or damaged`,
    }
  }

  /**
   * A process crash (kill -9) without a power loss: kills this instance (open descriptors and
   * undelivered completions are gone) and returns the same disk for the next process — the page
   * cache included, with what is durable and what is not unchanged, so a later power loss can
   * still lose what was never synced before the kill (recovery must sync what it relies on).
   */
  reopen(rng: Rng): SimFileSystem {
    this.dead = true
    this.queue.length = 0
    const next = new SimFileSystem(rng)
    for (const d of this.dirs) next.dirs.add(d)
    for (const [f, inode] of this.files) next.files.set(f, inode)
    for (const [f, inode] of this.durableFiles) next.durableFiles.set(f, inode)
    next.dirOps = [...this.dirOps]
    return next
  }

  /**
   * A power loss with chosen fates (regression tests): every pending directory operation is kept
   * (or the first `keepDirOps`), and `fate(file, i)` decides the `i`-th pending write or truncate
   * of each file (as a whole). Kills this instance like {@link crash}.
   */
  crashWith(fate: (file: string, i: number) => Fate, keepDirOps = Number.POSITIVE_INFINITY): { image: Map<string, Buffer>; dirs: string[]; note: string } {
    this.dead = true
    this.queue.length = 0
    const names = new Map(this.durableFiles)
    const kept = this.dirOps.slice(0, keepDirOps)
    for (const op of kept) {
      for (const [file, inode] of op.set) {
        if (inode === undefined) names.delete(file)
        else names.set(file, inode)
      }
    }
    const garbler = new Rng(0x5eed)
    const image = new Map<string, Buffer>()
    for (const [file, inode] of names) {
      const b = new Bytes(inode.durable)
      inode.pending.forEach((op, i) => {
        const f = fate(file, i)
        if (op.kind === 'truncate') {
          if (f !== 'drop') b.truncate(op.len)
        } else SimFileSystem.land(b, op, f, garbler)
      })
      image.set(file, b.snapshot())
    }
    return { image, dirs: [...this.dirs], note: `chosen fates, kept ${kept.length}/${this.dirOps.length} directory ops` }
  }

  /** Pending (unsynced) writes and truncates of `file`, in issue order (regression tests). */
  pendingOf(file: string): string[] {
    return (this.files.get(file)?.pending ?? []).map((op) => (op.kind === 'write' ? `write @${op.pos}+${op.data.length}` : `truncate ${op.len}`))
  }

  /** The fate of one piece of an unsynced write. */
  private static fate(rng: Rng): Fate {
    return (['keep', 'drop', 'zero', 'garble'] as const)[rng.weighted([4, 3, 1.5, 1.5])]!
  }

  /** Splits a write at sector boundaries of the file (0: one piece). */
  private static pieces(op: { pos: number; data: Buffer }, sector: number): Array<{ pos: number; data: Buffer }> {
    if (sector === 0) return [op]
    const out: Array<{ pos: number; data: Buffer }> = []
    let at = op.pos
    const end = op.pos + op.data.length
    while (at < end) {
      const next = Math.min(end, (Math.floor(at / sector) + 1) * sector)
      out.push({ pos: at, data: op.data.subarray(at - op.pos, next - op.pos) })
      at = next
    }
    return out
  }

  private static land(b: Bytes, piece: { pos: number; data: Buffer }, fate: Fate, rng: Rng): void {
    if (fate === 'keep') b.write(piece.pos, piece.data)
    else if (fate === 'zero') b.write(piece.pos, Buffer.alloc(piece.data.length))
    else if (fate === 'garble') b.write(piece.pos, rng.bytes(piece.data.length))
  }

  private ordered(inode: Inode, rng: Rng, sector: number): { content: Buffer; torn: number } {
    const b = new Bytes(inode.durable)
    const ops = inode.pending
    const cut = rng.int(ops.length + 1)
    let torn = ops.length - cut
    for (let i = 0; i < cut; i++) {
      const op = ops[i]!
      if (op.kind === 'write') b.write(op.pos, op.data)
      else b.truncate(op.len)
    }
    const tornOp = ops[cut]
    if (tornOp !== undefined && tornOp.kind === 'write') {
      // The write in progress: a prefix of its pieces reached the disk, the next one may be damaged.
      const pieces = SimFileSystem.pieces(tornOp, sector === 0 ? 512 : sector)
      const keep = rng.int(pieces.length)
      for (let i = 0; i < keep; i++) b.write(pieces[i]!.pos, pieces[i]!.data)
      const next = pieces[keep]
      if (next !== undefined) {
        const fate = SimFileSystem.fate(rng)
        if (fate !== 'keep') torn++
        SimFileSystem.land(b, next, fate, rng)
      }
    }
    return { content: b.snapshot(), torn }
  }

  private reordered(inode: Inode, rng: Rng, sector: number): { content: Buffer; torn: number } {
    const b = new Bytes(inode.durable)
    let torn = 0
    for (const op of inode.pending) {
      if (op.kind === 'truncate') {
        if (rng.chance(0.7)) b.truncate(op.len)
        else torn++
        continue
      }
      for (const piece of SimFileSystem.pieces(op, sector)) {
        const fate = SimFileSystem.fate(rng)
        if (fate !== 'keep') torn++
        SimFileSystem.land(b, piece, fate, rng)
      }
    }
    return { content: b.snapshot(), torn }
  }
}

/**
 * The file-system capability used by the durable log, snapshots, the manifest and recovery.
 *
 * Everything that touches disk goes through this small interface (DESIGN.md rule R10) so tests can
 * inject faults — EIO or ENOSPC on the N-th write or fdatasync, a delayed fdatasync, a short write
 * (see `FaultyFileSystem` in ./faultyFileSystem.ts) — the way SQLite's `test6.c` and Garnet's
 * `SimulatedFlakyDevice` do (DURABILITY.md §9 tests 3, 11, 12).
 *
 * Contracts:
 * - Every operation is asynchronous and rejects with the Node `ErrnoException` it got, except
 *   `writeSync` and `fdatasyncSync`, which block and throw it; nothing here retries (a failed fdatasync is not
 *   retryable: "fsyncgate", DURABILITY.md §7.3).
 * - `writeSync` is the log's group-commit flush: one write(2) on the event-loop thread at the end
 *   of a loop turn, as Redis writes its AOF buffer in `beforeSleep` (no threadpool round trip
 *   before the replies go out). `fdatasyncSync` is the `always` group commit's sync while the
 *   disk is fast, as Redis calls it in `beforeSleep`. Everything else stays asynchronous.
 * - `write` and `writeSync` may write fewer bytes than asked (callers loop); `position` is always
 *   explicit, so the writer knows the exact file size after every call and can truncate back to
 *   a frame boundary.
 * - `fsyncDir` makes a directory entry (create, rename, unlink) durable. On Windows, where a
 *   directory cannot be opened for fsync, it is a no-op.
 *
 * @category infra
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

// ---------------------------------------------------------------------------------------------
// interface
// ---------------------------------------------------------------------------------------------

/** Open modes used by Redust: read, read-write, create-exclusive for writing, truncate for writing. */
export type OpenMode = 'r' | 'r+' | 'wx' | 'w'

export interface FileSystem {
  open(file: string, mode: OpenMode): Promise<number>
  close(fd: number): Promise<void>
  /** Writes `length` bytes of `buffer` from `offset` at file `position`; resolves with the count written. */
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>
  /**
   * `write`, synchronously: blocks the calling thread until the kernel took the bytes (not until
   * they are durable) and returns the count written, or throws the `ErrnoException`.
   */
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
  /** Reads up to `length` bytes into `buffer` at `offset` from file `position`; 0 means end of file. */
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>
  /** Flushes the file's data (and the metadata needed to read it back, such as its size). */
  fdatasync(fd: number): Promise<void>
  /**
   * Optional: `fdatasync` on the calling thread, blocking it until the data is durable; throws
   * the `ErrnoException`. The log's `always` group commit uses it while the disk is fast
   * (aofLog.ts, `startSync`); without it (fault-injecting test systems) the log uses `fdatasync`.
   */
  fdatasyncSync?(fd: number): void
  ftruncate(fd: number, length: number): Promise<void>
  /** The file's size in bytes. */
  fsize(fd: number): Promise<number>
  /** The size of a file, or undefined when it does not exist. */
  size(file: string): Promise<number | undefined>
  readFile(file: string): Promise<Buffer>
  /** Entry names of a directory (not paths). */
  readdir(dir: string): Promise<string[]>
  /** Creates a directory and its parents; no error if it exists. */
  mkdir(dir: string): Promise<void>
  /** Atomically replaces `to` with `from` (same directory). */
  rename(from: string, to: string): Promise<void>
  unlink(file: string): Promise<void>
  /** Makes the directory's entries durable. */
  fsyncDir(dir: string): Promise<void>
}

// ---------------------------------------------------------------------------------------------
// node:fs implementation
// ---------------------------------------------------------------------------------------------

const call = <T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))))

const done = (fn: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> =>
  new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err) : resolve())))

/**
 * The production file system: node:fs callback APIs (cheaper than `fs/promises` file handles on
 * the per-batch write path), with a real directory fsync on POSIX.
 */
export const nodeFileSystem: FileSystem = {
  open: (file, mode) => call<number>((cb) => fs.open(file, mode, 0o644, cb)),
  close: (fd) => done((cb) => fs.close(fd, cb)),
  write: (fd, buffer, offset, length, position) =>
    call<number>((cb) => fs.write(fd, buffer, offset, length, position, (err, n) => cb(err, n))),
  writeSync: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  read: (fd, buffer, offset, length, position) =>
    call<number>((cb) => fs.read(fd, buffer, offset, length, position, (err, n) => cb(err, n))),
  fdatasync: (fd) => done((cb) => fs.fdatasync(fd, cb)),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  ftruncate: (fd, length) => done((cb) => fs.ftruncate(fd, length, cb)),
  fsize: (fd) => call<number>((cb) => fs.fstat(fd, (err, st) => cb(err, st?.size ?? 0))),
  size: (file) =>
    new Promise((resolve, reject) =>
      fs.stat(file, (err, st) => {
        if (err === null) resolve(st.size)
        else if (err.code === 'ENOENT') resolve(undefined)
        else reject(err)
      }),
    ),
  readFile: (file) => call<Buffer>((cb) => fs.readFile(file, cb)),
  readdir: (dir) => call<string[]>((cb) => fs.readdir(dir, cb)),
  mkdir: (dir) => done((cb) => fs.mkdir(dir, { recursive: true }, (err) => cb(err))),
  rename: (from, to) => done((cb) => fs.rename(from, to, cb)),
  unlink: (file) => done((cb) => fs.unlink(file, cb)),
  fsyncDir: async (dir) => {
    if (process.platform === 'win32') return
    const fd = await call<number>((cb) => fs.open(dir, 'r', cb))
    try {
      await done((cb) => fs.fsync(fd, cb))
    } finally {
      await done((cb) => fs.close(fd, cb))
    }
  },
}

// ---------------------------------------------------------------------------------------------
// helpers shared by the log, snapshot and manifest writers
// ---------------------------------------------------------------------------------------------

/** Writes all of `buffer[offset, offset+length)` at `position`, looping on short writes. */
export const writeFully = async (
  fsys: FileSystem,
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<void> => {
  let done = 0
  while (done < length) {
    const n = await fsys.write(fd, buffer, offset + done, length - done, position + done)
    if (n <= 0) throw Object.assign(new Error(`short write: wrote 0 of ${length - done} bytes`), { code: 'EIO' })
    done += n
  }
}

/** {@link writeFully} with `writeSync`: all of `buffer[offset, offset+length)` at `position`, or a throw. */
export const writeFullySync = (fsys: FileSystem, fd: number, buffer: Uint8Array, offset: number, length: number, position: number): void => {
  let done = 0
  while (done < length) {
    const n = fsys.writeSync(fd, buffer, offset + done, length - done, position + done)
    if (n <= 0) throw Object.assign(new Error(`short write: wrote 0 of ${length - done} bytes`), { code: 'EIO' })
    done += n
  }
}

/**
 * Replaces `dir/name` atomically with `data`: write `name.tmp`, fdatasync, rename over `name`,
 * fsync the directory (DURABILITY.md §8.1). A crash at any point leaves either the old or the new
 * file, never a mix; a leftover `.tmp` is garbage that recovery removes.
 */
export const writeFileAtomic = async (fsys: FileSystem, dir: string, name: string, data: Uint8Array): Promise<void> => {
  const tmp = path.join(dir, `${name}.tmp`)
  const fd = await fsys.open(tmp, 'w')
  try {
    await writeFully(fsys, fd, data, 0, data.length, 0)
    await fsys.fdatasync(fd)
  } finally {
    await fsys.close(fd)
  }
  await fsys.rename(tmp, path.join(dir, name))
  await fsys.fsyncDir(dir)
}

/** The `code` of a Node system error (`EIO`, `ENOSPC`, `ENOENT`…), if any. */
export const errorCode = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined

/** A short, client-presentable description of an I/O error: `EIO: i/o error, write`. */
export const describeIoError = (err: unknown): string => (err instanceof Error ? err.message : String(err))

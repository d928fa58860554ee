/**
 * The durable event log: an append-only file of checksummed frames (./format.ts) with group
 * commit, `appendfsync always|everysec|no`, fsyncgate-safe failure handling, and checkpoints
 * (snapshot + new segment + manifest switch + deletion of old files) — the `EventLog` port of
 * app/eventLog.ts implemented on local files.
 *
 * ## Group commit
 *
 * `append` encodes the record into the current batch buffer synchronously and returns the batch's
 * commit promise (one promise shared by the batch). The batch is closed by a `setImmediate`, so
 * every record appended during one event-loop turn goes out in **one** write. That write is
 * synchronous (`FileSystem.writeSync`, a write(2) on the event-loop thread, looped on short
 * writes), as Redis writes its AOF buffer in `beforeSleep`: under `everysec` and `no` the commit
 * resolves right after it, in the same turn (its callbacks run as microtasks, so the replies go
 * out before the loop sleeps), with no threadpool round trip. Only fdatasync (and the rare
 * cutting back of a failed write, rotations and checkpoints) is asynchronous. Writes are strictly
 * sequential and in order: while the writer runs an asynchronous step (a rotation, a cut back),
 * closed batches wait in its queue and are written, each with one write, as soon as it is done.
 *
 * ## Policies (exact contract; DURABILITY.md §7.2)
 *
 * - `always`: a commit resolves only after an `fdatasync` that **started after the batch's write
 *   completed** has returned success. At most one fdatasync is in flight; batches written
 *   meanwhile wait for the next one (which covers all of them).
 * - `everysec` (default): a commit resolves once its `write()` completed (so a process crash
 *   loses nothing acknowledged); a background fdatasync runs at most once per second, never two
 *   at once. A power loss can lose about the last second plus the duration of a stalled fsync;
 *   stalls over 2 s are counted (`delayedFsyncs`) and logged.
 * - `no`: a commit resolves once its `write()` completed; the OS flushes when it likes.
 *
 * ## Failures (fsyncgate rules; DURABILITY.md §7.3)
 *
 * A failed write or fdatasync puts the log in the **failed** state (`failure()` is set): the
 * affected batch's commit rejects with a {@link LogWriteError} (`MISCONF Errors writing to the AOF
 * file: …`), a partial write is truncated back to the last frame boundary, every later append is
 * refused at once, and no later fdatasync is trusted. Only a successful {@link AofLog.checkpoint}
 * — a snapshot written from memory and a fresh segment — clears it. Nothing here throws out of
 * an event-loop callback and every internal promise has a handler, so I/O errors never crash the
 * process.
 *
 * ## Checkpoints (compaction, BGREWRITEAOF)
 *
 * `checkpoint(capture, seq)` is called with a way to freeze the engine's current state (O(1),
 * Keyspace.capture) and its seq (the cut). Synchronously, the state is captured and appends after
 * the cut are directed to a new segment (first lsn seq+1). Then, asynchronously:
 * 1. the captured maps are written as a snapshot in slices (temp, fdatasync, rename, fsync dir)
 *    while clients continue, then released;
 * 2. meanwhile, the first batch after the cut rotates the log: the old segment is fdatasynced and
 *    closed, the new one created (temp, fdatasync, rename, fsync dir), and the manifest extended
 *    with it **before** any record is written to it (Redis opens its new INCR file the same way),
 *    so a crash at any point leaves a manifest that describes every acknowledged record;
 * 3. the manifest is switched to {new snapshot, new segment};
 * 4. old segments and snapshots are deleted.
 * In the failed state step 2 is skipped (nothing is appended), so a possibly torn old segment is
 * never listed before a newer one.
 *
 * @category infra
 */
import * as path from 'node:path'
import type { EventLog, LogFailure, LogRecord } from '../../app/eventLog.js'
import * as Keyspace from '../../domain/keyspace.js'
import { writeCaptured, type SnapshotInfo } from '../snapshot/snapshot.js'
import { ByteWriter } from './eventCodec.js'
import { describeIoError, nodeFileSystem, writeFullySync, type FileSystem } from './fileSystem.js'
import { encodeFrame, frameSeed, newSegmentHeader, SEGMENT_HEADER_BYTES, type SegmentHeader } from './format.js'
import {
  SEGMENT_FILE,
  SNAPSHOT_FILE,
  segmentFileName,
  snapshotFileName,
  writeManifest,
  type Manifest,
} from './manifest.js'
import { createSegment, manifestEntry } from './segmentFile.js'

// ---------------------------------------------------------------------------------------------
// public types
// ---------------------------------------------------------------------------------------------

export type AppendFsync = 'always' | 'everysec' | 'no'

/** The subset of a pino logger the log uses (pino loggers satisfy it). */
export interface LogSink {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export const silentSink: LogSink = { info: () => undefined, warn: () => undefined, error: () => undefined }

/** Where recovery left the directory: what the log continues from (see app/recovery.ts). */
export interface LogPosition {
  readonly manifest: Manifest
  /** Header of the manifest's last segment, the one appends go to. */
  readonly tailHeader: SegmentHeader
  /** Its size in bytes after recovery (any torn tail already truncated). */
  readonly tailSize: number
  /** The last seq the directory holds; the next append must be lastSeq + 1. */
  readonly lastSeq: number
  /** Bytes of the snapshot (0 without one) and of all listed segments. */
  readonly snapshotBytes: number
  readonly segmentBytes: number
}

export interface AofLogOptions {
  readonly fs?: FileSystem
  readonly appendfsync?: AppendFsync
  /** Wall clock (ms) for snapshot headers and stats. Default Date.now. */
  readonly now?: () => number
  readonly logger?: LogSink
  /** The everysec fsync period in ms (default 1000). */
  readonly fsyncIntervalMs?: number
  /** Entries per snapshot slice (default 2000). */
  readonly snapshotSliceEntries?: number
  /**
   * Zeros written ahead of the current segment's end when a batch reaches past them (default
   * 64 KiB; 0: none), so most fdatasyncs find the file's size unchanged (see `preallocate`).
   * Keep it well under the recovery's tail tolerance (1 MiB).
   */
  readonly preallocateBytes?: number
}

/**
 * A write or fsync failed: the commit of the affected records, and every append while the log is
 * failed, rejects with this. `message` is a complete Redis error line (`MISCONF …`).
 */
export class LogWriteError extends Error {
  readonly code = 'MISCONF'
  constructor(readonly reason: string) {
    super(`MISCONF ${reason}`)
    this.name = 'LogWriteError'
  }
}

/** A checkpoint was requested while another one runs (Redis: "Background save already in progress"). */
export class CheckpointInProgressError extends Error {
  constructor() {
    super('ERR Background save already in progress')
    this.name = 'CheckpointInProgressError'
  }
}

export interface CheckpointResult {
  /** Snapshot file name. */
  readonly file: string
  readonly seq: number
  /** Keys written. */
  readonly count: number
  /** Snapshot size in bytes. */
  readonly bytes: number
  /** Wall-clock duration in ms. */
  readonly ms: number
}

/** What INFO persistence and the auto-checkpoint policy (app/checkpoint.ts) need. */
export interface LogStats {
  readonly appendfsync: AppendFsync
  /** Last seq accepted by append. */
  readonly lastSeq: number
  /** Last seq whose write() completed. */
  readonly writtenSeq: number
  /** Last seq covered by a successful fdatasync. */
  readonly durableSeq: number
  /** Snapshot + listed segments, in bytes (Redis aof_current_size). */
  readonly aofCurrentSize: number
  /** The same right after the last checkpoint, or at open (Redis aof_base_size). */
  readonly aofBaseSize: number
  /** Records appended since the last checkpoint cut (Redis rdb_changes_since_last_save). */
  readonly changesSinceLastSave: number
  /** When the last checkpoint completed (ms), or when the log was opened (Redis lastsave). */
  readonly lastSaveAt: number
  readonly checkpointInProgress: boolean
  /** When the last checkpoint attempt started (ms), undefined before the first. */
  readonly lastCheckpointAttemptAt: number | undefined
  readonly lastCheckpointStatus: 'ok' | 'err'
  readonly lastCheckpointError: string | undefined
  /** Duration of the last successful checkpoint in ms (-1 before the first). */
  readonly lastCheckpointMs: number
  readonly lastWriteStatus: 'ok' | 'err'
  readonly failure: string | undefined
  readonly fsyncInFlight: boolean
  /** everysec: times the periodic fsync found the previous one still running after 2 s. */
  readonly delayedFsyncs: number
  readonly segments: number
}

// ---------------------------------------------------------------------------------------------
// internals
// ---------------------------------------------------------------------------------------------

interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(err: unknown): void
}

const noop = (): void => undefined

/** A deferred whose promise is marked handled: an ignored rejection never becomes unhandled. */
const deferred = <T>(): Deferred<T> => {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(noop)
  return { promise, resolve, reject }
}

/** A rejected promise already marked handled. */
const refused = <T>(err: Error): Promise<T> => {
  const p = Promise.reject<T>(err)
  p.catch(noop)
  return p
}

interface Segment {
  readonly name: string
  readonly header: SegmentHeader
  readonly seed: number
  fd: number | undefined
  size: number
  /** Bytes covered by a successful fdatasync (the header alone for a new segment). */
  durableSize: number
  /** The file's size: `size` plus the zeros written ahead of it (see AofLog `preallocate`). */
  allocated: number
  /** The file exists on disk. */
  created: boolean
  /** The manifest on disk lists it. */
  listed: boolean
}

interface Batch {
  readonly kind: 'batch'
  readonly segment: Segment
  readonly w: ByteWriter
  lastSeq: number
  readonly commit: Deferred<void>
}

interface Task {
  readonly kind: 'task'
  readonly run: () => Promise<void>
  readonly done: Deferred<void>
}

const SLOW_FSYNC_MS = 2000
const DEFAULT_PREALLOCATE_BYTES = 64 * 1024
/**
 * `always`: an fdatasync slower than this (ms) moves the next ones off the event-loop thread
 * (see `startSync`). Tens of times a healthy sync here (~0.2 ms), far below a client timeout.
 */
const INLINE_SYNC_MAX_MS = 5
const MIN_BATCH_CAPACITY = 2048
const MAX_BATCH_CAPACITY = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// AofLog
// ---------------------------------------------------------------------------------------------

export class AofLog implements EventLog {
  private readonly fs: FileSystem
  private readonly policy: AppendFsync
  private readonly now: () => number
  private readonly logger: LogSink
  private readonly sliceEntries: number | undefined
  private readonly preallocateBytes: number
  /** `preallocateBytes` of zeros, allocated on first use. */
  private zeros: Buffer | undefined

  private manifest: Manifest
  /** The segment writes go to. */
  private current: Segment
  /** The segment new appends are encoded for (differs from `current` between a cut and the rotation). */
  private target: Segment
  private nextSegmentSeq: number

  private collecting: Batch | undefined
  /** Initial buffer size for the next batch (follows the size of the last one written). */
  private batchCapacity = MIN_BATCH_CAPACITY
  private flushScheduled = false
  private readonly queue: Array<Batch | Task> = []
  private draining = false

  private lastSeq: number
  private writtenSeq: number
  private durableSeq: number
  private savedSeq: number

  private failed: LogFailure | undefined
  /** Incremented on every failure: a checkpoint clears the failed state only if none happened after its cut. */
  private failures = 0

  private syncing: Promise<void> | undefined
  private syncStartedAt = 0
  /** How long the last fdatasync took (ms). */
  private lastSyncMs = 0
  private syncWaiters: Batch[] = []
  private dirty = false
  private rotating = false
  private readonly timer: NodeJS.Timeout | undefined

  private checkpointing: Promise<CheckpointResult> | undefined
  private closed = false
  private closing: Promise<void> | undefined

  private snapshotBytes: number
  private segmentBytes: number
  private baseSize: number
  private lastSaveAt: number
  private lastAttemptAt: number | undefined
  private lastCheckpointStatus: 'ok' | 'err' = 'ok'
  private lastCheckpointError: string | undefined
  private lastCheckpointMs = -1
  private delayedFsyncs = 0

  private constructor(
    private readonly dir: string,
    position: LogPosition,
    tail: Segment,
    opts: AofLogOptions,
  ) {
    this.fs = opts.fs ?? nodeFileSystem
    this.policy = opts.appendfsync ?? 'everysec'
    this.now = opts.now ?? Date.now
    this.logger = opts.logger ?? silentSink
    this.sliceEntries = opts.snapshotSliceEntries
    this.preallocateBytes = opts.preallocateBytes ?? DEFAULT_PREALLOCATE_BYTES
    this.manifest = position.manifest
    this.current = tail
    this.target = tail
    this.nextSegmentSeq = tail.header.segmentSeq + 1
    this.lastSeq = position.lastSeq
    this.writtenSeq = position.lastSeq
    this.durableSeq = position.lastSeq
    this.savedSeq = position.lastSeq
    this.snapshotBytes = position.snapshotBytes
    this.segmentBytes = position.segmentBytes
    this.baseSize = position.snapshotBytes + position.segmentBytes
    this.lastSaveAt = this.now()
    if (this.policy === 'everysec') {
      this.timer = setInterval(() => this.periodicSync(), opts.fsyncIntervalMs ?? 1000)
      this.timer.unref()
    }
  }

  /**
   * Opens the log where recovery left it (`position` from app/recovery.ts `recover`): appends go
   * to the manifest's last segment, starting at `position.lastSeq + 1`.
   */
  static async open(dir: string, position: LogPosition, opts: AofLogOptions = {}): Promise<AofLog> {
    const fsys = opts.fs ?? nodeFileSystem
    const entry = position.manifest.segments[position.manifest.segments.length - 1]
    if (entry === undefined) throw new Error('manifest lists no segment')
    const fd = await fsys.open(path.join(dir, entry.file), 'r+')
    const size = await fsys.fsize(fd)
    if (size !== position.tailSize) {
      await fsys.close(fd)
      throw new Error(`${entry.file} is ${size} bytes, recovery left it at ${position.tailSize}: changed since recovery`)
    }
    const tail: Segment = {
      name: entry.file,
      header: position.tailHeader,
      seed: frameSeed(position.tailHeader),
      fd,
      size,
      durableSize: size, // recovery fdatasyncs what it replayed
      allocated: size,
      created: true,
      listed: true,
    }
    return new AofLog(dir, position, tail, opts)
  }

  // -------------------------------------------------------------------------------------------
  // EventLog
  // -------------------------------------------------------------------------------------------

  append(record: LogRecord): Promise<void> {
    if (this.closed) return refused(new Error('ERR the log is closed'))
    if (this.failed !== undefined) return refused(new LogWriteError(this.failed.reason))
    if (record.seq !== this.lastSeq + 1) {
      return refused(new Error(`ERR log sequence gap: the log is at seq ${this.lastSeq}, got ${record.seq}`))
    }
    let batch = this.collecting
    if (batch === undefined || batch.segment !== this.target) {
      if (batch !== undefined) this.queue.push(batch)
      batch = { kind: 'batch', segment: this.target, w: new ByteWriter(this.batchCapacity), lastSeq: 0, commit: deferred<void>() }
      this.collecting = batch
      this.scheduleFlush()
    }
    try {
      encodeFrame(batch.w, batch.segment.seed, record, this.durableSeq)
    } catch (err) {
      return refused(err instanceof Error ? err : new Error(String(err)))
    }
    this.lastSeq = record.seq
    batch.lastSeq = record.seq
    return batch.commit.promise
  }

  failure(): LogFailure | undefined {
    return this.failed
  }

  /**
   * Writes what is buffered, fdatasyncs it (whatever the policy), waits for a running checkpoint
   * and releases the file. Rejects with the failure if the log is failed or the final sync fails
   * (the caller can report that the last writes may not be durable).
   */
  close(): Promise<void> {
    if (this.closing === undefined) {
      this.closing = this.doClose()
      this.closing.catch(noop)
    }
    return this.closing
  }

  // -------------------------------------------------------------------------------------------
  // checkpoints
  // -------------------------------------------------------------------------------------------

  /**
   * Takes a checkpoint of the state after record `seq`. `capture` freezes that state (the engine's
   * current one, between execution units: `() => engine.capture()`); it is called synchronously,
   * only once the checkpoint is accepted, and the capture is released when the snapshot is
   * written or fails. Normally `seq` equals the last appended seq; while the log is failed it may
   * be higher, covering records that were applied in memory but refused by the log. Resolves when
   * the snapshot is durable, the manifest switched and old files deleted; clears the failed state
   * if the failure happened before this cut. Rejects with {@link CheckpointInProgressError} if
   * one is already running.
   *
   * Why a capture and not a persistent `State`: holding a State for the length of the snapshot
   * would make the engine keep the way back to it (undo for every write) until the GC noticed it
   * was gone; the frozen maps cost nothing per write but the overlay.
   */
  checkpoint(capture: () => Keyspace.Capture, seq: number): Promise<CheckpointResult> {
    if (this.closed) return refused(new Error('ERR the log is closed'))
    if (this.checkpointing !== undefined) return refused(new CheckpointInProgressError())
    const failedAtCut = this.failed !== undefined
    if (failedAtCut ? seq < this.lastSeq : seq !== this.lastSeq) {
      return refused(new Error(`ERR checkpoint at seq ${seq}, but the log is at seq ${this.lastSeq}`))
    }
    let captured: Keyspace.Capture
    try {
      captured = capture()
    } catch (err) {
      return refused(err instanceof Error ? err : new Error(String(err)))
    }
    // The batch being collected belongs before the cut: queue it now, ahead of the checkpoint's
    // manifest switch (its group-commit setImmediate may come after the switch otherwise).
    this.closeBatch()
    void this.drain()
    const next = this.newSegment(seq + 1)
    this.target = next
    const run = this.runCheckpoint(captured, seq, next, failedAtCut, this.failures)
    this.checkpointing = run
    const clear = (): void => {
      this.checkpointing = undefined
    }
    run.then(clear, clear)
    return run
  }

  /** Counters for INFO persistence and the checkpoint policy. */
  stats(): LogStats {
    return {
      appendfsync: this.policy,
      lastSeq: this.lastSeq,
      writtenSeq: this.writtenSeq,
      durableSeq: this.durableSeq,
      aofCurrentSize: this.snapshotBytes + this.segmentBytes,
      aofBaseSize: this.baseSize,
      changesSinceLastSave: this.lastSeq - this.savedSeq,
      lastSaveAt: this.lastSaveAt,
      checkpointInProgress: this.checkpointing !== undefined,
      lastCheckpointAttemptAt: this.lastAttemptAt,
      lastCheckpointStatus: this.lastCheckpointStatus,
      lastCheckpointError: this.lastCheckpointError,
      lastCheckpointMs: this.lastCheckpointMs,
      lastWriteStatus: this.failed === undefined ? 'ok' : 'err',
      failure: this.failed?.reason,
      fsyncInFlight: this.syncing !== undefined,
      delayedFsyncs: this.delayedFsyncs,
      segments: this.manifest.segments.length,
    }
  }

  // -------------------------------------------------------------------------------------------
  // the writer (one async loop; batches and tasks strictly in order)
  // -------------------------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      this.closeBatch()
      void this.drain()
    })
  }

  private closeBatch(): void {
    if (this.collecting !== undefined) {
      this.queue.push(this.collecting)
      this.collecting = undefined
    }
  }

  /** Runs `run` inside the writer, after everything queued before it. */
  private runTask(run: () => Promise<void>): Promise<void> {
    const done = deferred<void>()
    this.queue.push({ kind: 'task', run, done })
    void this.drain()
    return done.promise
  }

  private async drain(): Promise<void> {
    if (this.draining) return
    this.draining = true
    try {
      for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
        if (item.kind === 'task') {
          try {
            await item.run()
            item.done.resolve()
          } catch (err) {
            item.done.reject(err)
          }
          continue
        }
        if (this.failed !== undefined) {
          item.commit.reject(new LogWriteError(this.failed.reason))
          continue
        }
        if (item.segment.header.segmentSeq < this.current.header.segmentSeq) {
          // Never rotate back to a segment a checkpoint already left (it may be deleted).
          item.commit.reject(this.fail(`internal error: a batch for ${item.segment.name} arrived after ${this.current.name}`))
          continue
        }
        if (item.segment !== this.current) {
          try {
            await this.rotate(item.segment, true)
          } catch (err) {
            item.commit.reject(this.fail(`Errors creating a new AOF segment: ${describeIoError(err)}`))
            continue
          }
        }
        // Synchronous unless the write failed and a partial frame must be cut back.
        const failed = this.writeBatch(item)
        if (failed !== undefined) await failed
      }
    } catch (err) {
      // Unreachable by construction (every step catches); never let it escape as unhandled.
      this.fail(`internal error in the AOF writer: ${describeIoError(err)}`)
    } finally {
      this.draining = false
    }
  }

  /**
   * Writes one batch at the end of the current segment, synchronously, and settles (everysec,
   * no) or queues for an fdatasync (always) its commit. Never throws. On a failed write it
   * returns the cutting back of the partial frame, which the writer awaits before anything else;
   * the batch's commit rejects once the file ends on a frame boundary again.
   */
  private writeBatch(b: Batch): Promise<void> | undefined {
    if (this.failed !== undefined) {
      // The log failed since the batch was queued (an fdatasync failed during a rotation): no
      // later sync could vouch for it, so it is not written at all.
      b.commit.reject(new LogWriteError(this.failed.reason))
      return undefined
    }
    const seg = this.current
    const at = seg.size
    const len = b.w.pos
    // Size the next batch's buffer for a batch like this one, so a busy turn does not grow it by
    // doubling (a copy each time): the next power of two, between 2 KiB and 1 MiB.
    this.batchCapacity = Math.min(MAX_BATCH_CAPACITY, Math.max(MIN_BATCH_CAPACITY, 2 ** Math.ceil(Math.log2(len + 1))))
    try {
      if (seg.fd === undefined) throw new Error('the AOF segment is not open')
      if (at + len > seg.allocated) this.preallocate(seg.fd, at + len)
      writeFullySync(this.fs, seg.fd, b.w.buf, 0, len, at)
    } catch (err) {
      // Refuse appends from now on; cut any partial frame (earlier short writes of this batch, or
      // what a full disk took before failing) so the file ends on a frame boundary (Redis PR #587).
      const e = this.fail(`Errors writing to the AOF file: ${describeIoError(err)}`)
      const fd = seg.fd
      if (fd === undefined) {
        b.commit.reject(e)
        return undefined
      }
      return this.fs.ftruncate(fd, at).then(
        () => {
          seg.allocated = at
          b.commit.reject(e)
        },
        () => b.commit.reject(e),
      )
    }
    if (at + len > seg.allocated) seg.allocated = at + len + this.preallocateBytes
    seg.size = at + len
    this.segmentBytes += len
    this.writtenSeq = b.lastSeq
    this.dirty = true
    if (this.policy === 'always') {
      // Reply only after an fdatasync that starts after this write (now complete) succeeds.
      this.syncWaiters.push(b)
      this.kickSync()
    } else {
      b.commit.resolve()
    }
    return undefined
  }

  /**
   * Writes `preallocateBytes` of zeros after `end`, where the batch about to be written ends,
   * which reaches past the zeros written before. Why: appending changes the file's size, so every
   * fdatasync must also commit the inode through the file system's journal; writing into zeros
   * already there does not. Measured here (100-byte write + fdatasync, 3000 times): 150–155 µs
   * and 69 µs of CPU appending, 111–113 µs and 46 µs into zeros; PostgreSQL zero-fills its WAL
   * segments for the same reason. The zeros reach the disk with the batch's fdatasync (one sync
   * with the inode per `preallocateBytes` of log).
   *
   * The zeros are part of the batch's write: if writing them fails, so does the batch (cut back,
   * MISCONF), as if the disk had filled up during it. They stay well under the recovery's tail
   * tolerance (segmentReader.ts): a power loss may garble zeros not yet synced, and garbage
   * beyond the tolerance refuses start-up. Recovery cuts a zero tail like a torn one; close and
   * rotation cut it first.
   */
  private preallocate(fd: number, end: number): void {
    const n = this.preallocateBytes
    if (n <= 0) return
    writeFullySync(this.fs, fd, (this.zeros ??= Buffer.alloc(n)), 0, n, end)
  }

  // -------------------------------------------------------------------------------------------
  // fdatasync (at most one in flight)
  // -------------------------------------------------------------------------------------------

  /** `always`: starts an fdatasync for the batches written so far, unless one is running. */
  private kickSync(): void {
    if (this.syncing !== undefined || this.syncWaiters.length === 0 || this.rotating || this.failed !== undefined) return
    const waiters = this.syncWaiters
    this.syncWaiters = []
    this.startSync(waiters)
  }

  /** `everysec`: the periodic fdatasync. */
  private periodicSync(): void {
    if (this.syncing !== undefined) {
      if (this.now() - this.syncStartedAt >= SLOW_FSYNC_MS) {
        this.delayedFsyncs++
        this.logger.warn({ ms: this.now() - this.syncStartedAt }, 'Asynchronous AOF fsync is taking too long (disk is busy?)')
      }
      return
    }
    if (!this.dirty || this.failed !== undefined || this.rotating || this.closed) return
    this.startSync([])
  }

  /**
   * One fdatasync of the current segment; settles `waiters` (empty for everysec's periodic sync).
   *
   * Under `always`, while the disk is fast, the sync runs on the event-loop thread
   * (`fdatasyncSync`), as Redis runs it in `beforeSleep`: while the disk works (~0.2 ms here) the
   * requests of every client pile up in the kernel, and the next loop turn takes them all (~30
   * SETs per fdatasync with 50 clients). On libuv's pool instead, the loop woke for every request
   * or two while a sync ran: per 100k SETs 30k–45k loop turns and 4.7k fdatasyncs against Redis's
   * 3.4k of each, ~5 µs more CPU per SET (bench/RESULTS.md). A sync that took longer than
   * {@link INLINE_SYNC_MAX_MS} sends the following ones to the pool until one is fast again, so
   * a stalling disk blocks the loop once rather than on every sync as in Redis.
   */
  private startSync(waiters: Batch[]): void {
    const seg = this.current
    const upTo = this.writtenSeq
    const upToSize = seg.size
    const startedAt = this.now()
    this.syncStartedAt = startedAt
    this.dirty = false
    let running: Promise<void> | undefined
    try {
      if (seg.fd === undefined) throw new Error('the AOF segment is not open')
      if (waiters.length > 0 && this.fs.fdatasyncSync !== undefined && this.lastSyncMs <= INLINE_SYNC_MAX_MS) {
        this.fs.fdatasyncSync(seg.fd)
      } else running = this.fs.fdatasync(seg.fd)
    } catch (err) {
      this.syncSettled(seg, upTo, upToSize, waiters, startedAt, err ?? new Error('fdatasync failed'))
      return
    }
    if (running === undefined) {
      this.syncSettled(seg, upTo, upToSize, waiters, startedAt, undefined)
      return
    }
    this.syncing = running.then(
      () => this.syncSettled(seg, upTo, upToSize, waiters, startedAt, undefined),
      (err: unknown) => this.syncSettled(seg, upTo, upToSize, waiters, startedAt, err ?? new Error('fdatasync failed')),
    )
  }

  /** The end of a sync started by `startSync` (`err` undefined: it succeeded). */
  private syncSettled(seg: Segment, upTo: number, upToSize: number, waiters: Batch[], startedAt: number, err: unknown): void {
    this.lastSyncMs = this.now() - startedAt
    if (err === undefined) {
      // Even if a later write failed meanwhile, these batches were written before this fdatasync
      // started and it succeeded: they are durable.
      this.durableSeq = Math.max(this.durableSeq, upTo)
      seg.durableSize = Math.max(seg.durableSize, upToSize)
      for (const w of waiters) w.commit.resolve()
    } else {
      const e = this.fail(`Errors writing to the AOF file: ${describeIoError(err)}`)
      for (const w of waiters) w.commit.reject(e)
      if (this.policy === 'always') this.dropUnsynced(seg)
    }
    this.syncing = undefined
    this.kickSync()
  }

  /**
   * After a failed fdatasync under `always`: cut the segment back to what the last successful
   * fdatasync covered. The pages of the failed sync may never reach the disk (fsyncgate) while
   * reads still see them; left in place, a restarted process would replay them and append after
   * them, and a power loss would leave a hole before acknowledged records. Nothing past that point
   * was acknowledged under `always`. (Under everysec/no those records were acknowledged after
   * their write and stay, as Redis keeps them.) Runs in the writer, after any write in flight.
   */
  private dropUnsynced(seg: Segment): void {
    void this.runTask(async () => {
      if (seg.fd === undefined || seg.size <= seg.durableSize) return
      try {
        await this.fs.ftruncate(seg.fd, seg.durableSize)
        this.segmentBytes -= seg.size - seg.durableSize
        seg.size = seg.durableSize
        seg.allocated = seg.durableSize
      } catch (err) {
        this.logger.warn({ err: describeIoError(err) }, 'could not cut unsynced records after a failed fdatasync')
      }
    })
  }

  /** Waits for running fdatasyncs, then syncs whatever is written but not yet synced. */
  private async settleSyncs(): Promise<void> {
    while (this.syncing !== undefined) await this.syncing
    if (this.failed !== undefined || this.current.fd === undefined) return
    if (this.dirty || this.syncWaiters.length > 0) {
      const waiters = this.syncWaiters
      this.syncWaiters = []
      this.startSync(waiters)
      await this.syncing
    }
  }

  /** Enters (or stays in) the failed state; rejects batches waiting for a sync. */
  private fail(reason: string): LogWriteError {
    if (this.failed === undefined) {
      this.failed = { reason }
      this.logger.error({ reason, lastSeq: this.lastSeq, durableSeq: this.durableSeq }, 'AOF write failed; refusing writes until a checkpoint succeeds')
    }
    this.failures++
    const err = new LogWriteError(this.failed.reason)
    const waiters = this.syncWaiters
    this.syncWaiters = []
    for (const w of waiters) w.commit.reject(err)
    return err
  }

  // -------------------------------------------------------------------------------------------
  // segments
  // -------------------------------------------------------------------------------------------

  private newSegment(firstLsn: number): Segment {
    const header = newSegmentHeader(this.nextSegmentSeq++, firstLsn, this.now())
    return {
      name: segmentFileName(header.segmentSeq),
      header,
      seed: frameSeed(header),
      fd: undefined,
      size: 0,
      durableSize: 0,
      allocated: 0,
      created: false,
      listed: false,
    }
  }

  /** The manifest's durable line: the highest seq known on disk. */
  private durableFloor(): number {
    return Math.max(this.manifest.durable ?? 0, this.durableSeq)
  }

  /** Creates the segment's file durably (header only); it is not listed yet. */
  private async createSegmentFile(seg: Segment): Promise<void> {
    await createSegment(this.fs, this.dir, seg.header)
    seg.created = true
    seg.size = SEGMENT_HEADER_BYTES
    seg.durableSize = SEGMENT_HEADER_BYTES
    seg.allocated = SEGMENT_HEADER_BYTES
    this.segmentBytes += SEGMENT_HEADER_BYTES
  }

  /**
   * Makes `next` the current segment: syncs and closes the old one, creates `next` durably, and
   * (with `list`) extends the manifest with it before any record is written to it. Without
   * `list`, the caller has already listed `next`. Runs inside the writer only.
   */
  private async rotate(next: Segment, list: boolean): Promise<void> {
    this.rotating = true
    try {
      const old = this.current
      // Always sync the old segment before a successor is listed: it may hold records a previous
      // process wrote but never synced (it is not "dirty" in this process).
      if (this.failed === undefined && old.fd !== undefined) this.dirty = true
      await this.settleSyncs()
      // Only the last segment may end in zeros (recovery cuts them as a tail; anywhere else they
      // would be damage): cut the preallocated ones, durably, before the next one is listed. After
      // the records' own sync, so a slow ftruncate cannot hold acknowledged records unsynced
      // beyond everysec's window (the simulation's long run found that: seeds 2107, 3724, 8041).
      if (old.fd !== undefined && old.allocated > old.size && this.failed === undefined) {
        await this.fs.ftruncate(old.fd, old.size)
        old.allocated = old.size
        this.dirty = true
        await this.settleSyncs()
      }
      if (list && this.failed !== undefined) throw new Error(this.failed.reason)
      if (old.fd !== undefined) {
        const fd = old.fd
        old.fd = undefined
        await this.fs.close(fd).catch(noop)
      }
      if (!next.created) await this.createSegmentFile(next)
      if (next.fd === undefined) next.fd = await this.fs.open(path.join(this.dir, next.name), 'r+')
      if (list && !next.listed) {
        const manifest: Manifest = {
          snapshot: this.manifest.snapshot,
          segments: [...this.manifest.segments, manifestEntry(next.name, next.header)],
          durable: this.durableFloor(),
        }
        try {
          await writeManifest(this.fs, this.dir, manifest)
        } catch (err) {
          const fd = next.fd
          next.fd = undefined
          await this.fs.close(fd).catch(noop)
          throw err
        }
        this.manifest = manifest
        next.listed = true
      }
      this.current = next
    } finally {
      this.rotating = false
    }
  }

  // -------------------------------------------------------------------------------------------
  // checkpoint steps
  // -------------------------------------------------------------------------------------------

  /** Runs a checkpoint of `captured` (released here, once written). */
  private async runCheckpoint(
    captured: Keyspace.Capture,
    seq: number,
    next: Segment,
    failedAtCut: boolean,
    failuresAtCut: number,
  ): Promise<CheckpointResult> {
    const started = this.now()
    this.lastAttemptAt = started
    try {
      // 1. The snapshot, in slices, while clients continue.
      let snap: SnapshotInfo
      try {
        snap = await writeCaptured(this.fs, this.dir, captured, {
          seq,
          at: started,
          file: snapshotFileName(seq, next.header.segmentSeq),
          ...(this.sliceEntries === undefined ? {} : { sliceEntries: this.sliceEntries }),
        })
      } finally {
        Keyspace.release(captured)
      }
      // 2. Switch the manifest to {snapshot, next}, inside the writer so no batch interleaves.
      //    `next` becomes the segment writes go to only once a manifest lists it: if the switch
      //    fails, writes stay where the current manifest can find them.
      await this.runTask(async () => {
        if (!next.created) await this.createSegmentFile(next)
        const manifest: Manifest = {
          snapshot: { file: snap.file, seq: snap.seq, count: snap.count, crc: snap.crc },
          segments: [manifestEntry(next.name, next.header)],
          durable: this.durableFloor(),
        }
        await writeManifest(this.fs, this.dir, manifest)
        this.manifest = manifest
        next.listed = true
        if (this.current !== next) await this.rotate(next, false)
        this.snapshotBytes = snap.bytes
        this.segmentBytes = next.size
        this.baseSize = snap.bytes + next.size
        this.savedSeq = seq
        if (failedAtCut && this.failures === failuresAtCut) {
          // A fresh chain written from memory: the fsyncgate rule's only way out of the failed state.
          this.failed = undefined
          this.lastSeq = seq
          this.writtenSeq = seq
          this.durableSeq = seq
          this.logger.info({ seq }, 'AOF failure cleared by a successful checkpoint')
        }
      })
      const ms = this.now() - started
      this.lastSaveAt = this.now()
      this.lastCheckpointStatus = 'ok'
      this.lastCheckpointError = undefined
      this.lastCheckpointMs = ms
      // 3. Old files are garbage now.
      await this.collectGarbage()
      this.logger.info({ file: snap.file, seq, keys: snap.count, bytes: snap.bytes, ms }, 'checkpoint written')
      return { file: snap.file, seq, count: snap.count, bytes: snap.bytes, ms }
    } catch (err) {
      this.lastCheckpointStatus = 'err'
      this.lastCheckpointError = describeIoError(err)
      this.logger.error({ seq, err: this.lastCheckpointError }, 'checkpoint failed')
      throw err
    }
  }

  /**
   * Deletes segments, snapshots and temp files the manifest does not list. Safe because only one
   * checkpoint runs at a time and the writer creates files only inside a checkpoint's window.
   * Failures are logged, not fatal (the files are merely garbage).
   */
  private async collectGarbage(): Promise<void> {
    try {
      const listed = new Set<string>([
        ...(this.manifest.snapshot === undefined ? [] : [this.manifest.snapshot.file]),
        ...this.manifest.segments.map((s) => s.file),
      ])
      let removed = 0
      for (const name of await this.fs.readdir(this.dir)) {
        const base = name.endsWith('.tmp') ? name.slice(0, -4) : name
        const ours = SEGMENT_FILE.test(base) || SNAPSHOT_FILE.test(base)
        if (!ours || (listed.has(name) && base === name)) continue
        await this.fs.unlink(path.join(this.dir, name))
        removed++
      }
      if (removed > 0) await this.fs.fsyncDir(this.dir)
    } catch (err) {
      this.logger.warn({ err: describeIoError(err) }, 'could not delete old AOF files')
    }
  }

  // -------------------------------------------------------------------------------------------
  // close
  // -------------------------------------------------------------------------------------------

  private async doClose(): Promise<void> {
    this.closed = true
    if (this.checkpointing !== undefined) await this.checkpointing.catch(noop)
    this.closeBatch()
    let failure: LogFailure | undefined
    await this.runTask(async () => {
      const seg = this.current
      if (seg.fd !== undefined && seg.allocated > seg.size) {
        // A clean shutdown leaves a clean file: no preallocated zeros for recovery to cut.
        try {
          await this.fs.ftruncate(seg.fd, seg.size)
          seg.allocated = seg.size
          this.dirty = true
        } catch (err) {
          this.logger.warn({ err: describeIoError(err) }, 'could not cut the preallocated zeros at close (the next start will)')
        }
      }
      await this.settleSyncs()
      failure = this.failed
      if (failure === undefined && this.durableSeq > (this.manifest.durable ?? 0)) {
        // Record that everything is on disk: damage found later at or below it is bit rot, never
        // a torn tail (frames only vouch for records synced before a later frame was written).
        const manifest: Manifest = { ...this.manifest, durable: this.durableSeq }
        try {
          await writeManifest(this.fs, this.dir, manifest)
          this.manifest = manifest
        } catch (err) {
          this.logger.warn({ err: describeIoError(err) }, 'could not record the durable seq in the manifest at close')
        }
      }
    })
    if (this.timer !== undefined) clearInterval(this.timer)
    const fd = this.current.fd
    this.current.fd = undefined
    if (fd !== undefined) await this.fs.close(fd)
    if (failure !== undefined) throw new LogWriteError(failure.reason)
  }
}

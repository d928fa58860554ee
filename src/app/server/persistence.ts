/**
 * The persistence port as the server sees it: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, INFO
 * persistence and the flush on shutdown. The composition root (app/cli/serve.ts) plugs in the
 * durable adapter (AOF + snapshots) or {@link InMemoryPersistence} for `appendonly no` without
 * snapshots and for tests.
 *
 * In an event-sourced store SAVE, BGSAVE and BGREWRITEAOF are all the same operation — a
 * checkpoint: a snapshot of the state at a sequence number plus a fresh log segment — they only
 * differ in whether the client waits for it.
 *
 * @category server
 */

/** INFO persistence lines, in order. */
export type InfoFields = ReadonlyArray<readonly [string, string | number]>

/** What a background checkpoint request did. */
export type BackgroundResult = 'started' | 'in-progress' | 'disabled'

/** The reason SAVE fails without persistence (the whole error line). */
export const PERSISTENCE_DISABLED = 'ERR persistence is disabled (appendonly no): there is nothing to save to'

export interface Persistence {
  /** Whether writes go to a durable log (INFO `aof_enabled`, CONFIG GET appendonly). */
  readonly aofEnabled: boolean
  /**
   * SAVE and SHUTDOWN: a checkpoint now; resolves once durable, rejects with the reason. SAVE
   * refuses while a background checkpoint runs (Redis); SHUTDOWN passes `waitForRunning` to let
   * it finish first and then take its own.
   */
  save(options?: { readonly waitForRunning?: boolean }): Promise<void>
  /** BGSAVE: starts a checkpoint in the background unless one is running. */
  backgroundSave(): BackgroundResult
  /** BGREWRITEAOF: compacts the log (a checkpoint) unless one is running. */
  rewriteLog(): BackgroundResult
  /** LASTSAVE: when the last successful checkpoint finished (ms), or start-up time. */
  lastSave(): number
  /** Writes since the last checkpoint (INFO rdb_changes_since_last_save; SAVE points). */
  changesSinceLastSave(): number
  /** INFO persistence lines besides `loading`/`async_loading`. */
  info(): InfoFields
  /** Flushes and fsyncs what is buffered and stops background work (shutdown). */
  close(): Promise<void>
}

/**
 * No durable storage (`appendonly no`, tests, embedding): the data lives only in memory, so
 * SAVE/BGSAVE/BGREWRITEAOF refuse rather than pretend to have saved anything.
 */
export class InMemoryPersistence implements Persistence {
  readonly aofEnabled = false
  private readonly startedAt: number

  constructor(
    private readonly changes: () => number = () => 0,
    now: number = Date.now(),
  ) {
    this.startedAt = now
  }

  save(): Promise<void> {
    return Promise.reject(new Error(PERSISTENCE_DISABLED))
  }

  backgroundSave(): BackgroundResult {
    return 'disabled'
  }

  rewriteLog(): BackgroundResult {
    return 'disabled'
  }

  lastSave(): number {
    return this.startedAt
  }

  changesSinceLastSave(): number {
    return this.changes()
  }

  info(): InfoFields {
    return [
      ['rdb_changes_since_last_save', this.changesSinceLastSave()],
      ['rdb_bgsave_in_progress', 0],
      ['rdb_last_save_time', Math.floor(this.startedAt / 1000)],
      ['rdb_last_bgsave_status', 'ok'],
      ['rdb_saves', 0],
      ['aof_enabled', 0],
      ['aof_rewrite_in_progress', 0],
      ['aof_last_bgrewrite_status', 'ok'],
      ['aof_last_write_status', 'ok'],
    ]
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

/**
 * The durable persistence adapter: SAVE/BGSAVE/BGREWRITEAOF, LASTSAVE, INFO persistence and the
 * automatic checkpoints, on top of the AOF log (infra/log/aofLog.ts) and the checkpoint policy
 * (app/checkpoint.ts).
 *
 * A checkpoint is taken with the engine's current immutable state and seq, read synchronously
 * between execution units, so the snapshot always matches a record boundary (invariant I7).
 * Automatic checkpoints follow Redis's `serverCron`: a 100 ms timer asks the policy whether a
 * save rule, the log's growth or a log failure calls for one.
 *
 * @category server
 */
import { DEFAULT_CHECKPOINT_POLICY, shouldCheckpoint, type CheckpointPolicy } from '../checkpoint.js'
import type { Engine } from '../engine.js'
import { CheckpointInProgressError, type AofLog } from '../../infra/log/aofLog.js'
import type { Settings } from './config.js'
import type { Logger } from './logger.js'
import type { InfoFields, Persistence } from './persistence.js'

export class DurablePersistence implements Persistence {
  readonly aofEnabled = true
  private readonly timer: ReturnType<typeof setInterval>
  private saves = 0
  private lastBgsaveStatus: 'ok' | 'err' = 'ok'

  constructor(
    private readonly engine: Engine,
    private readonly log: AofLog,
    private readonly settings: Readonly<Settings>,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.cron(), 100)
    this.timer.unref()
  }

  private policy(): CheckpointPolicy {
    return { ...DEFAULT_CHECKPOINT_POLICY, save: this.settings.save.map(([seconds, changes]) => ({ seconds, changes })) }
  }

  private cron(): void {
    const decision = shouldCheckpoint(this.log.stats(), Date.now(), this.policy())
    if (decision === undefined) return
    this.logger.info({ reason: decision.reason }, `${decision.detail}. Saving...`)
    this.start('auto')
  }

  /** The checkpoint this adapter started last, while it runs. */
  private running: Promise<unknown> | undefined

  /** Starts a checkpoint at the engine's current (state, seq); never rejects. */
  private start(kind: string): Promise<void> {
    return this.checkpoint().then(
      (ms) => this.logger.info({ kind, ms }, 'Background saving terminated with success'),
      (err: unknown) => {
        if (err instanceof CheckpointInProgressError) return
        this.lastBgsaveStatus = 'err'
        this.logger.error({ kind, err: String(err) }, 'Background saving error')
      },
    )
  }

  private async checkpoint(): Promise<number> {
    const run = this.log.checkpoint(() => this.engine.capture(), this.engine.seq)
    this.running = run
    try {
      const result = await run
      this.saves++
      this.lastBgsaveStatus = 'ok'
      return result.ms
    } finally {
      if (this.running === run) this.running = undefined
    }
  }

  async save(options: { readonly waitForRunning?: boolean } = {}): Promise<void> {
    if (options.waitForRunning === true) {
      // Shutdown: let a running checkpoint finish (Redis kills its child; ours is cheap to wait
      // for), then cut a final one covering every record.
      while (this.log.stats().checkpointInProgress) {
        await (this.running?.catch(() => undefined) ?? new Promise((resolve) => setTimeout(resolve, 10)))
      }
    }
    await this.checkpoint()
  }

  backgroundSave(): 'started' | 'in-progress' {
    if (this.log.stats().checkpointInProgress) return 'in-progress'
    void this.start('BGSAVE')
    return 'started'
  }

  rewriteLog(): 'started' | 'in-progress' {
    if (this.log.stats().checkpointInProgress) return 'in-progress'
    void this.start('BGREWRITEAOF')
    return 'started'
  }

  lastSave(): number {
    return this.log.stats().lastSaveAt
  }

  changesSinceLastSave(): number {
    return this.log.stats().changesSinceLastSave
  }

  info(): InfoFields {
    const s = this.log.stats()
    const inProgress = s.checkpointInProgress ? 1 : 0
    return [
      ['rdb_changes_since_last_save', s.changesSinceLastSave],
      ['rdb_bgsave_in_progress', inProgress],
      ['rdb_last_save_time', Math.floor(s.lastSaveAt / 1000)],
      ['rdb_last_bgsave_status', this.lastBgsaveStatus === 'ok' && s.lastCheckpointStatus === 'ok' ? 'ok' : 'err'],
      ['rdb_last_bgsave_time_sec', s.lastCheckpointMs < 0 ? -1 : Math.round(s.lastCheckpointMs / 1000)],
      ['rdb_saves', this.saves],
      ['aof_enabled', 1],
      ['aof_rewrite_in_progress', inProgress],
      ['aof_rewrite_scheduled', 0],
      ['aof_last_bgrewrite_status', s.lastCheckpointStatus],
      ['aof_last_write_status', s.lastWriteStatus],
      ['aof_current_size', s.aofCurrentSize],
      ['aof_base_size', s.aofBaseSize],
      ['aof_pending_bio_fsync', s.fsyncInFlight ? 1 : 0],
      ['aof_delayed_fsync', s.delayedFsyncs],
      ['appendfsync', s.appendfsync],
      ['log_last_seq', s.lastSeq],
      ['log_written_seq', s.writtenSeq],
      ['log_durable_seq', s.durableSeq],
      ['log_segments', s.segments],
      ['log_failure', s.failure ?? ''],
    ]
  }

  /** Stops automatic checkpoints; the engine closes (flushes and fsyncs) the log itself. */
  close(): Promise<void> {
    clearInterval(this.timer)
    return Promise.resolve()
  }
}

/**
 * When to take a checkpoint automatically — the policy half of BGSAVE/BGREWRITEAOF; the mechanism
 * is `AofLog.checkpoint` (infra/log/aofLog.ts). The server calls {@link shouldCheckpoint} from a
 * periodic timer (Redis's `serverCron`, e.g. every 100 ms) and, when it answers, calls
 * `log.checkpoint(() => engine.capture(), engine.seq)` between execution units.
 *
 * Triggers, as in Redis:
 * - **save rules** (`--save "3600 1 300 100 60 10000"`): at least `changes` records since the last
 *   checkpoint and at least `seconds` since it;
 * - **AOF growth** (`auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`): the files grew
 *   by `percentage` % over their size right after the last checkpoint, and are over the minimum;
 * - **log failure**: the log refuses writes after a failed write or fsync; only a checkpoint clears
 *   that (fsyncgate rule), so one is attempted (after a retry delay when the last one failed) —
 *   the server becomes writable again by itself once the disk has room.
 * After a failed checkpoint, automatic ones wait `retryDelayMs` (Redis: 5 s) before trying again.
 * Explicit SAVE/BGSAVE/BGREWRITEAOF and the checkpoint on clean shutdown bypass this policy.
 *
 * Pure: time comes in as `now`.
 *
 * @category app
 */
import type { LogStats } from '../infra/log/aofLog.js'

export interface SaveRule {
  readonly seconds: number
  readonly changes: number
}

export interface CheckpointPolicy {
  /** Redis `save` points; empty disables them. */
  readonly save: ReadonlyArray<SaveRule>
  /** Redis `auto-aof-rewrite-percentage`; 0 disables growth-triggered checkpoints. */
  readonly aofRewritePercentage: number
  /** Redis `auto-aof-rewrite-min-size`, in bytes. */
  readonly aofRewriteMinSize: number
  /** Delay before an automatic retry after a failed checkpoint (Redis CONFIG_BGSAVE_RETRY_DELAY). */
  readonly retryDelayMs: number
}

/** Redis 7 defaults: save 3600 1 300 100 60 10000; 100 %; 64 MiB; 5 s. */
export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = {
  save: [
    { seconds: 3600, changes: 1 },
    { seconds: 300, changes: 100 },
    { seconds: 60, changes: 10000 },
  ],
  aofRewritePercentage: 100,
  aofRewriteMinSize: 64 * 1024 * 1024,
  retryDelayMs: 5000,
}

export type CheckpointReason = 'save-rule' | 'aof-growth' | 'log-failure'

export interface CheckpointDecision {
  readonly reason: CheckpointReason
  /** A log line: which rule fired. */
  readonly detail: string
}

/** The fields of {@link LogStats} the policy reads. */
export type PolicyStats = Pick<
  LogStats,
  | 'checkpointInProgress'
  | 'changesSinceLastSave'
  | 'lastSaveAt'
  | 'lastCheckpointStatus'
  | 'lastCheckpointAttemptAt'
  | 'aofCurrentSize'
  | 'aofBaseSize'
  | 'failure'
>

/** Whether an automatic checkpoint should start now, and why; undefined when not. */
export const shouldCheckpoint = (
  stats: PolicyStats,
  now: number,
  policy: CheckpointPolicy = DEFAULT_CHECKPOINT_POLICY,
): CheckpointDecision | undefined => {
  if (stats.checkpointInProgress) return undefined
  const retryAllowed =
    stats.lastCheckpointStatus === 'ok' ||
    stats.lastCheckpointAttemptAt === undefined ||
    now - stats.lastCheckpointAttemptAt >= policy.retryDelayMs
  if (!retryAllowed) return undefined
  if (stats.failure !== undefined) {
    return { reason: 'log-failure', detail: `the log refuses writes (${stats.failure}); a checkpoint starts a fresh chain` }
  }
  for (const rule of policy.save) {
    if (stats.changesSinceLastSave >= rule.changes && now - stats.lastSaveAt >= rule.seconds * 1000) {
      return { reason: 'save-rule', detail: `${rule.changes} changes in ${rule.seconds} seconds` }
    }
  }
  if (policy.aofRewritePercentage > 0 && stats.aofCurrentSize > policy.aofRewriteMinSize) {
    const base = Math.max(1, stats.aofBaseSize)
    const growth = ((stats.aofCurrentSize - base) * 100) / base
    if (growth >= policy.aofRewritePercentage) {
      return { reason: 'aof-growth', detail: `the log grew by ${Math.floor(growth)}% (${stats.aofCurrentSize} bytes)` }
    }
  }
  return undefined
}

/**
 * Parses Redis's `save` syntax: pairs of "seconds changes" separated by spaces, or "" to disable.
 * Returns an error text for anything else.
 */
export const parseSaveRules = (text: string): ReadonlyArray<SaveRule> | string => {
  const parts = text.trim() === '' ? [] : text.trim().split(/\s+/)
  if (parts.length % 2 !== 0) return 'Invalid save parameters'
  const rules: SaveRule[] = []
  for (let i = 0; i < parts.length; i += 2) {
    const seconds = Number(parts[i])
    const changes = Number(parts[i + 1])
    if (!/^\d+$/.test(parts[i]!) || !/^\d+$/.test(parts[i + 1]!) || !Number.isSafeInteger(seconds) || !Number.isSafeInteger(changes)) {
      return 'Invalid save parameters'
    }
    rules.push({ seconds, changes })
  }
  return rules
}

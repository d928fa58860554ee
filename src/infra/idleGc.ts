/**
 * A full garbage collection when the server is idle, to hand back memory a write burst left.
 *
 * V8 grows the young generation to its maximum (2 × 16 MiB semi-spaces) under sustained
 * allocation and keeps it, and keeps old-generation pages freed by overwritten values, until a
 * full GC with memory reduction — which its own memory reducer starts only on allocation-rate
 * heuristics that a server gone quiet does not trigger. Measured with 1M keys written by
 * redis-benchmark (bench/run.mjs (d)): RSS stayed at ~220 bytes/key after 30 s of idleness and
 * fell to ~190 after one full GC (the young generation went from 32 MiB to 1 MiB).
 *
 * This is the JVM's answer too (G1's periodic GC, JEP 346: "promptly return unused committed
 * memory"), and the role of Redis's jemalloc background purge.
 *
 * V8 exposes a full GC only behind `--expose-gc`; the flag is set at run time and the function
 * taken from a fresh context (the documented `v8.setFlagsFromString` + `vm` idiom), so `redust`
 * needs no Node flags. Undefined where that is not possible.
 *
 * @category infra
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** Runs a synchronous full (major) GC. */
export const fullGc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc')
    const gc: unknown = runInNewContext('gc')
    return typeof gc === 'function' ? () => void (gc as () => void)() : undefined
  } catch {
    return undefined
  }
})()

/**
 * Decides, once per cron tick, whether to collect: after a whole tick without commands and
 * without background work, that followed some activity (so one collection per burst, none while
 * clients are active, none while nothing changed since the last one).
 */
export class IdleGc {
  private lastSeen = -1
  private lastCollected = -1

  /** `collect`: normally {@link fullGc}; undefined disables collection. */
  constructor(private readonly collect: (() => void) | undefined) {}

  /**
   * Call every tick with a counter of commands processed and whether background work that frees
   * memory is still going on (collecting before it ends would miss what it frees); returns true
   * when it collected.
   */
  tick(commandsProcessed: number, backgroundWork: boolean): boolean {
    const idle = commandsProcessed === this.lastSeen && !backgroundWork
    this.lastSeen = commandsProcessed
    if (!idle || commandsProcessed === this.lastCollected || this.collect === undefined) return false
    this.lastCollected = commandsProcessed
    this.collect()
    return true
  }
}

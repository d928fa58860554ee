/**
 * The log port: where decided events go before they count (log-first, invariant I8).
 *
 * The engine owns sequence numbers and calls `append` synchronously inside the execution unit,
 * right after decide and before evolve. An adapter buffers the record and returns the **commit**
 * of the batch it joined: a promise shared by every record appended in the same event-loop turn
 * (group commit). It resolves once the batch is durable under the adapter's policy and rejects
 * if the batch could not be persisted; a reply that depends on the record waits for it.
 *
 * Adapters: `MemoryLog` (tests, embedding), the local AOF (infra/log), later NATS JetStream.
 *
 * @category ports
 */
import type { Event } from '../domain/event.js'
import type { EpochMs } from '../domain/primitives.js'

/** One execution unit's facts: the events of one command, or of one whole EXEC. Never empty. */
export interface LogRecord {
  /** Strictly increasing, contiguous (invariant I7). The first record after an empty log is 1. */
  readonly seq: number
  /** Wall-clock time of the execution unit (ctx.now). */
  readonly at: EpochMs
  readonly events: ReadonlyArray<Event>
}

/**
 * Why the log refuses writes (Redis's MISCONF state). `reason` is the text that follows `MISCONF `
 * in the error clients get, e.g. `Errors writing to the AOF file: No space left on device`.
 */
export type LogFailure = { readonly reason: string }

export interface EventLog {
  /**
   * Buffers a record. Synchronous and never throws; the returned commit settles when the batch
   * holding the record is durable per policy (resolve) or failed (reject with an Error whose
   * message is a full `MISCONF …` line, or any text the engine wraps in Redis's MISCONF text).
   */
  append(record: LogRecord): Promise<void>
  /** Non-undefined while the log refuses writes after a failed write or fsync. */
  failure(): LogFailure | undefined
  /** Flushes and syncs whatever is buffered, then releases resources. */
  close(): Promise<void>
}

// ---------------------------------------------------------------------------------------------
// in-memory adapter
// ---------------------------------------------------------------------------------------------

const DONE: Promise<void> = Promise.resolve()

/**
 * Keeps nothing, only checks the sequence: the log of a server without durable storage
 * (`appendonly no`) and of an embedded engine. Every append is immediately "durable".
 */
export class DiscardLog implements EventLog {
  private lastSeq: number | undefined = undefined

  append(record: LogRecord): Promise<void> {
    if (this.lastSeq !== undefined && record.seq !== this.lastSeq + 1) {
      return Promise.reject(new Error(`sequence gap: ${this.lastSeq} then ${record.seq}`))
    }
    this.lastSeq = record.seq
    return DONE
  }

  failure(): LogFailure | undefined {
    return undefined
  }

  close(): Promise<void> {
    return DONE
  }
}

/** Keeps every record in an array (memory grows without bound); every append is immediately "durable". For tests. */
export class MemoryLog implements EventLog {
  readonly records: LogRecord[] = []

  append(record: LogRecord): Promise<void> {
    const last = this.records[this.records.length - 1]
    if (last !== undefined && record.seq !== last.seq + 1) {
      return Promise.reject(new Error(`sequence gap: ${last.seq} then ${record.seq}`))
    }
    this.records.push(record)
    return DONE
  }

  failure(): LogFailure | undefined {
    return undefined
  }

  close(): Promise<void> {
    return DONE
  }
}

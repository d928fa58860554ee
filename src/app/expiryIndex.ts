/**
 * The active-expiry index: a binary min-heap of (deadline, db, key) candidates.
 *
 * It is a *hint*, not a source of truth: entries go stale when a key's deadline changes or the key
 * is deleted, and they are never removed eagerly. The engine pops due candidates and hands them to
 * the domain's `decideExpireDue`, which re-checks each against the state and `now` and emits
 * KeyExpired only for keys really past their deadline (rule R4). Stale entries cost one pop each.
 *
 * @category app
 */
import type { EpochMs, Key } from '../domain/primitives.js'

export interface ExpiryCandidate {
  readonly at: EpochMs
  readonly db: number
  readonly key: Key
}

export class ExpiryIndex {
  private heap: ExpiryCandidate[] = []

  get size(): number {
    return this.heap.length
  }

  /** The earliest deadline in the index, or undefined when empty. */
  peek(): EpochMs | undefined {
    return this.heap[0]?.at
  }

  push(at: EpochMs, db: number, key: Key): void {
    const heap = this.heap
    heap.push({ at, db, key })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.at <= heap[i]!.at) break
      ;[heap[parent], heap[i]] = [heap[i]!, heap[parent]!]
      i = parent
    }
  }

  /** Removes and returns up to `limit` candidates whose deadline is strictly before `now`. */
  popDue(now: EpochMs, limit: number): ExpiryCandidate[] {
    const out: ExpiryCandidate[] = []
    while (out.length < limit && this.heap.length > 0 && this.heap[0]!.at < now) out.push(this.pop()!)
    return out
  }

  clear(): void {
    this.heap = []
  }

  private pop(): ExpiryCandidate | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    heap[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let smallest = i
      if (l < heap.length && heap[l]!.at < heap[smallest]!.at) smallest = l
      if (r < heap.length && heap[r]!.at < heap[smallest]!.at) smallest = r
      if (smallest === i) break
      ;[heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!]
      i = smallest
    }
    return top
  }
}

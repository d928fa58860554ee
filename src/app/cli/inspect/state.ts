/**
 * `redust dump [--at POINT]` (the state at a point) and `redust diff --from A --to B` (keys added,
 * changed and removed between two points). Points are seqs or times (./points.ts).
 *
 * Both show the stored state: a key whose deadline had passed at that time but that no event had
 * expired yet is still there, marked `(expired)` in text output (the server would report it
 * missing and log its expiry on first access).
 *
 * ## dump
 *
 * ```
 * # state at seq 9 (2026-11-25T14:02:00.250Z): 3 keys
 * db0 "a" = "1"
 * db0 "session" = "tok" expires 2026-11-25T14:03:00.250Z
 * db3 "x" = "\x00\xff"
 * ```
 * `--json`: one line per key, exactly the snapshot's entry lines:
 * `{"db":0,"key":"a","value":"1","expireAt":null}`.
 *
 * ## diff
 *
 * ```
 * + db0 "new" = "v"
 * ~ db0 "counter" = "5" (was "1")
 * - db0 "old" (was "x")
 * diff seq 3 -> seq 9: 1 added, 1 changed, 1 removed
 * ```
 * `--json`: one line per key, `{"change":"changed","db":0,"key":"counter","before":{"value":"1",
 * "expireAt":null},"after":{"value":"5","expireAt":null}}` (`before` null when added, `after`
 * null when removed).
 *
 * Keys are listed by database, then in byte order.
 *
 * @category cli
 */
import * as Keyspace from '../../../domain/keyspace.js'
import type { Entry, State } from '../../../domain/keyspace.js'
import { DATABASE_COUNT, type Key } from '../../../domain/primitives.js'
import { statesAt, tornNote, type StateAt } from './dataDir.js'
import { EXIT_OK, type Io } from './io.js'
import { describePoint, type Point } from './points.js'
import { count, isoTime, repr, reprCut } from './text.js'

export interface DumpOptions {
  readonly at: Point
  readonly json: boolean
  readonly maxValue: number
  readonly db?: number
}

const where = (s: StateAt): string => `seq ${s.seq}${s.at === undefined ? '' : ` (${isoTime(s.at)})`}`

const entryText = (e: Entry, maxValue: number, now: number | undefined): string => {
  let text = `= ${reprCut(e.value, maxValue)}`
  if (e.expireAt !== null) text += ` expires ${isoTime(e.expireAt)}${now !== undefined && now > e.expireAt ? ' (expired)' : ''}`
  return text
}

export const dump = async (dir: string, o: DumpOptions, io: Io): Promise<number> => {
  const result = await statesAt(dir, [o.at])
  if (result.torn !== undefined) io.note(tornNote(dir, result.torn))
  const s = result.states[0]!
  const dbs = o.db === undefined ? Array.from({ length: DATABASE_COUNT }, (_, i) => i) : [o.db]
  if (!o.json) {
    const keys = dbs.reduce((n, d) => n + Keyspace.size(s.state, d), 0)
    io.line(`# state at ${where(s)}: ${count(keys)} key${keys === 1 ? '' : 's'}${o.db === undefined ? '' : ` in db${o.db}`}`)
  }
  for (const d of dbs) {
    for (const [key, e] of Keyspace.entriesSorted(s.state, d)) {
      io.line(
        o.json
          ? JSON.stringify({ db: d, key, value: e.value, expireAt: e.expireAt })
          : `db${d} ${repr(key)} ${entryText(e, o.maxValue, s.at)}`,
      )
    }
  }
  return EXIT_OK
}

export interface KeyChange {
  readonly change: 'added' | 'changed' | 'removed'
  readonly db: number
  readonly key: string
  readonly before: Entry | null
  readonly after: Entry | null
}

const copyDb = (state: State, db: number): Map<Key, Entry> => {
  const out = new Map<Key, Entry>()
  for (const [key, value] of Keyspace.entriesOf(state, db)) out.set(key, { value, expireAt: Keyspace.getExpireAt(state, db, key) ?? null })
  return out
}

/** The keys that differ between two states, by database then key. */
export const diffStates = (a: State, b: State, dbFilter?: number): KeyChange[] => {
  const out: KeyChange[] = []
  for (let d = 0; d < DATABASE_COUNT; d++) {
    if (dbFilter !== undefined && d !== dbFilter) continue
    // Copy each side before reading the other: two versions of one store are not both cheap to read.
    const before = copyDb(a, d)
    const after = copyDb(b, d)
    const changes: KeyChange[] = []
    for (const [key, now] of after) {
      const old = before.get(key)
      if (old === undefined) changes.push({ change: 'added', db: d, key, before: null, after: now })
      else if (old.value !== now.value || old.expireAt !== now.expireAt) changes.push({ change: 'changed', db: d, key, before: old, after: now })
    }
    for (const [key, old] of before) {
      if (!after.has(key)) changes.push({ change: 'removed', db: d, key, before: old, after: null })
    }
    changes.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))
    out.push(...changes)
  }
  return out
}

export interface DiffOptions {
  readonly from: Point
  readonly to: Point
  readonly json: boolean
  readonly maxValue: number
  readonly db?: number
}

export const diff = async (dir: string, o: DiffOptions, io: Io): Promise<number> => {
  const result = await statesAt(dir, [o.from, o.to])
  if (result.torn !== undefined) io.note(tornNote(dir, result.torn))
  const [a, b] = result.states as [StateAt, StateAt]
  const changes = diffStates(a.state, b.state, o.db)
  const tally = { added: 0, changed: 0, removed: 0 }
  for (const c of changes) {
    tally[c.change]++
    if (o.json) {
      io.line(JSON.stringify(c))
      continue
    }
    const k = `db${c.db} ${repr(c.key)}`
    const was = c.before === null ? '' : `${c.change === 'removed' ? '' : ' '}(was ${entryText(c.before, o.maxValue, undefined).slice(2)})`
    if (c.change === 'added') io.line(`+ ${k} ${entryText(c.after!, o.maxValue, b.at)}`)
    else if (c.change === 'removed') io.line(`- ${k} ${was}`)
    else io.line(`~ ${k} ${entryText(c.after!, o.maxValue, b.at)}${was}`)
  }
  const summary = `diff ${where(a)} -> ${where(b)}: ${tally.added} added, ${tally.changed} changed, ${tally.removed} removed`
  if (o.json) io.note(summary)
  else io.line(summary)
  if (a.seq > b.seq) io.note(`note: --from (${describePoint(o.from)}) is after --to (${describePoint(o.to)}): the diff goes backwards`)
  return EXIT_OK
}

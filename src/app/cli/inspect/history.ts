/**
 * `redust history KEY [--db N]`: every event that touched a key, with its time — an audit trail.
 *
 * Starts with the key's entry in the snapshot (the history before it was compacted), then lists
 * every event that named the key (set, append, range write, delete, expiry set/removed/passed,
 * rename from/to, move, copy to) and every event that changed it without naming it: FLUSHDB and
 * FLUSHALL while it existed, SWAPDB moving it between databases. To know the latter, the key's
 * presence is tracked through the log (a rename or copy into the key makes it exist; a move
 * carries it to another database).
 *
 * Without `--db`, all 16 databases; with it, only events that concern the key in that database.
 *
 * @category cli
 */
import type { Event } from '../../../domain/event.js'
import * as Keyspace from '../../../domain/keyspace.js'
import { DATABASE_COUNT } from '../../../domain/primitives.js'
import { damageError, EMPTY_BASE, loadBase, readManifestOf, streamRecords, tornNote, type Base } from './dataDir.js'
import { EXIT_OK, type Io } from './io.js'
import { eventJson, eventLine } from './render.js'
import { isoTime, repr, reprCut } from './text.js'

export interface HistoryOptions {
  readonly db?: number
  readonly json: boolean
  readonly maxValue: number
}

/**
 * Whether `e` concerns `key` in database `db` (undefined: any), given where the key exists
 * (`present[d]`) before the event; updates `present` to after it.
 */
export const concerns = (e: Event, key: string, db: number | undefined, present: boolean[]): boolean => {
  const inDb = (d: number): boolean => db === undefined || db === d
  switch (e.type) {
    case 'ValueSet':
    case 'ValueAppended':
    case 'RangeOverwritten':
      if (e.key !== key) return false
      present[e.db] = true
      return inDb(e.db)
    case 'ExpirySet':
    case 'ExpiryRemoved':
      return e.key === key && inDb(e.db)
    case 'KeyExpired':
      if (e.key !== key) return false
      present[e.db] = false
      return inDb(e.db)
    case 'KeysDeleted':
      if (!e.keys.includes(key)) return false
      present[e.db] = false
      return inDb(e.db)
    case 'DatabaseFlushed': {
      const was = present[e.db] === true
      present[e.db] = false
      return was && inDb(e.db)
    }
    case 'AllDatabasesFlushed': {
      const was = present.some((p, d) => p && inDb(d))
      present.fill(false)
      return was
    }
    case 'DatabasesSwapped': {
      const a = present[e.db] === true
      const b = present[e.other] === true
      present[e.db] = b
      present[e.other] = a
      return (a || b) && (inDb(e.db) || inDb(e.other)) && e.db !== e.other
    }
    case 'KeyRenamed': {
      if (e.from !== key && e.to !== key) return false
      if (e.from === key && e.to === key) return inDb(e.db)
      if (e.from === key) present[e.db] = false
      else present[e.db] = true
      return inDb(e.db)
    }
    case 'KeyMoved':
      if (e.key !== key) return false
      present[e.db] = false
      present[e.toDb] = true
      return inDb(e.db) || inDb(e.toDb)
    case 'KeyCopied':
      if (e.to === key) {
        present[e.toDb] = true
        return inDb(e.toDb) || (e.from === key && inDb(e.db))
      }
      return e.from === key && inDb(e.db)
  }
}

export const history = async (dir: string, key: string, o: HistoryOptions, io: Io): Promise<number> => {
  const manifest = await readManifestOf(dir)
  const base: Base = manifest.snapshot === undefined ? EMPTY_BASE : await loadBase(dir, manifest)
  const present = new Array<boolean>(DATABASE_COUNT).fill(false)
  let lines = 0
  const firstSegment = manifest.segments[0]
  // The snapshot describes the key just before the first record the log holds after it.
  if (base.file !== undefined && firstSegment !== undefined && firstSegment.firstLsn === base.seq + 1) {
    for (let d = 0; d < DATABASE_COUNT; d++) {
      const entry = Keyspace.getEntry(base.state, d, key)
      if (entry === undefined) continue
      present[d] = true
      if (o.db !== undefined && o.db !== d) continue
      lines++
      const at = base.at ?? 0
      if (o.json) {
        io.line(JSON.stringify({ seq: base.seq, at, time: isoTime(at), type: 'Snapshot', file: base.file, db: d, key, value: entry.value, expireAt: entry.expireAt }))
      } else {
        const ttl = entry.expireAt === null ? '' : ` expires ${isoTime(entry.expireAt)}`
        io.line(
          `${String(base.seq).padStart(7)} ${isoTime(at)} ${`db${d}`.padEnd(4)} ${'(snapshot)'.padEnd(19)} ${repr(key)} = ${reprCut(entry.value, o.maxValue)}${ttl}`,
        )
      }
    }
  }
  const result = await streamRecords(dir, {
    onRecord: (r) => {
      r.events.forEach((e, i) => {
        if (!concerns(e, key, o.db, present)) return
        lines++
        io.line(o.json ? eventJson(r.seq, r.at, i, e) : eventLine(r.seq, r.at, e, o))
      })
    },
  })
  const problem = result.walk.problem
  if (problem !== undefined && problem.kind !== 'torn-tail') {
    await io.flush()
    throw damageError(dir, problem, result.walk.lastSeq)
  }
  if (problem !== undefined) io.note(tornNote(dir, problem))
  if (lines === 0) io.note(`no event in the log touched ${repr(key)}${o.db === undefined ? '' : ` in db${o.db}`}`)
  return EXIT_OK
}

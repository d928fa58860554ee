/**
 * The keyspace family: DEL and friends, renames, copies and moves, KEYS/SCAN/RANDOMKEY, and the
 * database-wide commands (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, SELECT) — Redis's db.c.
 * Each command is one {@link CommandSpec}: parse and decide together.
 *
 * Lookups go through {@link LiveView}, so they expire keys lazily exactly where Redis's
 * `lookupKey*`/`expireIfNeeded` would (each expired key found becomes a KeyExpired event ahead of
 * the command's own events), and stay silent where Redis only peeks (`keyIsExpired` in KEYS,
 * `dictSize` in DBSIZE). No-op writes emit nothing (invariant I5): RENAME of a key onto itself,
 * FLUSHDB of an empty database, SWAPDB of a database with itself or of two empty ones.
 *
 * @category commands
 */
import { parseInt64, upper } from '../args.js'
import {
  defineCommand,
  NO_EVENTS,
  isParseError as isError,
  replyOnly,
  type CommandFlag,
  type CommandGroup,
  type Context,
  type Decision,
  type ParseError,
} from '../command.js'
import {
  allDatabasesFlushed,
  databaseFlushed,
  databasesSwapped,
  keyCopied,
  keyMoved,
  keyRenamed,
  keysDeleted,
  type Event,
} from '../event.js'
import { globMatch } from '../glob.js'
import * as Keyspace from '../keyspace.js'
import type { State } from '../keyspace.js'
import { isPastDeadline, decision, LiveView, read } from '../live.js'
import { DATABASE_COUNT, type Bytes, type Key } from '../primitives.js'
import { array, bulk, error, Errors, int, NIL, OK, ONE, simple, ZERO, type Reply } from '../reply.js'

// ---------------------------------------------------------------------------------------------
// shared pieces
// ---------------------------------------------------------------------------------------------

/** Error texts of this family that reply.ts does not carry (Redis 7.0, byte-identical). */
export const KeyErrors = {
  /** SCAN: the cursor is not an unsigned 64-bit decimal (`parseScanCursorOrReply`). */
  invalidCursor: error('ERR invalid cursor') as ParseError,
  /** SWAPDB: the first index is not a 32-bit integer. */
  invalidFirstDb: error('ERR invalid first DB index') as ParseError,
  /** SWAPDB: the second index is not a 32-bit integer. */
  invalidSecondDb: error('ERR invalid second DB index') as ParseError,
  /** An int64 outside int32 where Redis wants an `int` (`getRangeLongFromObjectOrReply`). */
  notInt32: error('ERR value is out of range, value must between -2147483648 and 2147483647') as ParseError,
} as const

const meta = (
  name: string,
  arity: number,
  flags: ReadonlyArray<CommandFlag>,
  keys: readonly [number, number, number],
  since: string,
  summary: string,
  complexity: string,
  syntax: string,
  group: CommandGroup = 'generic',
) => ({ name, arity, flags, firstKey: keys[0], lastKey: keys[1], keyStep: keys[2], group, since, summary, complexity, syntax })



const INT32_MIN = -(2n ** 31n)
const INT32_MAX = 2n ** 31n - 1n

/**
 * Parses a C `int` as Redis's `getIntFromObjectOrReply` does: an int64 by `string2ll` rules, then
 * a range check. `message` replaces both default errors when given (SWAPDB's texts).
 */
const parseInt32 = (raw: Bytes, message?: ParseError): number | ParseError => {
  const n = parseInt64(raw)
  if (n === undefined) return message ?? (Errors.notInteger as ParseError)
  if (n < INT32_MIN || n > INT32_MAX) return message ?? KeyErrors.notInt32
  return Number(n)
}

/** A database index for MOVE/COPY/SELECT: an `int`, then 0..15 or "DB index is out of range". */
const parseDbIndex = (raw: Bytes): number | ParseError => {
  const n = parseInt32(raw)
  if (isError(n)) return n
  return n >= 0 && n < DATABASE_COUNT ? n : (Errors.dbIndexOutOfRange as ParseError)
}

const STRING_TYPE = simple('string')
const NONE_TYPE = simple('none')

// ---------------------------------------------------------------------------------------------
// DEL, UNLINK, DELETE, EXISTS, TOUCH, TYPE
// ---------------------------------------------------------------------------------------------

export interface DelCommand {
  readonly type: 'DEL'
  readonly keys: ReadonlyArray<Key>
}

/**
 * DEL/UNLINK/DELETE: Redis expires each key first (`expireIfNeeded`), so an expired key is logged
 * as KeyExpired and not counted. A key named twice is deleted and counted once.
 */
const decideDel = (cmd: DelCommand, state: State, ctx: Context): Decision => {
  const view = new LiveView(state, ctx.now)
  const deleted: Key[] = []
  const seen = cmd.keys.length > 1 ? new Set<Key>() : undefined
  for (const key of cmd.keys) {
    if (seen !== undefined) {
      if (seen.has(key)) continue
      seen.add(key)
    }
    if (view.exists(ctx.db, key)) deleted.push(key)
  }
  if (deleted.length === 0) return read(view, ZERO)
  return decision(view, [keysDeleted(ctx.db, deleted)], int(deleted.length))
}

const parseKeys = (args: ReadonlyArray<Bytes>): DelCommand => ({ type: 'DEL', keys: args })

export const DEL = defineCommand<DelCommand>({
  ...meta('del', -2, ['write'], [1, -1, 1], '1.0.0', 'Delete a key', 'O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).', 'key [key ...]'),
  parse: parseKeys,
  decide: decideDel,
})

export const UNLINK = defineCommand<DelCommand>({
  ...meta('unlink', -2, ['write', 'fast'], [1, -1, 1], '4.0.0', 'Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.', 'O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.', 'key [key ...]'),
  parse: parseKeys,
  decide: decideDel,
})

/** DELETE key [key ...] — the original dialect: exactly DEL. */
export const DELETE = defineCommand<DelCommand>({
  ...meta('delete', -2, ['write'], [1, -1, 1], '0.1.0', 'Delete one or more keys, exactly as DEL (Redust dialect).', 'O(N) where N is the number of keys that will be removed.', 'key [key ...]'),
  parse: parseKeys,
  decide: decideDel,
})

export interface ExistsCommand {
  readonly type: 'EXISTS'
  readonly keys: ReadonlyArray<Key>
}

/** EXISTS and TOUCH: the number of live keys named, a key named twice counted twice. */
const decideCountExisting = (cmd: ExistsCommand, state: State, ctx: Context): Decision => {
  const view = new LiveView(state, ctx.now)
  let count = 0
  for (const key of cmd.keys) if (view.exists(ctx.db, key)) count++
  return read(view, int(count))
}

export const EXISTS = defineCommand<ExistsCommand>({
  ...meta('exists', -2, ['readonly', 'fast'], [1, -1, 1], '1.0.0', 'Determine if a key exists', 'O(N) where N is the number of keys to check.', 'key [key ...]'),
  parse: (args) => ({ type: 'EXISTS', keys: args }),
  decide: decideCountExisting,
})

/** TOUCH only updates access times in Redis, which Redust does not keep: it counts like EXISTS. */
export const TOUCH = defineCommand<ExistsCommand>({
  ...meta('touch', -2, ['readonly', 'fast'], [1, -1, 1], '3.2.1', 'Alters the last access time of a key(s). Returns the number of existing keys specified.', 'O(N) where N is the number of keys that will be touched.', 'key [key ...]'),
  parse: (args) => ({ type: 'EXISTS', keys: args }),
  decide: decideCountExisting,
})

export interface TypeCommand {
  readonly type: 'TYPE'
  readonly key: Key
}
export const TYPE = defineCommand<TypeCommand>({
  ...meta('type', 2, ['readonly', 'fast'], [1, 1, 1], '1.0.0', 'Determine the type stored at key', 'O(1)', 'key'),
  parse: ([key]) => ({ type: 'TYPE', key: key! }),
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    return read(view, view.exists(ctx.db, cmd.key) ? STRING_TYPE : NONE_TYPE)
  },
})

// ---------------------------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE
// ---------------------------------------------------------------------------------------------

export interface RenameCommand {
  readonly type: 'RENAME'
  readonly from: Key
  readonly to: Key
  /** RENAMENX: refuse (reply 0) when the destination exists; reply 1/0 instead of OK. */
  readonly nx: boolean
}

/**
 * Redis's `renameGenericCommand`: a missing source is an error even when both names are equal;
 * an existing key renamed onto itself is a no-op (OK, or 0 for RENAMENX). The destination is
 * looked up for writing, so an expired destination is logged as KeyExpired before KeyRenamed.
 */
const decideRename = (cmd: RenameCommand, state: State, ctx: Context): Decision => {
  const view = new LiveView(state, ctx.now)
  if (!view.exists(ctx.db, cmd.from)) return read(view, Errors.noSuchKey)
  if (cmd.from === cmd.to) return read(view, cmd.nx ? ZERO : OK)
  if (view.exists(ctx.db, cmd.to) && cmd.nx) return read(view, ZERO)
  return decision(view, [keyRenamed(ctx.db, cmd.from, cmd.to)], cmd.nx ? ONE : OK)
}

export const RENAME = defineCommand<RenameCommand>({
  ...meta('rename', 3, ['write'], [1, 2, 1], '1.0.0', 'Rename a key', 'O(1)', 'key newkey'),
  parse: ([from, to]) => ({ type: 'RENAME', from: from!, to: to!, nx: false }),
  decide: decideRename,
})

export const RENAMENX = defineCommand<RenameCommand>({
  ...meta('renamenx', 3, ['write', 'fast'], [1, 2, 1], '1.0.0', 'Rename a key, only if the new key does not exist', 'O(1)', 'key newkey'),
  parse: ([from, to]) => ({ type: 'RENAME', from: from!, to: to!, nx: true }),
  decide: decideRename,
})

export interface CopyCommand {
  readonly type: 'COPY'
  readonly from: Key
  readonly to: Key
  /** The DB option; undefined means the client's current database. */
  readonly toDb: number | undefined
  readonly replace: boolean
}

export const COPY = defineCommand<CopyCommand>({
  ...meta('copy', -3, ['write', 'denyoom'], [1, 2, 1], '6.2.0', 'Copy a key', 'O(N) worst case for collections, where N is the number of nested items. O(1) for string values.', 'source destination [DB destination-db] [REPLACE]'),
  // Options are read left to right and the first bad one answers, as in Redis's copyCommand.
  parse: (args) => {
    let toDb: number | undefined
    let replace = false
    for (let i = 2; i < args.length; i++) {
      const opt = upper(args[i]!)
      if (opt === 'REPLACE') replace = true
      else if (opt === 'DB' && i + 1 < args.length) {
        const db = parseDbIndex(args[++i]!)
        if (isError(db)) return db
        toDb = db
      } else return Errors.syntax as ParseError
    }
    return { type: 'COPY', from: args[0]!, to: args[1]!, toDb, replace }
  },
  decide: (cmd, state, ctx) => {
    const toDb = cmd.toDb ?? ctx.db
    if (toDb === ctx.db && cmd.from === cmd.to) return replyOnly(Errors.sameObject)
    const view = new LiveView(state, ctx.now)
    if (!view.exists(ctx.db, cmd.from)) return read(view, ZERO)
    if (view.exists(toDb, cmd.to) && !cmd.replace) return read(view, ZERO)
    return decision(view, [keyCopied(ctx.db, cmd.from, toDb, cmd.to)], ONE)
  },
})

export interface MoveCommand {
  readonly type: 'MOVE'
  readonly key: Key
  readonly toDb: number
}

export const MOVE = defineCommand<MoveCommand>({
  ...meta('move', 3, ['write', 'fast'], [1, 1, 1], '1.0.0', 'Move a key to another database', 'O(1)', 'key db'),
  parse: ([key, db]) => {
    const toDb = parseDbIndex(db!)
    if (isError(toDb)) return toDb
    return { type: 'MOVE', key: key!, toDb }
  },
  decide: (cmd, state, ctx) => {
    if (cmd.toDb === ctx.db) return replyOnly(Errors.sameObject)
    const view = new LiveView(state, ctx.now)
    if (!view.exists(ctx.db, cmd.key)) return read(view, ZERO)
    if (view.exists(cmd.toDb, cmd.key)) return read(view, ZERO)
    return decision(view, [keyMoved(ctx.db, cmd.key, cmd.toDb)], ONE)
  },
})

// ---------------------------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY
// ---------------------------------------------------------------------------------------------

export interface KeysCommand {
  readonly type: 'KEYS'
  readonly pattern: Bytes
}

/**
 * KEYS: every live key matching the glob, in the keyspace's canonical order (`keysInOrder`). Like Redis's keysCommand
 * it only peeks at deadlines (`keyIsExpired`) and expires nothing, so it never emits events.
 */
export const KEYS = defineCommand<KeysCommand>({
  ...meta('keys', 2, ['readonly'], [0, 0, 0], '1.0.0', 'Find all keys matching the given pattern', 'O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.', 'pattern'),
  parse: ([pattern]) => ({ type: 'KEYS', pattern: pattern! }),
  decide: (cmd, state, ctx) => {
    const allKeys = cmd.pattern === '*'
    const out: Reply[] = []
    for (const key of Keyspace.keysInOrder(state, ctx.db)) {
      if (!allKeys && !globMatch(cmd.pattern, key)) continue
      if (isPastDeadline(Keyspace.getExpireAt(state, ctx.db, key), ctx.now)) continue
      out.push(bulk(key))
    }
    return replyOnly(array(out))
  },
})

export interface ScanCommand {
  readonly type: 'SCAN'
  /** The cursor, already reduced to Redust's cursor space (0 ..= 2^32; 2^32 means "past the end"). */
  readonly cursor: number
  readonly pattern: Bytes | undefined
  readonly count: number
  /** The TYPE option as given (compared case-insensitively). */
  readonly typeName: string | undefined
}

const MAX_CURSOR = 2 ** 32
const UINT64_MAX = 2n ** 64n - 1n
const CURSOR_SYNTAX = /^[+-]?[0-9]+$/
const C_SPACE = /^[ \t\n\v\f\r]/

/**
 * Parses a SCAN cursor as Redis's `parseScanCursorOrReply`: C's `strtoul` over the whole argument
 * (read up to a NUL byte, as C strings are), no leading whitespace, within unsigned 64 bits. So
 * `""`, `+0`, `-0` and `007` are valid, and `-1` wraps to 2^64 − 1 as strtoul does.
 * Returns undefined for an invalid cursor.
 */
export const parseScanCursor = (raw: Bytes): bigint | undefined => {
  const nul = raw.indexOf('\0')
  const text = nul >= 0 ? raw.slice(0, nul) : raw
  if (text.length === 0) return 0n
  if (C_SPACE.test(text) || !CURSOR_SYNTAX.test(text)) return undefined
  const negative = text.charCodeAt(0) === 0x2d
  const magnitude = BigInt(negative || text.charCodeAt(0) === 0x2b ? text.slice(1) : text)
  if (magnitude > UINT64_MAX) return undefined
  return negative && magnitude !== 0n ? UINT64_MAX + 1n - magnitude : magnitude
}

/**
 * SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]. The cursor is checked first; options are
 * read left to right (a repeated option wins last) and COUNT must be an integer ≥ 1.
 */
const parseScan = (args: ReadonlyArray<Bytes>): ScanCommand | ParseError => {
  const cursor = parseScanCursor(args[0]!)
  if (cursor === undefined) return KeyErrors.invalidCursor
  let pattern: Bytes | undefined
  let count = 10
  let typeName: string | undefined
  for (let i = 1; i < args.length; i += 2) {
    const opt = upper(args[i]!)
    const value = args[i + 1]
    if (value === undefined) return Errors.syntax as ParseError
    if (opt === 'COUNT') {
      const n = parseInt64(value)
      if (n === undefined) return Errors.notInteger as ParseError
      if (n < 1n) return Errors.syntax as ParseError
      count = Number(n)
    } else if (opt === 'MATCH') {
      pattern = value === '*' ? undefined : value // a lone `*` disables the filter, as in Redis
    } else if (opt === 'TYPE') {
      typeName = value
    } else return Errors.syntax as ParseError
  }
  return { type: 'SCAN', cursor: cursor >= BigInt(MAX_CURSOR) ? MAX_CURSOR : Number(cursor), pattern, count, typeName }
}

/**
 * One SCAN step over `Keyspace.scanStep` (which keeps Redis's guarantee: a key present for the
 * whole iteration is returned at least once), filtered as Redis's `scanGenericCommand` does:
 * 1. keys not matching MATCH are dropped without being looked at (they are never expired);
 * 2. with TYPE, the key is looked up (expiring it lazily) and its type — "string", or "none" if it
 *    just expired — compared case-insensitively with the option;
 * 3. a key past its deadline is expired lazily (KeyExpired) and dropped.
 * Redis 7.0 quirk, reproduced: with `TYPE none`, a key expired by step 2 passes the type test and
 * step 3 no longer sees it, so it *is* returned (verified against redis-server 7.0.15).
 */
const decideScan = (cmd: ScanCommand, state: State, ctx: Context): Decision => {
  const view = new LiveView(state, ctx.now)
  const step = Keyspace.scanStep(state, ctx.db, cmd.cursor, cmd.count)
  const wantedType = cmd.typeName === undefined ? undefined : upper(cmd.typeName)
  const out: Reply[] = []
  for (const key of step.keys) {
    if (cmd.pattern !== undefined && !globMatch(cmd.pattern, key)) continue
    const live = view.exists(ctx.db, key)
    if (wantedType !== undefined) {
      if (wantedType !== (live ? 'STRING' : 'NONE')) continue
      out.push(bulk(key)) // live, or the TYPE none quirk
      continue
    }
    if (live) out.push(bulk(key))
  }
  return read(view, array([bulk(String(step.next)), array(out)]))
}

export const SCAN = defineCommand<ScanCommand>({
  ...meta('scan', -2, ['readonly'], [0, 0, 0], '2.8.0', 'Incrementally iterate the keys space', 'O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.', 'cursor [MATCH pattern] [COUNT count] [TYPE type]'),
  parse: parseScan,
  decide: decideScan,
})

/** A tiny deterministic PRNG (mulberry32): the same seed always gives the same sequence. */
export const mulberry32 = (seed: number): (() => number) => {
  let a = seed | 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface RandomKeyCommand {
  readonly type: 'RANDOMKEY'
}

/**
 * RANDOMKEY: a key chosen with `ctx.seed` (never a global random source, so decide stays
 * deterministic). Like Redis's `dbRandomKey`, a pick past its deadline is expired lazily
 * (KeyExpired) and another key is tried; here "another" is the next key in the keyspace's
 * canonical order (`keysInOrder`), wrapping around, so the search ends after at most one pass. Nil when no key is live.
 */
export const RANDOMKEY = defineCommand<RandomKeyCommand>({
  ...meta('randomkey', 1, ['readonly'], [0, 0, 0], '1.0.0', 'Return a random key from the keyspace', 'O(1)', ''),
  parse: () => ({ type: 'RANDOMKEY' }),
  decide: (_cmd, state, ctx) => {
    const size = Keyspace.size(state, ctx.db)
    if (size === 0) return replyOnly(NIL)
    const view = new LiveView(state, ctx.now)
    const keys = Keyspace.keysInOrder(state, ctx.db)
    const start = Math.floor(mulberry32(ctx.seed)() * size)
    // Walk from the pick to the end, then from the beginning up to the pick.
    for (let n = 0; n < size; n++) {
      const key = keys[(start + n) % size]!
      if (view.exists(ctx.db, key)) return read(view, bulk(key))
    }
    return read(view, NIL)
  },
})

// ---------------------------------------------------------------------------------------------
// DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, SELECT
// ---------------------------------------------------------------------------------------------

export interface DbSizeCommand {
  readonly type: 'DBSIZE'
}

/** DBSIZE counts every stored key, like Redis's `dictSize`: expired keys not yet removed included. */
export const DBSIZE = defineCommand<DbSizeCommand>({
  ...meta('dbsize', 1, ['readonly', 'fast'], [0, 0, 0], '1.0.0', 'Return the number of keys in the selected database', 'O(1)', '', 'server'),
  parse: () => ({ type: 'DBSIZE' }),
  decide: (_cmd, state, ctx) => replyOnly(int(Keyspace.size(state, ctx.db))),
})

export interface FlushDbCommand {
  readonly type: 'FLUSHDB'
}
export interface FlushAllCommand {
  readonly type: 'FLUSHALL'
}

/** [ASYNC|SYNC]: accepted and ignored (a flush is one event either way); anything else is a syntax error. */
const parseFlushMode = (args: ReadonlyArray<Bytes>): ParseError | undefined => {
  if (args.length > 1) return Errors.syntax as ParseError
  if (args.length === 1) {
    const mode = upper(args[0]!)
    if (mode !== 'ASYNC' && mode !== 'SYNC') return Errors.syntax as ParseError
  }
  return undefined
}

/** FLUSHDB: one DatabaseFlushed, or nothing when the database is already empty. */
export const FLUSHDB = defineCommand<FlushDbCommand>({
  ...meta('flushdb', -1, ['write'], [0, 0, 0], '1.0.0', 'Remove all keys from the current database', 'O(N) where N is the number of keys in the selected database', '[ASYNC|SYNC]', 'server'),
  parse: (args) => parseFlushMode(args) ?? { type: 'FLUSHDB' },
  decide: (_cmd, state, ctx) =>
    Keyspace.size(state, ctx.db) === 0 ? replyOnly(OK) : { events: [databaseFlushed(ctx.db)], reply: OK },
})

/** FLUSHALL: one AllDatabasesFlushed, or nothing when every database is already empty. */
export const FLUSHALL = defineCommand<FlushAllCommand>({
  ...meta('flushall', -1, ['write'], [0, 0, 0], '1.0.0', 'Remove all keys from all databases', 'O(N) where N is the total number of keys in all databases', '[ASYNC|SYNC]', 'server'),
  parse: (args) => parseFlushMode(args) ?? { type: 'FLUSHALL' },
  decide: (_cmd, state) => {
    for (let db = 0; db < DATABASE_COUNT; db++) {
      if (Keyspace.size(state, db) > 0) return { events: [allDatabasesFlushed], reply: OK }
    }
    return replyOnly(OK)
  },
})

export interface SwapDbCommand {
  readonly type: 'SWAPDB'
  readonly db: number
  readonly other: number
}

export const SWAPDB = defineCommand<SwapDbCommand>({
  ...meta('swapdb', 3, ['write', 'fast'], [0, 0, 0], '4.0.0', 'Swaps two Redis databases', 'O(N) where N is the count of clients watching or blocking on keys from both databases.', 'index1 index2', 'server'),
  // Both indexes are parsed before either is range-checked, as in Redis's swapdbCommand.
  parse: ([first, second]) => {
    const db = parseInt32(first!, KeyErrors.invalidFirstDb)
    if (isError(db)) return db
    const other = parseInt32(second!, KeyErrors.invalidSecondDb)
    if (isError(other)) return other
    if (db < 0 || db >= DATABASE_COUNT || other < 0 || other >= DATABASE_COUNT) {
      return Errors.dbIndexOutOfRange as ParseError
    }
    return { type: 'SWAPDB', db, other }
  },
  decide: (cmd, state) => {
    if (cmd.db === cmd.other) return replyOnly(OK)
    if (Keyspace.size(state, cmd.db) === 0 && Keyspace.size(state, cmd.other) === 0) return replyOnly(OK)
    return { events: [databasesSwapped(cmd.db, cmd.other)], reply: OK }
  },
})

export interface SelectCommand {
  readonly type: 'SELECT'
  readonly db: number
}

/** SELECT index: a session effect only (`Decision.selectDb`); nothing is logged. */
export const SELECT = defineCommand<SelectCommand>({
  ...meta('select', 2, ['loading', 'stale', 'fast'], [0, 0, 0], '1.0.0', 'Change the selected database for the current connection', 'O(1)', 'index', 'connection'),
  parse: ([index]) => {
    const db = parseDbIndex(index!)
    if (isError(db)) return db
    return { type: 'SELECT', db }
  },
  decide: (cmd) => ({ events: NO_EVENTS, reply: OK, selectDb: cmd.db }),
})

/** Every keyspace-family spec, for the command table. */
export const KEY_COMMANDS = [
  DEL, UNLINK, DELETE, EXISTS, TOUCH, TYPE,
  RENAME, RENAMENX, COPY, MOVE,
  KEYS, SCAN, RANDOMKEY,
  DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, SELECT,
] as const

export type KeyCommand =
  | DelCommand | ExistsCommand | TypeCommand | RenameCommand | CopyCommand | MoveCommand
  | KeysCommand | ScanCommand | RandomKeyCommand | DbSizeCommand | FlushDbCommand | FlushAllCommand
  | SwapDbCommand | SelectCommand

/**
 * The string family: GET/SET and friends, counters, ranges and bits (Redis's t_string.c and
 * bitops.c). Each command is one {@link CommandSpec}: parse and decide together.
 *
 * Decisions log outcomes (rule R1): a relative TTL becomes an absolute deadline, INCR-family
 * events carry the resulting value, APPEND/SETRANGE/SETBIT log the bytes they changed.
 *
 * @category commands
 */
import { parseFloatStrict, parseInt64, parseInteger, upper } from '../args.js'
import { addLongDouble, formatHuman, parseLongDouble, type LongDouble } from '../longDouble.js'
import { defineCommand, isParseError as isError, replyOnly, type CommandFlag, type Context, type Decision, type ParseError } from '../command.js'
import { expiryRemoved, expirySet, keysDeleted, rangeOverwritten, valueAppended, valueSet, type Event } from '../event.js'
import * as Keyspace from '../keyspace.js'
import type { State } from '../keyspace.js'
import { decision, LiveView, read } from '../live.js'
import { INT64_MAX, INT64_MIN, MAX_STRING_BYTES, type Bytes, type EpochMs, type Key } from '../primitives.js'
import { array, bulk, bulkOrNil, error, Errors, int, NIL, OK, ONE, ZERO, type Reply } from '../reply.js'

// ---------------------------------------------------------------------------------------------
// shared pieces
// ---------------------------------------------------------------------------------------------

/** A TTL as requested (relative forms are allowed only here, in intent; events are absolute). */
export type TtlRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'keep' }
  | { readonly kind: 'in'; readonly ms: number }
  | { readonly kind: 'at'; readonly at: EpochMs }
  | { readonly kind: 'persist' }

const NO_TTL: TtlRequest = { kind: 'none' }

const meta = (
  name: string,
  arity: number,
  flags: ReadonlyArray<CommandFlag>,
  keys: readonly [number, number, number],
  since: string,
  summary: string,
  complexity: string,
  syntax: string,
  group: 'string' | 'bitmap' = 'string',
) => ({ name, arity, flags, firstKey: keys[0], lastKey: keys[1], keyStep: keys[2], group, since, summary, complexity, syntax })

/**
 * Parses an EX/PX/EXAT/PXAT amount as Redis's `getExpireMillisecondsOrReply` does: an integer > 0,
 * and a result that fits when converted to ms and made absolute. Overflow is checked at decide
 * time (it depends on `now`), so this returns the raw request.
 */
const parseTtlAmount = (
  unit: 'EX' | 'PX' | 'EXAT' | 'PXAT',
  raw: string,
  commandName: string,
): TtlRequest | ParseError => {
  const n = parseInt64(raw)
  if (n === undefined) return Errors.notInteger as ParseError
  if (n <= 0n) return Errors.invalidExpire(commandName) as ParseError
  const ms = unit === 'EX' || unit === 'EXAT' ? n * 1000n : n
  if (ms > INT64_MAX) return Errors.invalidExpire(commandName) as ParseError
  return unit === 'EX' || unit === 'PX' ? { kind: 'in', ms: Number(ms) } : { kind: 'at', at: Number(ms) }
}

/** Resolves a TTL request to the absolute deadline the key will have, or an error on overflow. */
const resolveDeadline = (
  ttl: TtlRequest,
  current: EpochMs | null | undefined,
  now: EpochMs,
  commandName: string,
): EpochMs | null | ParseError => {
  switch (ttl.kind) {
    case 'none':
    case 'persist':
      return null
    case 'keep':
      return current ?? null
    case 'in': {
      const at = now + ttl.ms
      return at > Number.MAX_SAFE_INTEGER ? (Errors.invalidExpire(commandName) as ParseError) : at
    }
    case 'at':
      // Events hold exact JS integers (see ARCHITECTURE.md, "Deadlines beyond 2^53 ms").
      return ttl.at > Number.MAX_SAFE_INTEGER ? (Errors.invalidExpire(commandName) as ParseError) : ttl.at
  }
}



// ---------------------------------------------------------------------------------------------
// GET, SET and variants
// ---------------------------------------------------------------------------------------------

export interface GetCommand {
  readonly type: 'GET'
  readonly key: Key
}
export const GET = defineCommand<GetCommand>({
  ...meta('get', 2, ['readonly', 'fast'], [1, 1, 1], '1.0.0', 'Get the value of a key', 'O(1)', 'key'),
  parse: ([key]) => ({ type: 'GET', key: key! }),
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    return read(view, bulkOrNil(view.get(ctx.db, cmd.key)))
  },
})

export interface SetCommand {
  readonly type: 'SET'
  readonly key: Key
  readonly value: Bytes
  readonly condition: 'always' | 'NX' | 'XX'
  readonly ttl: TtlRequest
  readonly get: boolean
  /** The wire name, for error texts ('set', 'setex', 'psetex', 'setnx', 'getset'). */
  readonly name: string
  /** SETNX replies 1/0 instead of OK/nil. */
  readonly replyStyle: 'ok' | 'int' | 'old'
}

type ExpireUnit = 'EX' | 'PX' | 'EXAT' | 'PXAT'

/** The options of SET and GETEX, as Redis's `parseExtendedStringArgumentsOrReply` reads them. */
interface ExtendedOptions {
  readonly nx: boolean
  readonly xx: boolean
  readonly get: boolean
  readonly keepTtl: boolean
  readonly persist: boolean
  /** The last EX/PX/EXAT/PXAT given; its amount is validated by the caller, after the syntax. */
  readonly expire: { readonly unit: ExpireUnit; readonly amount: string } | undefined
}

/**
 * Redis's option grammar: an option may repeat (`EX 1 EX 2` keeps the last), but not combine
 * with a conflicting one (`NX XX`, `EX 1 PX 1`, `KEEPTTL EX 1`); `NX`/`XX`/`GET`/`KEEPTTL` only for
 * SET, `PERSIST` only for GETEX. Any other token, or a missing amount, is a syntax error.
 */
const parseExtendedOptions = (args: ReadonlyArray<Bytes>, from: number, forSet: boolean): ExtendedOptions | ParseError => {
  let nx = false
  let xx = false
  let get = false
  let keepTtl = false
  let persist = false
  let expire: ExtendedOptions['expire'] = undefined
  for (let i = from; i < args.length; i++) {
    const opt = upper(args[i]!)
    const next = args[i + 1]
    const otherUnit = (unit: ExpireUnit) => expire !== undefined && expire.unit !== unit
    if (opt === 'NX' && !xx && forSet) nx = true
    else if (opt === 'XX' && !nx && forSet) xx = true
    else if (opt === 'GET' && forSet) get = true
    else if (opt === 'KEEPTTL' && !persist && expire === undefined && forSet) keepTtl = true
    else if (opt === 'PERSIST' && !forSet && expire === undefined && !keepTtl) persist = true
    else if ((opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') && !keepTtl && !persist && !otherUnit(opt) && next !== undefined) {
      expire = { unit: opt, amount: next }
      i++
    } else return Errors.syntax as ParseError
  }
  return { nx, xx, get, keepTtl, persist, expire }
}

/** SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]. */
const parseSet = (args: ReadonlyArray<Bytes>): SetCommand | ParseError => {
  const opts = parseExtendedOptions(args, 2, true)
  if (isError(opts)) return opts
  let ttl: TtlRequest = opts.keepTtl ? { kind: 'keep' } : NO_TTL
  if (opts.expire !== undefined) {
    const parsed = parseTtlAmount(opts.expire.unit, opts.expire.amount, 'set')
    if (isError(parsed)) return parsed
    ttl = parsed
  }
  const condition = opts.nx ? 'NX' : opts.xx ? 'XX' : 'always'
  return { type: 'SET', key: args[0]!, value: args[1]!, condition, ttl, get: opts.get, name: 'set', replyStyle: opts.get ? 'old' : 'ok' }
}

const decideSet = (cmd: SetCommand, state: State, ctx: Context): Decision => {
  // A plain overwrite (no condition, no GET, no KEEPTTL) in a database without deadlines needs
  // nothing from the old entry: no key there can be expired, so the read decides nothing.
  if (cmd.condition === 'always' && cmd.replyStyle === 'ok' && cmd.ttl.kind !== 'keep' && Keyspace.expiresCount(state, ctx.db) === 0) {
    const deadline = resolveDeadline(cmd.ttl, null, ctx.now, cmd.name)
    if (isError(deadline)) return replyOnly(deadline)
    return { events: [valueSet(ctx.db, cmd.key, cmd.value, deadline)], reply: OK }
  }
  const view = new LiveView(state, ctx.now)
  const old = view.get(ctx.db, cmd.key)
  const exists = old !== undefined
  const blocked = (cmd.condition === 'NX' && exists) || (cmd.condition === 'XX' && !exists)
  // The deadline is validated first (a relative TTL that overflows is an error even under NX/XX).
  const deadline = resolveDeadline(cmd.ttl, exists ? view.expireAt(ctx.db, cmd.key) : null, ctx.now, cmd.name)
  if (isError(deadline)) return read(view, deadline)
  const failedReply = cmd.replyStyle === 'int' ? ZERO : cmd.replyStyle === 'old' ? bulkOrNil(old) : NIL
  if (blocked) return read(view, failedReply)
  const reply = cmd.replyStyle === 'int' ? ONE : cmd.replyStyle === 'old' ? bulkOrNil(old) : OK
  return decision(view, [valueSet(ctx.db, cmd.key, cmd.value, deadline)], reply)
}

export const SET = defineCommand<SetCommand>({
  ...meta(
    'set',
    -3,
    ['write', 'denyoom'],
    [1, 1, 1],
    '1.0.0',
    'Sets the string value of a key, ignoring its type. The key is created if it doesn\'t exist.',
    'O(1)',
    'key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]',
  ),
  parse: parseSet,
  decide: decideSet,
})

export const SETNX = defineCommand<SetCommand>({
  ...meta('setnx', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], '1.0.0', 'Set the value of a key, only if the key does not exist', 'O(1)', 'key value'),
  parse: ([key, value]) => ({ type: 'SET', key: key!, value: value!, condition: 'NX', ttl: NO_TTL, get: false, name: 'setnx', replyStyle: 'int' }),
  decide: decideSet,
})

const parseSetEx =
  (name: 'setex' | 'psetex', unit: 'EX' | 'PX') =>
  ([key, amount, value]: ReadonlyArray<Bytes>): SetCommand | ParseError => {
    const ttl = parseTtlAmount(unit, amount!, name)
    if (isError(ttl)) return ttl
    return { type: 'SET', key: key!, value: value!, condition: 'always', ttl, get: false, name, replyStyle: 'ok' }
  }

export const SETEX = defineCommand<SetCommand>({
  ...meta('setex', 4, ['write', 'denyoom'], [1, 1, 1], '2.0.0', 'Set the value and expiration of a key', 'O(1)', 'key seconds value'),
  parse: parseSetEx('setex', 'EX'),
  decide: decideSet,
})

export const PSETEX = defineCommand<SetCommand>({
  ...meta('psetex', 4, ['write', 'denyoom'], [1, 1, 1], '2.6.0', 'Set the value and expiration in milliseconds of a key', 'O(1)', 'key milliseconds value'),
  parse: parseSetEx('psetex', 'PX'),
  decide: decideSet,
})

export const GETSET = defineCommand<SetCommand>({
  ...meta('getset', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], '1.0.0', 'Set the string value of a key and return its old value', 'O(1)', 'key value'),
  parse: ([key, value]) => ({ type: 'SET', key: key!, value: value!, condition: 'always', ttl: NO_TTL, get: true, name: 'getset', replyStyle: 'old' }),
  decide: decideSet,
})

/**
 * UPDATE key value — the original dialect: replaces the value of an existing key, keeping its TTL.
 * Replies +OK, or nil when the key is missing (then nothing happens).
 */
export const UPDATE = defineCommand<SetCommand>({
  ...meta('update', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], '0.1.0', 'Replaces the value of an existing key, keeping its TTL (Redust dialect).', 'O(1)', 'key value'),
  parse: ([key, value]) => ({ type: 'SET', key: key!, value: value!, condition: 'XX', ttl: { kind: 'keep' }, get: false, name: 'update', replyStyle: 'ok' }),
  decide: decideSet,
})

export interface GetDelCommand {
  readonly type: 'GETDEL'
  readonly key: Key
}
export const GETDEL = defineCommand<GetDelCommand>({
  ...meta('getdel', 2, ['write', 'fast'], [1, 1, 1], '6.2.0', 'Get the value of a key and delete the key', 'O(1)', 'key'),
  parse: ([key]) => ({ type: 'GETDEL', key: key! }),
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const old = view.get(ctx.db, cmd.key)
    if (old === undefined) return read(view, NIL)
    return decision(view, [keysDeleted(ctx.db, [cmd.key])], bulk(old))
  },
})

export interface GetExCommand {
  readonly type: 'GETEX'
  readonly key: Key
  /** The option as given: Redis validates its amount only after finding the key. */
  readonly option: 'keep' | 'PERSIST' | { readonly unit: 'EX' | 'PX' | 'EXAT' | 'PXAT'; readonly amount: string }
}
export const GETEX = defineCommand<GetExCommand>({
  ...meta('getex', -2, ['write', 'fast'], [1, 1, 1], '6.2.0', 'Get the value of a key and optionally set its expiration', 'O(1)', 'key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]'),
  parse: (args) => {
    const opts = parseExtendedOptions(args, 1, false)
    if (isError(opts)) return opts
    return { type: 'GETEX', key: args[0]!, option: opts.persist ? 'PERSIST' : (opts.expire ?? 'keep') }
  },
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const value = view.get(ctx.db, cmd.key)
    if (value === undefined) return read(view, NIL)
    const current = view.expireAt(ctx.db, cmd.key) ?? null
    if (cmd.option === 'keep') return read(view, bulk(value))
    if (cmd.option === 'PERSIST') {
      if (current === null) return read(view, bulk(value))
      return decision(view, [expiryRemoved(ctx.db, cmd.key)], bulk(value))
    }
    const ttl = parseTtlAmount(cmd.option.unit, cmd.option.amount, 'getex')
    if (isError(ttl)) return read(view, ttl)
    const deadline = resolveDeadline(ttl, current, ctx.now, 'getex')
    if (isError(deadline) || deadline === null) return read(view, isError(deadline) ? deadline : bulk(value))
    // A deadline already in the past deletes the key, as Redis's GETEX does (propagated as DEL).
    if (deadline <= ctx.now) return decision(view, [keysDeleted(ctx.db, [cmd.key])], bulk(value))
    // The same deadline again: nothing to log, but Redis signals the key as modified (WATCH).
    if (deadline === current) return { events: view.events, reply: bulk(value), touched: [[ctx.db, cmd.key]] }
    return decision(view, [expirySet(ctx.db, cmd.key, deadline)], bulk(value))
  },
})

// ---------------------------------------------------------------------------------------------
// MGET, MSET, MSETNX
// ---------------------------------------------------------------------------------------------

export interface MGetCommand {
  readonly type: 'MGET'
  readonly keys: ReadonlyArray<Key>
}
export const MGET = defineCommand<MGetCommand>({
  ...meta('mget', -2, ['readonly', 'fast'], [1, -1, 1], '1.0.0', 'Get the values of all the given keys', 'O(N) where N is the number of keys to retrieve.', 'key [key ...]'),
  parse: (args) => ({ type: 'MGET', keys: args }),
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    return read(view, array(cmd.keys.map((k) => bulkOrNil(view.get(ctx.db, k)))))
  },
})

export interface MSetCommand {
  readonly type: 'MSET'
  readonly pairs: ReadonlyArray<Bytes>
  readonly onlyIfNoneExist: boolean
}
const parseMSet = (name: string, onlyIfNoneExist: boolean) => (args: ReadonlyArray<Bytes>): MSetCommand | ParseError =>
  args.length % 2 !== 0 ? (Errors.wrongArity(name) as ParseError) : { type: 'MSET', pairs: args, onlyIfNoneExist }

const decideMSet = (cmd: MSetCommand, state: State, ctx: Context): Decision => {
  const view = new LiveView(state, ctx.now)
  if (cmd.onlyIfNoneExist) {
    for (let i = 0; i < cmd.pairs.length; i += 2) if (view.exists(ctx.db, cmd.pairs[i]!)) return read(view, ZERO)
  }
  const events: Event[] = []
  for (let i = 0; i < cmd.pairs.length; i += 2) events.push(valueSet(ctx.db, cmd.pairs[i]!, cmd.pairs[i + 1]!, null))
  return decision(view, events, cmd.onlyIfNoneExist ? ONE : OK)
}

export const MSET = defineCommand<MSetCommand>({
  ...meta('mset', -3, ['write', 'denyoom'], [1, -1, 2], '1.0.1', 'Set multiple keys to multiple values', 'O(N) where N is the number of keys to set.', 'key value [key value ...]'),
  parse: parseMSet('mset', false),
  decide: decideMSet,
})
export const MSETNX = defineCommand<MSetCommand>({
  ...meta('msetnx', -3, ['write', 'denyoom'], [1, -1, 2], '1.0.1', 'Set multiple keys to multiple values, only if none of the keys exist', 'O(N) where N is the number of keys to set.', 'key value [key value ...]'),
  parse: parseMSet('msetnx', true),
  decide: decideMSet,
})

// ---------------------------------------------------------------------------------------------
// APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE
// ---------------------------------------------------------------------------------------------

export interface AppendCommand {
  readonly type: 'APPEND'
  readonly key: Key
  readonly suffix: Bytes
}
export const APPEND = defineCommand<AppendCommand>({
  ...meta('append', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], '2.0.0', 'Append a value to a key', 'O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.', 'key value'),
  parse: ([key, suffix]) => ({ type: 'APPEND', key: key!, suffix: suffix! }),
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const old = view.get(ctx.db, cmd.key)
    const length = (old?.length ?? 0) + cmd.suffix.length
    if (length > MAX_STRING_BYTES) return read(view, Errors.stringTooLong)
    if (old === undefined) return decision(view, [valueSet(ctx.db, cmd.key, cmd.suffix, null)], int(length))
    // Appending nothing changes nothing, but Redis still signals the key as modified (WATCH).
    if (cmd.suffix.length === 0) return { events: view.events, reply: int(length), touched: [[ctx.db, cmd.key]] }
    return decision(view, [valueAppended(ctx.db, cmd.key, cmd.suffix)], int(length))
  },
})

export interface StrlenCommand {
  readonly type: 'STRLEN'
  readonly key: Key
}
export const STRLEN = defineCommand<StrlenCommand>({
  ...meta('strlen', 2, ['readonly', 'fast'], [1, 1, 1], '2.2.0', 'Get the length of the value stored in a key', 'O(1)', 'key'),
  parse: ([key]) => ({ type: 'STRLEN', key: key! }),
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    return read(view, int(view.get(ctx.db, cmd.key)?.length ?? 0))
  },
})

export interface GetRangeCommand {
  readonly type: 'GETRANGE'
  readonly key: Key
  readonly start: number
  readonly end: number
}
const parseGetRange = ([key, start, end]: ReadonlyArray<Bytes>): GetRangeCommand | ParseError => {
  const s = parseInteger(start!)
  const e = parseInteger(end!)
  if (s === undefined || e === undefined) return Errors.notInteger as ParseError
  return { type: 'GETRANGE', key: key!, start: s, end: e }
}
const decideGetRange = (cmd: GetRangeCommand, state: State, ctx: Context): Decision => {
  const view = new LiveView(state, ctx.now)
  const value = view.get(ctx.db, cmd.key) ?? ''
  return read(view, bulk(substring(value, cmd.start, cmd.end)))
}
/** Redis's getrangeCommand index rules (negative from the end, clamped, empty when reversed). */
const substring = (value: string, start: number, end: number): string => {
  const len = value.length
  if (start < 0 && end < 0 && start > end) return ''
  let s = start < 0 ? len + start : start
  let e = end < 0 ? len + end : end
  if (s < 0) s = 0
  if (e < 0) e = 0
  if (e >= len) e = len - 1
  if (s > e || len === 0) return ''
  return value.slice(s, e + 1)
}
export const GETRANGE = defineCommand<GetRangeCommand>({
  ...meta('getrange', 4, ['readonly'], [1, 1, 1], '2.4.0', 'Get a substring of the string stored at a key', 'O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.', 'key start end'),
  parse: parseGetRange,
  decide: decideGetRange,
})
export const SUBSTR = defineCommand<GetRangeCommand>({
  ...meta('substr', 4, ['readonly'], [1, 1, 1], '1.0.0', 'Get a substring of the string stored at a key', 'O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.', 'key start end'),
  parse: parseGetRange,
  decide: decideGetRange,
})

export interface SetRangeCommand {
  readonly type: 'SETRANGE'
  readonly key: Key
  readonly offset: number
  readonly bytes: Bytes
}
export const SETRANGE = defineCommand<SetRangeCommand>({
  ...meta('setrange', 4, ['write', 'denyoom'], [1, 1, 1], '2.2.0', 'Overwrite part of a string at key starting at the specified offset', 'O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.', 'key offset value'),
  parse: ([key, offset, bytes]) => {
    const n = parseInteger(offset!)
    if (n === undefined) return Errors.notInteger as ParseError
    if (n < 0) return Errors.offsetOutOfRange as ParseError
    return { type: 'SETRANGE', key: key!, offset: n, bytes: bytes! }
  },
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const old = view.get(ctx.db, cmd.key)
    const oldLength = old?.length ?? 0
    if (cmd.bytes.length === 0) return read(view, int(oldLength))
    if (cmd.offset + cmd.bytes.length > MAX_STRING_BYTES) return read(view, Errors.stringTooLong)
    const length = Math.max(oldLength, cmd.offset + cmd.bytes.length)
    return decision(view, [rangeOverwritten(ctx.db, cmd.key, cmd.offset, cmd.bytes)], int(length))
  },
})

// ---------------------------------------------------------------------------------------------
// INCR family
// ---------------------------------------------------------------------------------------------

export interface IncrByCommand {
  readonly type: 'INCRBY'
  readonly key: Key
  readonly by: bigint
}

/** INCR/DECR/INCRBY/DECRBY: 64-bit signed arithmetic with Redis's overflow check. */
const decideIncrBy = (cmd: IncrByCommand, state: State, ctx: Context): Decision => {
  const view = new LiveView(state, ctx.now)
  const old = view.get(ctx.db, cmd.key)
  // The common case, exactly in doubles and without BigInt allocations: a stored value of at
  // most 15 chars (|v| < 10^15) plus an increment within ±2^53 stays far inside int64, and a
  // safe-integer sum prints as BigInt would.
  const by = Number(cmd.by)
  if ((old === undefined || old.length <= 15) && Number.isSafeInteger(by)) {
    const current = old === undefined ? 0 : parseInteger(old)
    if (current === undefined) return read(view, Errors.notInteger)
    const sum = current + by
    if (Number.isSafeInteger(sum)) return incremented(view, ctx, cmd.key, old, String(sum), sum)
  }
  let current = 0n
  if (old !== undefined) {
    const parsed = parseInt64(old)
    if (parsed === undefined) return read(view, Errors.notInteger)
    current = parsed
  }
  const result = current + cmd.by
  if (result > INT64_MAX || result < INT64_MIN) return read(view, Errors.overflow)
  const small = Number(result)
  return incremented(view, ctx, cmd.key, old, result.toString(), Number.isSafeInteger(small) ? small : result)
}

/** The new value of an INCR-family key (keeping its deadline) and the integer reply. */
const incremented = (view: LiveView, ctx: Context, key: Key, old: Bytes | undefined, text: string, value: number | bigint): Decision => {
  const expireAt = old === undefined ? null : (view.expireAt(ctx.db, key) ?? null)
  return decision(view, [valueSet(ctx.db, key, text, expireAt)], int(value))
}

const incrSpec = (name: string, fixed: bigint | undefined, negate: boolean, summary: string) =>
  defineCommand<IncrByCommand>({
    ...meta(name, fixed === undefined ? 3 : 2, ['write', 'denyoom', 'fast'], [1, 1, 1], name.endsWith('by') ? '1.0.0' : '1.0.0', summary, 'O(1)', fixed === undefined ? (negate ? 'key decrement' : 'key increment') : 'key'),
    parse: ([key, amount]) => {
      if (fixed !== undefined) return { type: 'INCRBY', key: key!, by: fixed }
      const by = parseInt64(amount!)
      if (by === undefined) return Errors.notInteger as ParseError
      // Redis rejects DECRBY LLONG_MIN: its negation does not fit.
      if (negate && by === INT64_MIN) return error('ERR decrement would overflow') as ParseError
      return { type: 'INCRBY', key: key!, by: negate ? -by : by }
    },
    decide: decideIncrBy,
  })

export const INCR = incrSpec('incr', 1n, false, 'Increment the integer value of a key by one')
export const DECR = incrSpec('decr', -1n, false, 'Decrement the integer value of a key by one')
export const INCRBY = incrSpec('incrby', undefined, false, 'Increment the integer value of a key by the given amount')
export const DECRBY = incrSpec('decrby', undefined, true, 'Decrement the integer value of a key by the given number')

export interface IncrByFloatCommand {
  readonly type: 'INCRBYFLOAT'
  readonly key: Key
  /** The increment as a long double, or 'infinite' for inf/-inf (valid syntax, always an error). */
  readonly by: LongDouble | 'infinite'
}

/** Redis's `string2ld`: a long double, 'infinite' for inf, or undefined when not a valid float. */
const parseLongDoubleArg = (text: string): LongDouble | 'infinite' | undefined => {
  if (parseFloatStrict(text) === undefined) return undefined
  if (/inf/i.test(text)) return 'infinite'
  const value = parseLongDouble(text)
  return typeof value === 'object' ? value : undefined
}

export const INCRBYFLOAT = defineCommand<IncrByFloatCommand>({
  ...meta('incrbyfloat', 3, ['write', 'denyoom', 'fast'], [1, 1, 1], '2.6.0', 'Increment the float value of a key by the given amount', 'O(1)', 'key increment'),
  parse: ([key, amount]) => {
    const by = parseLongDoubleArg(amount!)
    if (by === undefined) return Errors.notFloat as ParseError
    return { type: 'INCRBYFLOAT', key: key!, by }
  },
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const old = view.get(ctx.db, cmd.key)
    let current: LongDouble | 'infinite' = { mantissa: 0n, exponent: 0 }
    if (old !== undefined) {
      const parsed = parseLongDoubleArg(old)
      if (parsed === undefined) return read(view, Errors.notFloat)
      current = parsed
    }
    const result = current === 'infinite' || cmd.by === 'infinite' ? undefined : addLongDouble(current, cmd.by)
    if (result === undefined) return read(view, Errors.nanOrInfinity)
    const text = formatHuman(result)
    const expireAt = old === undefined ? null : (view.expireAt(ctx.db, cmd.key) ?? null)
    return decision(view, [valueSet(ctx.db, cmd.key, text, expireAt)], bulk(text))
  },
})

// ---------------------------------------------------------------------------------------------
// bits: SETBIT, GETBIT, BITCOUNT, BITPOS
// ---------------------------------------------------------------------------------------------

/** Largest bit offset Redis accepts: 2^32 - 1 (512 MiB strings). */
const MAX_BIT_OFFSET = 4 * 1024 * 1024 * 1024 - 1

const parseBitOffset = (raw: string): number | undefined => {
  const n = parseInt64(raw)
  if (n === undefined || n < 0n || n > BigInt(MAX_BIT_OFFSET)) return undefined
  return Number(n)
}

export interface SetBitCommand {
  readonly type: 'SETBIT'
  readonly key: Key
  readonly offset: number
  readonly bit: 0 | 1
}
export const SETBIT = defineCommand<SetBitCommand>({
  ...meta('setbit', 4, ['write', 'denyoom'], [1, 1, 1], '2.2.0', 'Sets or clears the bit at offset in the string value stored at key', 'O(1)', 'key offset value', 'bitmap'),
  parse: ([key, offset, bit]) => {
    const n = parseBitOffset(offset!)
    if (n === undefined) return Errors.bitOffset as ParseError
    if (bit !== '0' && bit !== '1') return Errors.bitValue as ParseError
    return { type: 'SETBIT', key: key!, offset: n, bit: bit === '1' ? 1 : 0 }
  },
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const old = view.get(ctx.db, cmd.key) ?? ''
    const byteIndex = cmd.offset >>> 3
    const mask = 0x80 >>> (cmd.offset & 7)
    const oldByte = byteIndex < old.length ? old.charCodeAt(byteIndex) : 0
    const previous = (oldByte & mask) !== 0 ? 1 : 0
    const newByte = cmd.bit === 1 ? oldByte | mask : oldByte & ~mask
    // Nothing changes when the bit already has the value and the string is long enough.
    if (newByte === oldByte && byteIndex < old.length) return read(view, int(previous))
    return decision(view, [rangeOverwritten(ctx.db, cmd.key, byteIndex, String.fromCharCode(newByte))], int(previous))
  },
})

export interface GetBitCommand {
  readonly type: 'GETBIT'
  readonly key: Key
  readonly offset: number
}
export const GETBIT = defineCommand<GetBitCommand>({
  ...meta('getbit', 3, ['readonly', 'fast'], [1, 1, 1], '2.2.0', 'Returns the bit value at offset in the string value stored at key', 'O(1)', 'key offset', 'bitmap'),
  parse: ([key, offset]) => {
    const n = parseBitOffset(offset!)
    if (n === undefined) return Errors.bitOffset as ParseError
    return { type: 'GETBIT', key: key!, offset: n }
  },
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const value = view.get(ctx.db, cmd.key) ?? ''
    const byteIndex = cmd.offset >>> 3
    const byte = byteIndex < value.length ? value.charCodeAt(byteIndex) : 0
    return read(view, int((byte & (0x80 >>> (cmd.offset & 7))) !== 0 ? 1 : 0))
  },
})

/** A BITCOUNT/BITPOS range: [start, end] in bytes or bits, negative from the end. */
interface BitRange {
  readonly start: number
  readonly end: number | undefined
  readonly unit: 'BYTE' | 'BIT'
}

const unitOf = (arg: string | undefined): 'BYTE' | 'BIT' | undefined => {
  if (arg === undefined) return 'BYTE'
  const u = upper(arg)
  return u === 'BYTE' || u === 'BIT' ? u : undefined
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let c = 0
  for (let b = i; b !== 0; b >>= 1) c += b & 1
  return c
})

/** Normalizes a Redis range against a length, returning [start, end] inclusive or undefined if empty. */
const normalizeRange = (start: number, end: number, length: number): readonly [number, number] | undefined => {
  let s = start < 0 ? length + start : start
  let e = end < 0 ? length + end : end
  if (s < 0) s = 0
  if (e < 0) e = 0
  if (e >= length) e = length - 1
  if (s > e || length === 0) return undefined
  return [s, e]
}

const bitAt = (value: string, bit: number): number => ((value.charCodeAt(bit >>> 3) & (0x80 >>> (bit & 7))) !== 0 ? 1 : 0)

export interface BitCountCommand {
  readonly type: 'BITCOUNT'
  readonly key: Key
  /** Parsed only once the key is found: Redis answers 0 for a missing key whatever the range. */
  readonly rangeArgs: ReadonlyArray<Bytes>
}
export const BITCOUNT = defineCommand<BitCountCommand>({
  ...meta('bitcount', -2, ['readonly'], [1, 1, 1], '2.6.0', 'Count set bits in a string', 'O(N)', 'key [start end [BYTE|BIT]]', 'bitmap'),
  parse: (args) => ({ type: 'BITCOUNT', key: args[0]!, rangeArgs: args.slice(1) }),
  /** Redis's order: key lookup, start, end, "both negative and reversed → 0", then the unit. */
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const value = view.get(ctx.db, cmd.key)
    if (value === undefined) return read(view, ZERO)
    const args = cmd.rangeArgs
    let range: BitRange = { start: 0, end: -1, unit: 'BYTE' }
    if (args.length === 2 || args.length === 3) {
      const start = parseInteger(args[0]!)
      const end = start === undefined ? undefined : parseInteger(args[1]!)
      if (start === undefined || end === undefined) return read(view, Errors.notInteger)
      if (start < 0 && end < 0 && start > end) return read(view, ZERO)
      const unit = unitOf(args[2])
      if (unit === undefined) return read(view, Errors.syntax)
      range = { start, end, unit }
    } else if (args.length !== 0) return read(view, Errors.syntax)
    const bits = range.unit === 'BIT'
    const span = normalizeRange(range.start, range.end ?? -1, bits ? value.length * 8 : value.length)
    if (span === undefined) return read(view, ZERO)
    let count = 0
    if (bits) {
      for (let b = span[0]; b <= span[1]; b++) count += bitAt(value, b)
    } else {
      for (let i = span[0]; i <= span[1]; i++) count += POPCOUNT[value.charCodeAt(i)]!
    }
    return read(view, int(count))
  },
})

export interface BitPosCommand {
  readonly type: 'BITPOS'
  readonly key: Key
  readonly bit: 0 | 1
  /** Parsed only once the key is found, as Redis does. */
  readonly rangeArgs: ReadonlyArray<Bytes>
}
export const BITPOS = defineCommand<BitPosCommand>({
  ...meta('bitpos', -3, ['readonly'], [1, 1, 1], '2.8.7', 'Find first bit set or clear in a string', 'O(N)', 'key bit [start [end [BYTE|BIT]]]', 'bitmap'),
  parse: (args) => {
    const bitArg = args[1]!
    if (parseInteger(bitArg) === undefined) return Errors.notInteger as ParseError
    if (bitArg !== '0' && bitArg !== '1') return error('ERR The bit argument must be 1 or 0.') as ParseError
    return { type: 'BITPOS', key: args[0]!, bit: bitArg === '1' ? 1 : 0, rangeArgs: args.slice(2) }
  },
  /** Redis's order: bit, key lookup, start, the unit (before end!), end. */
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const value = view.get(ctx.db, cmd.key)
    // Redis: a missing key is an empty string — looking for 1 gives -1, looking for 0 gives 0.
    if (value === undefined) return read(view, int(cmd.bit === 1 ? -1 : 0))
    const args = cmd.rangeArgs
    if (args.length > 3) return read(view, Errors.syntax)
    let range: BitRange | undefined
    if (args.length > 0) {
      const start = parseInteger(args[0]!)
      if (start === undefined) return read(view, Errors.notInteger)
      const unit = unitOf(args[2])
      if (unit === undefined) return read(view, Errors.syntax)
      let end: number | undefined
      if (args.length >= 2) {
        end = parseInteger(args[1]!)
        if (end === undefined) return read(view, Errors.notInteger)
      }
      range = { start, end, unit }
    }
    const bits = range?.unit === 'BIT'
    const length = bits ? value.length * 8 : value.length
    const span = normalizeRange(range?.start ?? 0, range?.end ?? -1, length)
    if (span === undefined) return read(view, int(-1))
    const firstBit = bits ? span[0] : span[0] * 8
    const lastBit = bits ? span[1] : span[1] * 8 + 7
    for (let b = firstBit; b <= lastBit; b++) if (bitAt(value, b) === cmd.bit) return read(view, int(b))
    // Looking for 0 with no explicit end: the string is treated as padded with zeros on the right.
    if (cmd.bit === 0 && range?.end === undefined) return read(view, int(lastBit + 1))
    return read(view, int(-1))
  },
})

/** Every string-family spec, for the command table. */
export const STRING_COMMANDS = [
  GET, SET, SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, UPDATE,
  MGET, MSET, MSETNX,
  APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE,
  INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT,
  SETBIT, GETBIT, BITCOUNT, BITPOS,
] as const

export type StringCommand =
  | GetCommand | SetCommand | GetDelCommand | GetExCommand | MGetCommand | MSetCommand
  | AppendCommand | StrlenCommand | GetRangeCommand | SetRangeCommand
  | IncrByCommand | IncrByFloatCommand | SetBitCommand | GetBitCommand | BitCountCommand | BitPosCommand

/**
 * The expiry family: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX|XX|GT|LT, TTL/PTTL/EXPIRETIME/
 * PEXPIRETIME, PERSIST (Redis's expire.c), and {@link decideExpireDue}, the decision behind the
 * engine's active expiry. Each command is one {@link CommandSpec}: parse and decide together.
 *
 * Decisions log outcomes (rule R1): a relative TTL becomes the absolute deadline `ExpirySet.at`,
 * and a deadline that is already due deletes the key (`KeysDeleted`, as Redis propagates a DEL).
 * Every removal of a key *found* past its deadline is a `KeyExpired` (rule R4).
 *
 * @category commands
 */
import { parseInt64, upper } from '../args.js'
import { defineCommand, replyOnly, type CommandFlag, type Context, type Decision, type ParseError } from '../command.js'
import { expiryRemoved, expirySet, keyExpired, keysDeleted, type Event } from '../event.js'
import * as Keyspace from '../keyspace.js'
import type { State } from '../keyspace.js'
import { isPastDeadline, decision, LiveView, read } from '../live.js'
import { INT64_MAX, INT64_MIN, type EpochMs, type Key } from '../primitives.js'
import { error, Errors, int, ONE, ZERO, type Reply } from '../reply.js'

// ---------------------------------------------------------------------------------------------
// shared pieces
// ---------------------------------------------------------------------------------------------

/** Error texts of this family that reply.ts does not carry (Redis 7.0, byte-identical). */
export const ExpiryErrors = {
  /** `message` keeps the option exactly as the client sent it. */
  unsupportedOption: (option: string): ParseError => error(`ERR Unsupported option ${option}`) as ParseError,
  nxWithOthers: error('ERR NX and XX, GT or LT options at the same time are not compatible') as ParseError,
  gtAndLt: error('ERR GT and LT options at the same time are not compatible') as ParseError,
} as const

const meta = (
  name: string,
  arity: number,
  flags: ReadonlyArray<CommandFlag>,
  since: string,
  summary: string,
  syntax: string,
) => ({
  name,
  arity,
  flags,
  firstKey: 1,
  lastKey: 1,
  keyStep: 1,
  group: 'generic' as const,
  since,
  summary,
  complexity: 'O(1)',
  syntax,
})


// ---------------------------------------------------------------------------------------------
// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT
// ---------------------------------------------------------------------------------------------

export interface ExpireCommand {
  readonly type: 'EXPIRE'
  readonly key: Key
  /** The deadline in ms: relative to `ctx.now` when `relative`, else absolute (Unix ms). */
  readonly ms: bigint
  readonly relative: boolean
  readonly nx: boolean
  readonly xx: boolean
  readonly gt: boolean
  readonly lt: boolean
  /** The wire name, for error texts ('expire', 'pexpire', 'expireat', 'pexpireat'). */
  readonly name: string
}

const SECONDS_LIMIT = INT64_MAX / 1000n // C's LLONG_MAX / 1000 (truncated)
const SECONDS_FLOOR = INT64_MIN / 1000n // C's LLONG_MIN / 1000 (truncated toward zero)

/**
 * Parses `key amount [NX|XX|GT|LT ...]` in Redis's order (`expireGenericCommand`): the options
 * first (an unknown one, then incompatible pairs), then the amount as an int64, then the
 * seconds → ms overflow. The overflow of `now + ms` depends on the clock, so decide checks it.
 */
const parseExpire =
  (name: string, unit: 'seconds' | 'milliseconds', relative: boolean) =>
  (args: ReadonlyArray<string>): ExpireCommand | ParseError => {
    let nx = false
    let xx = false
    let gt = false
    let lt = false
    for (let i = 2; i < args.length; i++) {
      const opt = upper(args[i]!)
      if (opt === 'NX') nx = true
      else if (opt === 'XX') xx = true
      else if (opt === 'GT') gt = true
      else if (opt === 'LT') lt = true
      else return ExpiryErrors.unsupportedOption(args[i]!)
    }
    if (nx && (xx || gt || lt)) return ExpiryErrors.nxWithOthers
    if (gt && lt) return ExpiryErrors.gtAndLt
    const amount = parseInt64(args[1]!)
    if (amount === undefined) return Errors.notInteger as ParseError
    let ms = amount
    if (unit === 'seconds') {
      if (amount > SECONDS_LIMIT || amount < SECONDS_FLOOR) return Errors.invalidExpire(name) as ParseError
      ms = amount * 1000n
    }
    return { type: 'EXPIRE', key: args[0]!, ms, relative, nx, xx, gt, lt, name }
  }

/**
 * Sets a deadline, following Redis's `expireGenericCommand` step by step:
 * 1. `now + ms` must fit in int64, else "invalid expire time" (even for a missing key);
 * 2. a missing key replies 0 (an expired one is logged as KeyExpired first);
 * 3. NX: only without a TTL; XX: only with one; GT: only later than the current deadline, a key
 *    without TTL counting as infinite (so GT never applies to it); LT: only earlier, a key without
 *    TTL always qualifying. A refused condition replies 0 and logs nothing;
 * 4. a deadline at or before `now` deletes the key: KeysDeleted, reply 1;
 * 5. otherwise ExpirySet with the absolute deadline, reply 1 — and nothing logged when the key
 *    already had exactly that deadline (a no-op write), though the key counts as touched for
 *    WATCH (`Decision.touched`), as Redis signals it modified.
 *
 * Redust limit: deadlines are stored as exact JS numbers, so a future deadline above
 * 2^53 − 1 ms (the year 287396) answers "invalid expire time" where Redis would accept it up to
 * 2^63 − 1. Redis itself rejects out-of-range deadlines with that text, only at a larger bound.
 */
const decideExpire = (cmd: ExpireCommand, state: State, ctx: Context): Decision => {
  const base = cmd.relative ? BigInt(ctx.now) : 0n
  if (cmd.ms > INT64_MAX - base) return replyOnly(Errors.invalidExpire(cmd.name))
  const when = cmd.ms + base
  const view = new LiveView(state, ctx.now)
  const current = view.expireAt(ctx.db, cmd.key)
  if (current === undefined) return read(view, ZERO)
  if (cmd.nx && current !== null) return read(view, ZERO)
  if (cmd.xx && current === null) return read(view, ZERO)
  if (cmd.gt && (current === null || when <= BigInt(current))) return read(view, ZERO)
  if (cmd.lt && current !== null && when >= BigInt(current)) return read(view, ZERO)
  if (when <= BigInt(ctx.now)) return decision(view, [keysDeleted(ctx.db, [cmd.key])], ONE)
  if (when > BigInt(Number.MAX_SAFE_INTEGER)) return read(view, Errors.invalidExpire(cmd.name))
  const at: EpochMs = Number(when)
  // The same deadline again: nothing to log, but Redis signals the key as modified (WATCH).
  if (at === current) return { events: view.events, reply: ONE, touched: [[ctx.db, cmd.key]] }
  return decision(view, [expirySet(ctx.db, cmd.key, at)], ONE)
}

export const EXPIRE = defineCommand<ExpireCommand>({
  ...meta('expire', -3, ['write', 'fast'], '1.0.0', 'Set a key\'s time to live in seconds', 'key seconds [NX|XX|GT|LT]'),
  parse: parseExpire('expire', 'seconds', true),
  decide: decideExpire,
})

export const PEXPIRE = defineCommand<ExpireCommand>({
  ...meta('pexpire', -3, ['write', 'fast'], '2.6.0', 'Set a key\'s time to live in milliseconds', 'key milliseconds [NX|XX|GT|LT]'),
  parse: parseExpire('pexpire', 'milliseconds', true),
  decide: decideExpire,
})

export const EXPIREAT = defineCommand<ExpireCommand>({
  ...meta('expireat', -3, ['write', 'fast'], '1.2.0', 'Set the expiration for a key as a UNIX timestamp', 'key unix-time-seconds [NX|XX|GT|LT]'),
  parse: parseExpire('expireat', 'seconds', false),
  decide: decideExpire,
})

export const PEXPIREAT = defineCommand<ExpireCommand>({
  ...meta('pexpireat', -3, ['write', 'fast'], '2.6.0', 'Set the expiration for a key as a UNIX timestamp specified in milliseconds', 'key unix-time-milliseconds [NX|XX|GT|LT]'),
  parse: parseExpire('pexpireat', 'milliseconds', false),
  decide: decideExpire,
})

// ---------------------------------------------------------------------------------------------
// TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST
// ---------------------------------------------------------------------------------------------

export interface TtlCommand {
  readonly type: 'TTL'
  readonly key: Key
  readonly unit: 'seconds' | 'milliseconds'
  /** EXPIRETIME/PEXPIRETIME: the deadline itself instead of the time left. */
  readonly absolute: boolean
}

/**
 * Redis's `ttlGenericCommand`: −2 for a missing key, −1 for a key without TTL, else the time left
 * (never below 0) or the deadline; seconds are rounded half up, `(ms + 500) / 1000`.
 */
const decideTtl = (cmd: TtlCommand, state: State, ctx: Context): Decision => {
  const view = new LiveView(state, ctx.now)
  const at = view.expireAt(ctx.db, cmd.key)
  if (at === undefined) return read(view, int(-2))
  if (at === null) return read(view, int(-1))
  const ms = Math.max(0, cmd.absolute ? at : at - ctx.now)
  return read(view, int(cmd.unit === 'milliseconds' ? ms : Math.trunc((ms + 500) / 1000)))
}

const ttlSpec = (name: string, unit: TtlCommand['unit'], absolute: boolean, since: string, summary: string) =>
  defineCommand<TtlCommand>({
    ...meta(name, 2, ['readonly', 'fast'], since, summary, 'key'),
    parse: ([key]) => ({ type: 'TTL', key: key!, unit, absolute }),
    decide: decideTtl,
  })

export const TTL = ttlSpec('ttl', 'seconds', false, '1.0.0', 'Get the time to live for a key in seconds')
export const PTTL = ttlSpec('pttl', 'milliseconds', false, '2.6.0', 'Get the time to live for a key in milliseconds')
export const EXPIRETIME = ttlSpec('expiretime', 'seconds', true, '7.0.0', 'Get the expiration Unix timestamp for a key')
export const PEXPIRETIME = ttlSpec('pexpiretime', 'milliseconds', true, '7.0.0', 'Get the expiration Unix timestamp for a key in milliseconds')

export interface PersistCommand {
  readonly type: 'PERSIST'
  readonly key: Key
}

/** PERSIST: 1 and ExpiryRemoved when a live key had a TTL; 0 and nothing logged otherwise. */
export const PERSIST = defineCommand<PersistCommand>({
  ...meta('persist', 2, ['write', 'fast'], '2.2.0', 'Remove the expiration from a key', 'key'),
  parse: ([key]) => ({ type: 'PERSIST', key: key! }),
  decide: (cmd, state, ctx) => {
    const view = new LiveView(state, ctx.now)
    const at = view.expireAt(ctx.db, cmd.key)
    if (at === undefined || at === null) return read(view, ZERO)
    return decision(view, [expiryRemoved(ctx.db, cmd.key)], ONE)
  },
})

// ---------------------------------------------------------------------------------------------
// active expiry
// ---------------------------------------------------------------------------------------------

/**
 * The decision of one active-expiry unit (Redis's `activeExpireCycle`, rule R4). The engine's
 * expiry index hands over the keys it believes are due; the index may be stale (a key since
 * deleted, renamed, persisted or given a later deadline), so each candidate is re-checked against
 * `state` and `now`, and only keys really past their deadline (`now > deadline`) become KeyExpired
 * events, once each, in candidate order. The reply is the number of keys expired.
 * Pure: the engine supplies `now` and appends the events as one record.
 */
export const decideExpireDue = (
  candidates: ReadonlyArray<readonly [db: number, key: Key]>,
  state: State,
  now: EpochMs,
): Decision => {
  const events: Event[] = []
  let seen: Set<string> | undefined
  for (const [db, key] of candidates) {
    if (!isPastDeadline(Keyspace.getExpireAt(state, db, key), now)) continue
    if (!Keyspace.hasKey(state, db, key)) continue
    const id = `${db}\u0100${key}` // U+0100 never occurs in a byte string
    seen ??= new Set()
    if (seen.has(id)) continue
    seen.add(id)
    events.push(keyExpired(db, key, now))
  }
  return { events, reply: int(events.length) }
}

/** Every expiry-family spec, for the command table. */
export const EXPIRY_COMMANDS = [
  EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT,
  TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST,
] as const

export type ExpiryCommand = ExpireCommand | TtlCommand | PersistCommand

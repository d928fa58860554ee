/**
 * A deliberately naive reference model of Redis 7.0 for the model-based test (P4).
 *
 * It is written to be *obviously* right rather than fast, and shares no code with src/:
 * - one plain JS `Map` per database of `key → { value, expireAt }`, and an explicit clock `now`;
 * - no events, no immutable maps, no decide/evolve split: each command reads and writes the maps
 *   directly, following the order of checks of Redis's C code (t_string.c, bitops.c, db.c,
 *   expire.c, multi.c) so that error precedence matches too;
 * - expiry is **logical**: a key whose deadline is in the past (`now > expireAt`) is simply not
 *   live. The model never deletes such keys on access. Whether a real server still holds an
 *   expired key physically is unobservable except through DBSIZE (and RANDOMKEY's and SCAN's
 *   internal retries), so DBSIZE is expected within [live keys, keys still in the map]; an
 *   active-expiry pass removes every expired key, after which DBSIZE is exact;
 * - WATCH is logical too, as Redis 7.0 makes it: a key watched while missing or already expired
 *   behaves as missing (only a later write to it aborts EXEC); a key live at WATCH aborts EXEC when
 *   any command modifies it (Redis's `signalModifiedKey` points, reproduced per command below) or
 *   when it expires before EXEC; FLUSHDB/FLUSHALL/SWAPDB abort watchers of keys that were live in
 *   the databases they replace.
 *
 * Replies the model cannot predict exactly (KEYS and SCAN order, RANDOMKEY's choice, DBSIZE while
 * expired keys may linger) are expressed as an {@link Expect} that {@link mismatch} checks.
 *
 * INCRBYFLOAT is computed the way Redis does it, in an 80-bit x87 `long double` (64-bit
 * mantissa) emulated exactly with BigInt, and printed like `%.17Lf` with trailing zeros removed.
 *
 * @category test support
 */
import type { Reply } from '../../src/domain/reply.js'

type Bytes = string

// ---------------------------------------------------------------------------------------------
// expectations
// ---------------------------------------------------------------------------------------------

export type Expect =
  /** Exactly this reply (integers compared by value, number or bigint). */
  | { readonly kind: 'exact'; readonly reply: Reply }
  /** An array of these bulk strings, in any order (KEYS). */
  | { readonly kind: 'unordered'; readonly keys: ReadonlyArray<Bytes> }
  /** A SCAN reply: `full` means cursor "0" and exactly `keys` (any order); else any cursor and a subset of `keys`. */
  | { readonly kind: 'scan'; readonly full: boolean; readonly keys: ReadonlyArray<Bytes> }
  /** RANDOMKEY: nil when `keys` is empty, else one of them. */
  | { readonly kind: 'oneOf'; readonly keys: ReadonlyArray<Bytes> }
  /** DBSIZE: an integer within [min, max]. */
  | { readonly kind: 'intRange'; readonly min: number; readonly max: number }
  /** EXEC: an array whose items match these. */
  | { readonly kind: 'array'; readonly items: ReadonlyArray<Expect> }

const exact = (reply: Reply): Expect => ({ kind: 'exact', reply })
const OK = exact({ type: 'simple', value: 'OK' })
const QUEUED = exact({ type: 'simple', value: 'QUEUED' })
const NIL = exact({ type: 'nil' })
const int = (value: number | bigint): Expect => exact({ type: 'int', value })
const bulk = (value: Bytes): Expect => exact({ type: 'bulk', value })
const err = (message: string): Expect => exact({ type: 'error', message })
const simple = (value: string): Expect => exact({ type: 'simple', value })

const SYNTAX = 'ERR syntax error'
const NOT_INT = 'ERR value is not an integer or out of range'
const NOT_FLOAT = 'ERR value is not a valid float'
const INT_RANGE = 'ERR value is out of range, value must between -2147483648 and 2147483647'
const arityError = (name: string) => `ERR wrong number of arguments for '${name.toLowerCase()}' command`
const expireError = (name: string) => `ERR invalid expire time in '${name.toLowerCase()}' command`

/** A reply in RESP2 terms, with integers as decimal text: what a RESP2 client would see. */
export const normalize = (r: Reply): unknown => {
  switch (r.type) {
    case 'int':
      return { int: String(r.value) }
    case 'array':
    case 'set':
      return { array: r.items.map(normalize) }
    case 'map':
      return { array: r.entries.flatMap(([k, v]) => [normalize(k), normalize(v)]) }
    case 'double':
      return { bulk: r.text }
    case 'verbatim':
      return { bulk: r.value }
    case 'bool':
      return { int: r.value ? '1' : '0' }
    case 'bulk':
      return { bulk: r.value }
    case 'simple':
      return { simple: r.value }
    case 'error':
      return { error: r.message }
    case 'nil':
      return 'nil'
    case 'nilArray':
      return 'nilArray'
  }
}

const show = (x: unknown): string => JSON.stringify(x)

const bulkItems = (r: Reply): Bytes[] | undefined => {
  if (r.type !== 'array' && r.type !== 'set') return undefined
  const out: Bytes[] = []
  for (const item of r.items) {
    if (item.type !== 'bulk') return undefined
    out.push(item.value)
  }
  return out
}

const sameSet = (a: ReadonlyArray<Bytes>, b: ReadonlyArray<Bytes>): boolean =>
  a.length === b.length && show([...a].sort()) === show([...b].sort())

/** Why `actual` does not meet `expect`, or undefined when it does. */
export const mismatch = (expect: Expect, actual: Reply): string | undefined => {
  const got = show(normalize(actual))
  switch (expect.kind) {
    case 'exact': {
      const want = show(normalize(expect.reply))
      return want === got ? undefined : `expected ${want}, got ${got}`
    }
    case 'unordered': {
      const items = bulkItems(actual)
      return items !== undefined && sameSet(items, expect.keys) ? undefined : `expected the keys ${show(expect.keys)} in any order, got ${got}`
    }
    case 'scan': {
      const ok = (() => {
        if (actual.type !== 'array' || actual.items.length !== 2) return false
        const [cursor, list] = actual.items
        if (cursor?.type !== 'bulk' || !/^[0-9]+$/.test(cursor.value) || list === undefined) return false
        const items = bulkItems(list)
        if (items === undefined || new Set(items).size !== items.length) return false
        if (expect.full) return cursor.value === '0' && sameSet(items, expect.keys)
        return items.every((k) => expect.keys.includes(k))
      })()
      return ok ? undefined : `expected a SCAN reply with ${expect.full ? 'cursor 0 and exactly' : 'a subset of'} the keys ${show(expect.keys)}, got ${got}`
    }
    case 'oneOf': {
      if (expect.keys.length === 0) return actual.type === 'nil' ? undefined : `expected nil, got ${got}`
      return actual.type === 'bulk' && expect.keys.includes(actual.value) ? undefined : `expected one of ${show(expect.keys)}, got ${got}`
    }
    case 'intRange': {
      const n = actual.type === 'int' ? Number(actual.value) : NaN
      return n >= expect.min && n <= expect.max ? undefined : `expected an integer in [${expect.min}, ${expect.max}], got ${got}`
    }
    case 'array': {
      if (actual.type !== 'array' || actual.items.length !== expect.items.length) return `expected an array of ${expect.items.length} replies, got ${got}`
      for (let i = 0; i < expect.items.length; i++) {
        const why = mismatch(expect.items[i]!, actual.items[i]!)
        if (why !== undefined) return `item ${i + 1}: ${why}`
      }
      return undefined
    }
  }
}

// ---------------------------------------------------------------------------------------------
// number parsing, as Redis's util.c does it
// ---------------------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** `string2ll`: optional '-', no '+', no spaces, no leading zeros, within int64. */
const parseLL = (s: string): bigint | undefined => {
  if (!/^(0|-?[1-9][0-9]*)$/.test(s)) return undefined
  const v = BigInt(s)
  return v < INT64_MIN || v > INT64_MAX ? undefined : v
}

/** `getIntFromObjectOrReply`: an int64 text within C int range. */
const parseIntArg = (s: string, msg?: string): number | string => {
  const v = parseLL(s)
  if (v === undefined) return msg ?? NOT_INT
  if (v < -2147483648n || v > 2147483647n) return msg ?? INT_RANGE
  return Number(v)
}

// ---------------------------------------------------------------------------------------------
// long double (x87 80-bit: 64-bit mantissa), emulated exactly for INCRBYFLOAT
// ---------------------------------------------------------------------------------------------

/** `m × 2^e`, m < 2^64 (normalized: 2^63 ≤ m unless zero). `inf` for overflow. */
interface LongDouble {
  readonly neg: boolean
  readonly m: bigint
  readonly e: number
  readonly inf: boolean
}

const TWO63 = 2n ** 63n
const TWO64 = 2n ** 64n
const bitLength = (n: bigint): number => n.toString(2).length

/** Rounds the non-negative rational num/den to a long double (round half to even). */
const roundLD = (neg: boolean, num: bigint, den: bigint): LongDouble => {
  if (num === 0n) return { neg, m: 0n, e: 0, inf: false }
  let e = bitLength(num) - bitLength(den) - 64
  const ratio = (exp: number): [bigint, bigint] => (exp >= 0 ? [num, den << BigInt(exp)] : [num << BigInt(-exp), den])
  let [n, d] = ratio(e)
  while (n / d >= TWO64) [n, d] = ratio(++e)
  while (n / d < TWO63) [n, d] = ratio(--e)
  let q = n / d
  const r2 = (n % d) * 2n
  if (r2 > d || (r2 === d && (q & 1n) === 1n)) q += 1n
  if (q === TWO64) {
    q = TWO63
    e += 1
  }
  // Largest finite long double is just below 2^16384.
  return { neg, m: q, e, inf: e + 64 > 16384 }
}

/**
 * `string2ld`: strtold over the whole text, rejecting NUL bytes, leading space, trailing garbage,
 * NaN, overflow and underflow to zero. Accepts decimal and hex floats and infinities, as glibc's
 * strtold does.
 */
const parseLD = (raw: string): LongDouble | undefined => {
  if (raw.length === 0 || raw.length >= 5120 || raw.includes('\0')) return undefined
  const s = raw
  if (/^[ \t\n\v\f\r]/.test(s)) return undefined
  let m = /^([+-]?)(inf|infinity)$/i.exec(s)
  if (m !== null) return { neg: m[1] === '-', m: 0n, e: 0, inf: true }
  m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(s)
  if (m !== null) {
    const [, sign, ip = '', fp = '', ex] = m
    if (ip.length + fp.length === 0) return undefined
    const exp = (ex === undefined ? 0 : Number(ex)) - fp.length
    const digits = BigInt(ip + fp || '0')
    if (digits === 0n) return { neg: sign === '-', m: 0n, e: 0, inf: false }
    if (exp > 6000) return undefined // ERANGE (overflow)
    if (exp < -6000) return undefined // ERANGE (underflow to zero)
    const v = exp >= 0 ? roundLD(sign === '-', digits * 10n ** BigInt(exp), 1n) : roundLD(sign === '-', digits, 10n ** BigInt(-exp))
    return v.inf || v.e < -16445 ? undefined : v
  }
  m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?$/.exec(s)
  if (m !== null) {
    const [, sign, ip = '', fp = '', ex] = m
    if (ip.length + fp.length === 0) return undefined
    const digits = BigInt(`0x${ip + fp || '0'}`)
    const exp = (ex === undefined ? 0 : Number(ex)) - 4 * fp.length
    if (digits === 0n) return { neg: sign === '-', m: 0n, e: 0, inf: false }
    const v = exp >= 0 ? roundLD(sign === '-', digits << BigInt(exp), 1n) : roundLD(sign === '-', digits, 1n << BigInt(-exp))
    return v.inf ? undefined : v
  }
  return undefined
}

const addLD = (a: LongDouble, b: LongDouble): LongDouble => {
  if (a.inf || b.inf) return { neg: a.inf ? a.neg : b.neg, m: 0n, e: 0, inf: true }
  const e = Math.min(a.e, b.e)
  const va = (a.neg ? -a.m : a.m) << BigInt(a.e - e)
  const vb = (b.neg ? -b.m : b.m) << BigInt(b.e - e)
  const sum = va + vb
  const neg = sum < 0n || (sum === 0n && a.neg && b.neg)
  const abs = sum < 0n ? -sum : sum
  return e >= 0 ? roundLD(neg, abs << BigInt(e), 1n) : roundLD(neg, abs, 1n << BigInt(-e))
}

/** `%.17Lf`, then trailing zeros and a trailing dot removed, and "-0" made "0" (Redis's LD_STR_HUMAN). */
const formatLD = (v: LongDouble): string => {
  let scaled: bigint
  if (v.e >= 0) scaled = (v.m << BigInt(v.e)) * 10n ** 17n
  else {
    const n = v.m * 10n ** 17n
    const d = 1n << BigInt(-v.e)
    scaled = n / d
    const r2 = (n % d) * 2n
    if (r2 > d || (r2 === d && (scaled & 1n) === 1n)) scaled += 1n
  }
  const digits = scaled.toString().padStart(18, '0')
  let text = `${digits.slice(0, -17)}.${digits.slice(-17)}`.replace(/0+$/, '').replace(/\.$/, '')
  if (v.neg) text = `-${text}`
  return text === '-0' ? '0' : text
}

// ---------------------------------------------------------------------------------------------
// glob (simple forms: literal bytes, \x escapes, ?, *, [set], [^set], no ranges)
// ---------------------------------------------------------------------------------------------

const globToRegExp = (pattern: string): RegExp => {
  let src = ''
  const esc = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') src += '[^]*'
    else if (c === '?') src += '[^]'
    else if (c === '\\' && i + 1 < pattern.length) src += esc(pattern[++i]!)
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1)
      if (close < 0) throw new Error(`model: unsupported glob ${JSON.stringify(pattern)}`)
      let set = pattern.slice(i + 1, close)
      const negate = set.startsWith('^')
      if (negate) set = set.slice(1)
      src += `[${negate ? '^' : ''}${[...set].map(esc).join('')}]`
      i = close
    } else src += esc(c)
  }
  return new RegExp(`^${src}$`)
}

const globMatch = (pattern: string, key: string): boolean => pattern === '*' || globToRegExp(pattern).test(key)

// ---------------------------------------------------------------------------------------------
// the model
// ---------------------------------------------------------------------------------------------

interface Entry {
  value: Bytes
  expireAt: number | null
}

interface Watched {
  readonly db: number
  readonly key: Bytes
  /** Live at WATCH time: its expiry before EXEC aborts the transaction. */
  readonly liveAtWatch: boolean
}

interface Client {
  db: number
  /** The queued argvs while in MULTI. */
  queue: Bytes[][] | undefined
  /** A queue-time error happened: EXEC answers EXECABORT. */
  queueFailed: boolean
  watched: Watched[]
  /** A watched key was modified since WATCH. */
  dirty: boolean
}

/** Arity of every command the model knows (Redis's convention: -N means at least N). */
const ARITY: Readonly<Record<string, number>> = {
  get: 2, set: -3, setnx: 3, setex: 4, psetex: 4, getset: 3, getdel: 2, getex: -2, update: 3,
  mget: -2, mset: -3, msetnx: -3, append: 3, strlen: 2, getrange: 4, substr: 4, setrange: 4,
  incr: 2, decr: 2, incrby: 3, decrby: 3, incrbyfloat: 3, setbit: 4, getbit: 3, bitcount: -2, bitpos: -3,
  del: -2, unlink: -2, delete: -2, exists: -2, touch: -2, type: 2, rename: 3, renamenx: 3, copy: -3, move: 3,
  keys: 2, scan: -2, randomkey: 1, dbsize: 1, flushdb: -1, flushall: -1, swapdb: 3, select: 2,
  expire: -3, pexpire: -3, expireat: -3, pexpireat: -3, ttl: 2, pttl: 2, expiretime: 2, pexpiretime: 2, persist: 2,
  multi: 1, exec: 1, discard: 1, watch: -2, unwatch: 1,
}

const MAX_STRING = 512 * 1024 * 1024
const DBS = 16

export class Model {
  now: number
  readonly dbs: Array<Map<Bytes, Entry>> = Array.from({ length: DBS }, () => new Map())
  private readonly clients = new Map<number, Client>()

  constructor(now: number) {
    this.now = now
  }

  advance(ms: number): void {
    this.now += ms
  }

  /** An active-expiry pass: every key past its deadline is gone. */
  activeExpiry(): void {
    for (const db of this.dbs) for (const [k, e] of [...db]) if (this.expired(e)) db.delete(k)
  }

  /** The live entries of one database (for comparing states), sorted by key. */
  liveEntries(db: number): Array<[Bytes, { value: Bytes; expireAt: number | null }]> {
    const out: Array<[Bytes, { value: Bytes; expireAt: number | null }]> = []
    for (const [k, e] of this.dbs[db]!) if (!this.expired(e)) out.push([k, { value: e.value, expireAt: e.expireAt }])
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  // -------------------------------------------------------------------------------------------
  // keyspace helpers
  // -------------------------------------------------------------------------------------------

  private expired(e: Entry): boolean {
    return e.expireAt !== null && this.now > e.expireAt
  }

  private live(db: number, key: Bytes): Entry | undefined {
    const e = this.dbs[db]!.get(key)
    return e === undefined || this.expired(e) ? undefined : e
  }

  private liveKeys(db: number): Bytes[] {
    return [...this.dbs[db]!].filter(([, e]) => !this.expired(e)).map(([k]) => k)
  }

  /** Redis's setKey: a new value, the TTL removed unless kept. Touches watchers. */
  private setKey(db: number, key: Bytes, value: Bytes, keepTtl = false): void {
    const old = this.live(db, key)
    this.dbs[db]!.set(key, { value, expireAt: keepTtl && old !== undefined ? old.expireAt : null })
    this.touch(db, key)
  }

  private deleteKey(db: number, key: Bytes): void {
    this.dbs[db]!.delete(key)
    this.touch(db, key)
  }

  /** Redis's signalModifiedKey → touchWatchedKey. */
  private touch(db: number, key: Bytes): void {
    for (const c of this.clients.values()) if (c.watched.some((w) => w.db === db && w.key === key)) c.dirty = true
  }

  /** Watchers of keys live in any of `dbs` (FLUSHDB, FLUSHALL); for SWAPDB both directions. */
  private touchLiveIn(watchDbs: ReadonlyArray<number>, contentDbs: ReadonlyArray<number>): void {
    for (const c of this.clients.values()) {
      for (const w of c.watched) {
        if (watchDbs.includes(w.db) && contentDbs.some((d) => this.live(d, w.key) !== undefined)) c.dirty = true
      }
    }
  }

  private client(id: number): Client {
    let c = this.clients.get(id)
    if (c === undefined) this.clients.set(id, (c = { db: 0, queue: undefined, queueFailed: false, watched: [], dirty: false }))
    return c
  }

  private unwatch(c: Client): void {
    c.watched = []
    c.dirty = false
  }

  // -------------------------------------------------------------------------------------------
  // the entry point: one command from one client
  // -------------------------------------------------------------------------------------------

  execute(clientId: number, argv: ReadonlyArray<Bytes>): Expect {
    const c = this.client(clientId)
    const rawName = argv[0] ?? ''
    const name = rawName.toLowerCase()
    const arity = ARITY[name]
    if (arity === undefined) {
      if (c.queue !== undefined) c.queueFailed = true
      let list = ''
      for (const a of argv.slice(1)) {
        if (list.length >= 128) break
        list += `'${a.slice(0, 128 - list.length)}' `
      }
      return err(`ERR unknown command '${rawName.slice(0, 128)}', with args beginning with: ${list}`)
    }
    if (arity >= 0 ? argv.length !== arity : argv.length < -arity) {
      // Redis's rejectCommand: a rejected EXEC discards the transaction (and the watched keys)
      // on the spot, even outside MULTI; any other rejected command dooms an open transaction.
      if (name === 'exec') {
        c.queue = undefined
        c.queueFailed = false
        this.unwatch(c)
        return err(`EXECABORT Transaction discarded because of: ${arityError(name).slice(4)}`)
      }
      if (c.queue !== undefined) c.queueFailed = true
      return err(arityError(name))
    }
    switch (name) {
      case 'multi':
        if (c.queue !== undefined) return err('ERR MULTI calls can not be nested')
        c.queue = []
        c.queueFailed = false
        return OK
      case 'exec':
        return this.exec(c)
      case 'discard':
        if (c.queue === undefined) return err('ERR DISCARD without MULTI')
        c.queue = undefined
        c.queueFailed = false
        this.unwatch(c)
        return OK
      case 'watch':
        if (c.queue !== undefined) return err('ERR WATCH inside MULTI is not allowed')
        for (const key of argv.slice(1)) {
          if (c.watched.some((w) => w.db === c.db && w.key === key)) continue
          c.watched.push({ db: c.db, key, liveAtWatch: this.live(c.db, key) !== undefined })
        }
        return OK
    }
    if (c.queue !== undefined) {
      c.queue.push([...argv])
      return QUEUED
    }
    return this.run(c, name, argv.slice(1))
  }

  private exec(c: Client): Expect {
    if (c.queue === undefined) return err('ERR EXEC without MULTI')
    const queue = c.queue
    const failed = c.queueFailed
    const aborted = c.dirty || c.watched.some((w) => w.liveAtWatch && this.live(w.db, w.key) === undefined)
    c.queue = undefined
    c.queueFailed = false
    this.unwatch(c)
    if (failed) return err('EXECABORT Transaction discarded because of previous errors.')
    if (aborted) return exact({ type: 'nilArray' })
    return { kind: 'array', items: queue.map((argv) => this.run(c, argv[0]!.toLowerCase(), argv.slice(1))) }
  }

  // -------------------------------------------------------------------------------------------
  // the commands
  // -------------------------------------------------------------------------------------------

  private run(c: Client, name: string, a: ReadonlyArray<Bytes>): Expect {
    const db = c.db
    const k = a[0]!
    switch (name) {
      case 'unwatch':
        this.unwatch(c)
        return OK

      // ---- strings ------------------------------------------------------------------------
      case 'get': {
        const e = this.live(db, k)
        return e === undefined ? NIL : bulk(e.value)
      }
      case 'set':
        return this.set(db, 'set', k, a[1]!, a.slice(2))
      case 'setnx': {
        if (this.live(db, k) !== undefined) return int(0)
        this.setKey(db, k, a[1]!)
        return int(1)
      }
      case 'setex':
      case 'psetex': {
        const at = this.relativeDeadline(a[1]!, name === 'setex' ? 1000 : 1, name)
        if (typeof at === 'string') return err(at)
        this.setKey(db, k, a[2]!)
        this.dbs[db]!.get(k)!.expireAt = at
        return OK
      }
      case 'getset': {
        const old = this.live(db, k)
        this.setKey(db, k, a[1]!)
        return old === undefined ? NIL : bulk(old.value)
      }
      case 'getdel': {
        const old = this.live(db, k)
        if (old === undefined) return NIL
        this.deleteKey(db, k)
        return bulk(old.value)
      }
      case 'getex':
        return this.getex(db, k, a.slice(1))
      case 'update': {
        // Redust dialect: SET key value XX KEEPTTL.
        if (this.live(db, k) === undefined) return NIL
        this.setKey(db, k, a[1]!, true)
        return OK
      }
      case 'mget':
        return exact({ type: 'array', items: a.map((key) => { const e = this.live(db, key); return e === undefined ? { type: 'nil' } : { type: 'bulk', value: e.value } }) })
      case 'mset':
      case 'msetnx': {
        if (a.length % 2 !== 0) return err(arityError(name))
        if (name === 'msetnx') for (let i = 0; i < a.length; i += 2) if (this.live(db, a[i]!) !== undefined) return int(0)
        for (let i = 0; i < a.length; i += 2) this.setKey(db, a[i]!, a[i + 1]!)
        return name === 'mset' ? OK : int(1)
      }
      case 'append': {
        const e = this.live(db, k)
        const suffix = a[1]!
        if (e === undefined) {
          this.setKey(db, k, suffix)
          return int(suffix.length)
        }
        if (e.value.length + suffix.length > MAX_STRING) return err('ERR string exceeds maximum allowed size (proto-max-bulk-len)')
        e.value += suffix
        this.touch(db, k)
        return int(e.value.length)
      }
      case 'strlen':
        return int(this.live(db, k)?.value.length ?? 0)
      case 'getrange':
      case 'substr': {
        const s0 = parseLL(a[1]!)
        const e0 = parseLL(a[2]!)
        if (s0 === undefined || e0 === undefined) return err(NOT_INT)
        const e = this.live(db, k)
        if (e === undefined) return bulk('')
        const len = BigInt(e.value.length)
        let s = s0
        let t = e0
        if (s < 0n && t < 0n && s > t) return bulk('')
        if (s < 0n) s = len + s
        if (t < 0n) t = len + t
        if (s < 0n) s = 0n
        if (t < 0n) t = 0n
        if (t >= len) t = len - 1n
        if (s > t || len === 0n) return bulk('')
        return bulk(e.value.slice(Number(s), Number(t) + 1))
      }
      case 'setrange': {
        const offset = parseLL(a[1]!)
        if (offset === undefined) return err(NOT_INT)
        if (offset < 0n) return err('ERR offset is out of range')
        const bytes = a[2]!
        const e = this.live(db, k)
        if (bytes.length === 0) return int(e?.value.length ?? 0)
        if (offset + BigInt(bytes.length) > BigInt(MAX_STRING)) return err('ERR string exceeds maximum allowed size (proto-max-bulk-len)')
        const off = Number(offset)
        let value = e?.value ?? ''
        if (value.length < off) value += '\0'.repeat(off - value.length)
        value = value.slice(0, off) + bytes + value.slice(off + bytes.length)
        if (e === undefined) this.setKey(db, k, value)
        else {
          e.value = value
          this.touch(db, k)
        }
        return int(value.length)
      }
      case 'incr':
      case 'decr':
      case 'incrby':
      case 'decrby': {
        let by: bigint
        if (name === 'incr') by = 1n
        else if (name === 'decr') by = -1n
        else {
          const parsed = parseLL(a[1]!)
          if (parsed === undefined) return err(NOT_INT)
          if (name === 'decrby' && parsed === INT64_MIN) return err('ERR decrement would overflow')
          by = name === 'decrby' ? -parsed : parsed
        }
        const e = this.live(db, k)
        let current = 0n
        if (e !== undefined) {
          const parsed = parseLL(e.value)
          if (parsed === undefined) return err(NOT_INT)
          current = parsed
        }
        const result = current + by
        if (result < INT64_MIN || result > INT64_MAX) return err('ERR increment or decrement would overflow')
        this.setKey(db, k, result.toString(), true)
        return int(result)
      }
      case 'incrbyfloat': {
        const e = this.live(db, k)
        const current = e === undefined ? { neg: false, m: 0n, e: 0, inf: false } : parseLD(e.value)
        const by = parseLD(a[1]!)
        if (current === undefined || by === undefined) return err(NOT_FLOAT)
        const sum = addLD(current, by)
        if (sum.inf) return err('ERR increment would produce NaN or Infinity')
        const text = formatLD(sum)
        this.setKey(db, k, text, true)
        return bulk(text)
      }
      case 'setbit': {
        const offset = parseLL(a[1]!)
        if (offset === undefined || offset < 0n || offset >> 3n >= BigInt(MAX_STRING)) return err('ERR bit offset is not an integer or out of range')
        const on = parseLL(a[2]!)
        if (on === undefined || (on !== 0n && on !== 1n)) return err('ERR bit is not an integer or out of range')
        const e = this.live(db, k)
        const byte = Number(offset >> 3n)
        let value = e?.value ?? ''
        const grown = value.length <= byte
        if (grown) value += '\0'.repeat(byte + 1 - value.length)
        const mask = 0x80 >> Number(offset & 7n)
        const old = value.charCodeAt(byte)
        const previous = (old & mask) !== 0 ? 1 : 0
        if (e === undefined || grown || previous !== Number(on)) {
          const next = on === 1n ? old | mask : old & ~mask
          value = value.slice(0, byte) + String.fromCharCode(next) + value.slice(byte + 1)
          if (e === undefined) this.setKey(db, k, value)
          else {
            e.value = value
            this.touch(db, k)
          }
        }
        return int(previous)
      }
      case 'getbit': {
        const offset = parseLL(a[1]!)
        if (offset === undefined || offset < 0n || offset >> 3n >= BigInt(MAX_STRING)) return err('ERR bit offset is not an integer or out of range')
        const value = this.live(db, k)?.value ?? ''
        const byte = Number(offset >> 3n)
        if (byte >= value.length) return int(0)
        return int((value.charCodeAt(byte) & (0x80 >> Number(offset & 7n))) !== 0 ? 1 : 0)
      }
      case 'bitcount':
        return this.bitcount(db, k, a)
      case 'bitpos':
        return this.bitpos(db, k, a)

      // ---- keys ---------------------------------------------------------------------------
      case 'del':
      case 'unlink':
      case 'delete': {
        let n = 0
        for (const key of a) {
          if (this.live(db, key) === undefined) continue
          this.deleteKey(db, key)
          n++
        }
        return int(n)
      }
      case 'exists':
      case 'touch':
        return int(a.filter((key) => this.live(db, key) !== undefined).length)
      case 'type':
        return simple(this.live(db, k) === undefined ? 'none' : 'string')
      case 'rename':
      case 'renamenx': {
        const nx = name === 'renamenx'
        const to = a[1]!
        const e = this.live(db, k)
        if (e === undefined) return err('ERR no such key')
        if (k === to) return nx ? int(0) : OK
        if (nx && this.live(db, to) !== undefined) return int(0)
        this.dbs[db]!.delete(k)
        this.dbs[db]!.set(to, { value: e.value, expireAt: e.expireAt })
        this.touch(db, k)
        this.touch(db, to)
        return nx ? int(1) : OK
      }
      case 'copy': {
        let dst = db
        let replace = false
        for (let j = 2; j < a.length; j++) {
          const opt = a[j]!.toLowerCase()
          if (opt === 'replace') replace = true
          else if (opt === 'db' && j + 1 < a.length) {
            const id = parseIntArg(a[++j]!)
            if (typeof id === 'string') return err(id)
            if (id < 0 || id >= DBS) return err('ERR DB index is out of range')
            dst = id
          } else return err(SYNTAX)
        }
        const to = a[1]!
        if (dst === db && k === to) return err('ERR source and destination objects are the same')
        const e = this.live(db, k)
        if (e === undefined) return int(0)
        if (this.live(dst, to) !== undefined && !replace) return int(0)
        this.dbs[dst]!.set(to, { value: e.value, expireAt: e.expireAt })
        this.touch(dst, to)
        return int(1)
      }
      case 'move': {
        const id = parseIntArg(a[1]!)
        if (typeof id === 'string') return err(id)
        if (id < 0 || id >= DBS) return err('ERR DB index is out of range')
        if (id === db) return err('ERR source and destination objects are the same')
        const e = this.live(db, k)
        if (e === undefined) return int(0)
        if (this.live(id, k) !== undefined) return int(0)
        this.dbs[db]!.delete(k)
        this.dbs[id]!.set(k, { value: e.value, expireAt: e.expireAt })
        this.touch(db, k)
        this.touch(id, k)
        return int(1)
      }
      case 'keys':
        return { kind: 'unordered', keys: this.liveKeys(db).filter((key) => globMatch(k, key)) }
      case 'scan':
        return this.scan(db, a)
      case 'randomkey':
        return { kind: 'oneOf', keys: this.liveKeys(db) }
      case 'dbsize':
        return { kind: 'intRange', min: this.liveKeys(db).length, max: this.dbs[db]!.size }
      case 'flushdb':
      case 'flushall': {
        if (a.length > 1 || (a.length === 1 && !['sync', 'async'].includes(a[0]!.toLowerCase()))) return err(SYNTAX)
        const which = name === 'flushdb' ? [db] : Array.from({ length: DBS }, (_, i) => i)
        for (const d of which) this.touchLiveIn([d], [d])
        for (const d of which) this.dbs[d]!.clear()
        return OK
      }
      case 'swapdb': {
        const x = parseIntArg(a[0]!, 'ERR invalid first DB index')
        if (typeof x === 'string') return err(x)
        const y = parseIntArg(a[1]!, 'ERR invalid second DB index')
        if (typeof y === 'string') return err(y)
        if (x < 0 || x >= DBS || y < 0 || y >= DBS) return err('ERR DB index is out of range')
        if (x === y) return OK
        this.touchLiveIn([x, y], [x, y])
        const tmp = this.dbs[x]!
        this.dbs[x] = this.dbs[y]!
        this.dbs[y] = tmp
        return OK
      }
      case 'select': {
        const id = parseIntArg(k)
        if (typeof id === 'string') return err(id)
        if (id < 0 || id >= DBS) return err('ERR DB index is out of range')
        c.db = id
        return OK
      }

      // ---- expiry -------------------------------------------------------------------------
      case 'expire':
      case 'pexpire':
      case 'expireat':
      case 'pexpireat':
        return this.expire(db, name, k, a[1]!, a.slice(2))
      case 'ttl':
      case 'pttl':
      case 'expiretime':
      case 'pexpiretime': {
        const e = this.live(db, k)
        if (e === undefined) return int(-2)
        if (e.expireAt === null) return int(-1)
        const abs = name.endsWith('expiretime')
        let ttl = abs ? e.expireAt : e.expireAt - this.now
        if (ttl < 0) ttl = 0
        return int(name.startsWith('p') ? ttl : Math.trunc((ttl + 500) / 1000))
      }
      case 'persist': {
        const e = this.live(db, k)
        if (e === undefined || e.expireAt === null) return int(0)
        e.expireAt = null
        this.touch(db, k)
        return int(1)
      }
    }
    throw new Error(`model: no implementation for ${name}`)
  }

  /** EX/PX amounts (SET, SETEX, PSETEX, GETEX): > 0, no overflow, made absolute. */
  private relativeDeadline(raw: Bytes, unitMs: number, name: string): number | string {
    const n = parseLL(raw)
    if (n === undefined) return NOT_INT
    if (n <= 0n || (unitMs === 1000 && n > INT64_MAX / 1000n)) return expireError(name)
    const at = n * BigInt(unitMs) + BigInt(this.now)
    if (at > INT64_MAX) return expireError(name)
    return Number(at)
  }

  /** EXAT/PXAT amounts: > 0, no overflow. */
  private absoluteDeadline(raw: Bytes, unitMs: number, name: string): number | string {
    const n = parseLL(raw)
    if (n === undefined) return NOT_INT
    if (n <= 0n || (unitMs === 1000 && n > INT64_MAX / 1000n)) return expireError(name)
    return Number(n * BigInt(unitMs))
  }

  /**
   * Redis's parseExtendedStringArgumentsOrReply for SET (`forGetex` false) and GETEX: each option
   * may repeat, but conflicting ones (NX/XX, two different TTL forms, KEEPTTL/PERSIST with a TTL)
   * are a syntax error. Returns the flags or an error text.
   */
  private parseStringOptions(
    opts: ReadonlyArray<Bytes>,
    forGetex: boolean,
  ): { nx: boolean; xx: boolean; get: boolean; keepttl: boolean; persist: boolean; ttl?: { unit: 'ex' | 'px' | 'exat' | 'pxat'; raw: Bytes } } | string {
    const f: { nx: boolean; xx: boolean; get: boolean; keepttl: boolean; persist: boolean; ttl?: { unit: 'ex' | 'px' | 'exat' | 'pxat'; raw: Bytes } } = {
      nx: false, xx: false, get: false, keepttl: false, persist: false,
    }
    for (let j = 0; j < opts.length; j++) {
      const opt = opts[j]!.toLowerCase()
      const next = opts[j + 1]
      const ttlUnit = f.ttl?.unit
      if (opt === 'nx' && !f.xx && !forGetex) f.nx = true
      else if (opt === 'xx' && !f.nx && !forGetex) f.xx = true
      else if (opt === 'get' && !forGetex) f.get = true
      else if (opt === 'keepttl' && !forGetex && !f.persist && ttlUnit === undefined) f.keepttl = true
      else if (opt === 'persist' && forGetex && ttlUnit === undefined && !f.keepttl) f.persist = true
      else if ((opt === 'ex' || opt === 'px' || opt === 'exat' || opt === 'pxat') && !f.keepttl && !f.persist && (ttlUnit === undefined || ttlUnit === opt) && next !== undefined) {
        f.ttl = { unit: opt, raw: next }
        j++
      } else return SYNTAX
    }
    return f
  }

  private deadlineOf(ttl: { unit: 'ex' | 'px' | 'exat' | 'pxat'; raw: Bytes }, name: string): number | string {
    return ttl.unit === 'ex' || ttl.unit === 'px'
      ? this.relativeDeadline(ttl.raw, ttl.unit === 'ex' ? 1000 : 1, name)
      : this.absoluteDeadline(ttl.raw, ttl.unit === 'exat' ? 1000 : 1, name)
  }

  private set(db: number, name: string, k: Bytes, value: Bytes, opts: ReadonlyArray<Bytes>): Expect {
    const f = this.parseStringOptions(opts, false)
    if (typeof f === 'string') return err(f)
    let at: number | null = null
    if (f.ttl !== undefined) {
      const d = this.deadlineOf(f.ttl, name)
      if (typeof d === 'string') return err(d)
      at = d
    }
    const old = this.live(db, k)
    const oldReply = old === undefined ? NIL : bulk(old.value)
    if ((f.nx && old !== undefined) || (f.xx && old === undefined)) return f.get ? oldReply : NIL
    this.setKey(db, k, value, f.keepttl)
    if (at !== null) this.dbs[db]!.get(k)!.expireAt = at
    return f.get ? oldReply : OK
  }

  private getex(db: number, k: Bytes, opts: ReadonlyArray<Bytes>): Expect {
    const f = this.parseStringOptions(opts, true)
    if (typeof f === 'string') return err(f)
    // Redis 7.0 looks the key up before it validates the expire time.
    const e = this.live(db, k)
    if (e === undefined) return NIL
    let at: number | undefined
    if (f.ttl !== undefined) {
      const d = this.deadlineOf(f.ttl, 'getex')
      if (typeof d === 'string') return err(d)
      at = d
    }
    const reply = bulk(e.value)
    if (at !== undefined && (f.ttl!.unit === 'exat' || f.ttl!.unit === 'pxat') && at <= this.now) this.deleteKey(db, k)
    else if (at !== undefined) {
      e.expireAt = at
      this.touch(db, k)
    } else if (f.persist && e.expireAt !== null) {
      e.expireAt = null
      this.touch(db, k)
    }
    return reply
  }

  private expire(db: number, name: string, k: Bytes, param: Bytes, opts: ReadonlyArray<Bytes>): Expect {
    let nx = false
    let xx = false
    let gt = false
    let lt = false
    for (const o of opts) {
      const opt = o.toLowerCase()
      if (opt === 'nx') nx = true
      else if (opt === 'xx') xx = true
      else if (opt === 'gt') gt = true
      else if (opt === 'lt') lt = true
      else return err(`ERR Unsupported option ${o}`)
    }
    if ((nx && xx) || (nx && gt) || (nx && lt)) return err('ERR NX and XX, GT or LT options at the same time are not compatible')
    if (gt && lt) return err('ERR GT and LT options at the same time are not compatible')
    const n = parseLL(param)
    if (n === undefined) return err(NOT_INT)
    let when = n
    if (name === 'expire' || name === 'expireat') {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return err(expireError(name))
      when *= 1000n
    }
    const base = name === 'expire' || name === 'pexpire' ? BigInt(this.now) : 0n
    if (when > INT64_MAX - base) return err(expireError(name))
    when += base
    const e = this.live(db, k)
    if (e === undefined) return int(0)
    const current = e.expireAt === null ? null : BigInt(e.expireAt)
    if (nx && current !== null) return int(0)
    if (xx && current === null) return int(0)
    if (gt && (current === null || when <= current)) return int(0)
    if (lt && current !== null && when >= current) return int(0)
    if (when <= BigInt(this.now)) {
      this.deleteKey(db, k)
      return int(1)
    }
    e.expireAt = Number(when)
    this.touch(db, k)
    return int(1)
  }

  private bitcount(db: number, k: Bytes, a: ReadonlyArray<Bytes>): Expect {
    const e = this.live(db, k)
    if (e === undefined) return int(0)
    const value = e.value
    let start: bigint
    let end: bigint
    let isBit = false
    if (a.length === 3 || a.length === 4) {
      let total = BigInt(value.length)
      const s = parseLL(a[1]!)
      if (s === undefined) return err(NOT_INT)
      const t = parseLL(a[2]!)
      if (t === undefined) return err(NOT_INT)
      start = s
      end = t
      if (start < 0n && end < 0n && start > end) return int(0)
      if (a.length === 4) {
        const unit = a[3]!.toLowerCase()
        if (unit === 'bit') isBit = true
        else if (unit !== 'byte') return err(SYNTAX)
      }
      if (isBit) total *= 8n
      if (start < 0n) start = total + start
      if (end < 0n) end = total + end
      if (start < 0n) start = 0n
      if (end < 0n) end = 0n
      if (end >= total) end = total - 1n
    } else if (a.length === 1) {
      start = 0n
      end = BigInt(value.length) - 1n
    } else return err(SYNTAX)
    if (start > end) return int(0)
    let count = 0
    const firstBit = isBit ? start : start * 8n
    const lastBit = isBit ? end : end * 8n + 7n
    for (let b = Number(firstBit); b <= Number(lastBit); b++) count += bitAt(value, b)
    return int(count)
  }

  private bitpos(db: number, k: Bytes, a: ReadonlyArray<Bytes>): Expect {
    const bit = parseLL(a[1]!)
    if (bit === undefined) return err(NOT_INT)
    if (bit !== 0n && bit !== 1n) return err('ERR The bit argument must be 1 or 0.')
    const e = this.live(db, k)
    if (e === undefined) return int(bit === 1n ? -1 : 0)
    const value = e.value
    let start: bigint
    let end: bigint
    let isBit = false
    let endGiven = false
    if (a.length >= 3 && a.length <= 5) {
      let total = BigInt(value.length)
      const s = parseLL(a[2]!)
      if (s === undefined) return err(NOT_INT)
      start = s
      if (a.length === 5) {
        const unit = a[4]!.toLowerCase()
        if (unit === 'bit') isBit = true
        else if (unit !== 'byte') return err(SYNTAX)
      }
      if (a.length >= 4) {
        const t = parseLL(a[3]!)
        if (t === undefined) return err(NOT_INT)
        end = t
        endGiven = true
      } else end = total - 1n
      if (isBit) total *= 8n
      if (start < 0n) start = total + start
      if (end < 0n) end = total + end
      if (start < 0n) start = 0n
      if (end < 0n) end = 0n
      if (end >= total) end = total - 1n
    } else if (a.length === 2) {
      start = 0n
      end = BigInt(value.length) - 1n
    } else return err(SYNTAX)
    if (start > end) return int(-1)
    const firstBit = isBit ? start : start * 8n
    const lastBit = isBit ? end : end * 8n + 7n
    for (let b = Number(firstBit); b <= Number(lastBit); b++) if (bitAt(value, b) === Number(bit)) return int(b)
    // Looking for a clear bit with no explicit end: the string continues with zeros.
    if (bit === 0n && !endGiven) return int(Number(lastBit) + 1)
    return int(-1)
  }

  private scan(db: number, a: ReadonlyArray<Bytes>): Expect {
    const cursorText = a[0]!
    // strtoul: optional sign, decimal digits, no leading space, no trailing bytes, within 64 bits.
    const m = /^[+-]?([0-9]+)$/.exec(cursorText)
    if (m === null || BigInt(m[1]!) > 2n ** 64n - 1n) return err('ERR invalid cursor')
    let pattern = '*'
    let count = 10
    let type: string | undefined
    for (let i = 1; i < a.length; ) {
      const opt = a[i]!.toLowerCase()
      const left = a.length - i
      if (opt === 'count' && left >= 2) {
        const n = parseLL(a[i + 1]!)
        if (n === undefined) return err(NOT_INT)
        if (n < 1n) return err(SYNTAX)
        count = Number(n)
        i += 2
      } else if (opt === 'match' && left >= 2) {
        pattern = a[i + 1]!
        i += 2
      } else if (opt === 'type' && left >= 2) {
        type = a[i + 1]!
        i += 2
      } else return err(SYNTAX)
    }
    const keys = this.liveKeys(db).filter((key) => globMatch(pattern, key) && (type === undefined || type.toLowerCase() === 'string'))
    const fromStart = /^[+-]?0+$/.test(cursorText)
    return { kind: 'scan', full: fromStart && count >= this.dbs[db]!.size, keys }
  }
}

const bitAt = (value: string, bit: number): number => ((value.charCodeAt(bit >> 3) & (0x80 >> (bit & 7))) !== 0 ? 1 : 0)

/** Exposed for the model's own sanity tests. */
export const longDouble = { parse: parseLD, add: addLD, format: formatLD }

/**
 * fast-check arbitraries for Redust's property tests.
 *
 * The unit of generation is an {@link Op}: a command sent by one of several clients, a time
 * advance of the fake clock, or one active-expiry pass. Ops come in {@link Step}s: most steps are
 * a single op, some are a scripted transaction (WATCH … MULTI … EXEC/DISCARD with other clients'
 * commands and time advances interleaved), so sequences reliably contain WATCH conflicts caused by
 * another session and by expiry, not only by chance.
 *
 * Design choices that make bugs likely to show:
 * - a **small key alphabet** (including the empty key and non-ASCII bytes), so commands collide;
 * - **values over all 256 byte values**, plus integer and float texts at the edges of the INCR
 *   family's ranges, so the counters, ranges and bit commands meet interesting inputs;
 * - **several databases** (SELECT, MOVE, COPY … DB, SWAPDB) with indexes 0–3 mostly, plus invalid
 *   ones;
 * - **valid and invalid forms** of every data command (wrong arity, syntax errors, non-integers);
 * - **time**: TTLs of milliseconds to seconds, advances of 0 ms to a few seconds and jumps past
 *   every deadline; absolute deadlines (EXAT/PXAT/EXPIREAT/PEXPIREAT) are generated *relative to
 *   the clock at the moment the command runs* ({@link AbsTime}), so they land near "now" however
 *   much time passed before.
 *
 * Argument texts are byte strings (one char per byte), like everything in the domain.
 *
 * @category test support
 */
import fc from 'fast-check'
import type { Bytes } from '../../src/domain/primitives.js'

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

/**
 * An absolute time argument, rendered when the command runs: `now + offsetMs` (or `offsetMs`
 * itself when `fromEpoch`, for deadlines long past such as `PXAT 1`), in seconds (floored) or ms.
 */
export interface AbsTime {
  readonly kind: 'abs'
  readonly unit: 's' | 'ms'
  readonly offsetMs: number
  readonly fromEpoch: boolean
}

/** One argv item: a byte string, or an absolute time rendered at run time. */
export type Arg = Bytes | AbsTime

export type Op =
  /** `client` sends `argv` (rendered against the clock at that moment). */
  | { readonly kind: 'command'; readonly client: number; readonly argv: ReadonlyArray<Arg> }
  /** The fake clock moves forward. */
  | { readonly kind: 'advance'; readonly ms: number }
  /** The engine's active-expiry timer fires once (`engine.runActiveExpiry()`). */
  | { readonly kind: 'activeExpiry' }

/** A group of ops generated together: one op, or a scripted transaction. */
export type Step = ReadonlyArray<Op>

/** How many clients (sessions) the sequences use. */
export const CLIENTS = 3

/** The key alphabet: few keys so commands collide; binary and empty keys included. */
export const KEYS: ReadonlyArray<Bytes> = ['a', 'b', 'c', 'k\x00', '\xff\x80', '']

/** Every byte value once, in order: a value that must survive every encoding. */
export const ALL_BYTES: Bytes = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))

/** Renders an argv against the clock: absolute times become decimal texts. */
export const renderArgv = (argv: ReadonlyArray<Arg>, now: number): Bytes[] =>
  argv.map((a) => (typeof a === 'string' ? a : renderTime(a, now)))

export const renderTime = (t: AbsTime, now: number): string => {
  const ms = t.fromEpoch ? t.offsetMs : now + t.offsetMs
  return String(t.unit === 's' ? Math.floor(ms / 1000) : ms)
}

/** A readable form of a byte string: printable ASCII as is, other bytes as \xHH, quoted if needed. */
export const showBytes = (s: string): string => {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    out += c >= 0x21 && c < 0x7f && c !== 0x22 && c !== 0x5c ? s[i] : `\\x${c.toString(16).padStart(2, '0')}`
  }
  return out.length === 0 || out !== s ? `"${out}"` : out
}

export const showArg = (a: Arg): string =>
  typeof a === 'string' ? showBytes(a) : `<${a.fromEpoch ? '' : 'now'}${a.offsetMs >= 0 && !a.fromEpoch ? '+' : ''}${a.offsetMs}ms${a.unit === 's' ? ' in s' : ''}>`

/** One line per op, e.g. `c1> SET a "\xff" PX 10` or `+250ms`. */
export const showOp = (op: Op): string => {
  switch (op.kind) {
    case 'command':
      return `c${op.client}> ${op.argv.map(showArg).join(' ')}`
    case 'advance':
      return `+${op.ms}ms`
    case 'activeExpiry':
      return 'active-expiry'
  }
}

export const showOps = (ops: ReadonlyArray<Op>): string => ops.map(showOp).join(' ; ')

// ---------------------------------------------------------------------------------------------
// building blocks
// ---------------------------------------------------------------------------------------------

type Part = Bytes | fc.Arbitrary<Arg> | fc.Arbitrary<ReadonlyArray<Arg>>

/** An argv from parts: constants, single args, or groups of args (flattened). */
const argv = (...parts: Part[]): fc.Arbitrary<Arg[]> => {
  const arbs = parts.map((p) => (typeof p === 'string' ? fc.constant(p) : p)) as Array<fc.Arbitrary<Arg | ReadonlyArray<Arg>>>
  return (fc.tuple(...(arbs as [fc.Arbitrary<Arg | ReadonlyArray<Arg>>])) as fc.Arbitrary<Array<Arg | ReadonlyArray<Arg>>>).map(
    (xs) => xs.flatMap((x): Arg[] => (Array.isArray(x) ? [...(x as ReadonlyArray<Arg>)] : [x as Arg])),
  )
}

/** Either nothing or the group. */
const opt = (group: fc.Arbitrary<ReadonlyArray<Arg>>): fc.Arbitrary<ReadonlyArray<Arg>> =>
  fc.oneof(fc.constant([] as ReadonlyArray<Arg>), group)

/** Option names in random letter case (Redis matches them case-insensitively). */
const word = (w: string): fc.Arbitrary<Bytes> =>
  fc.constantFrom(w.toUpperCase(), w.toLowerCase(), w[0]!.toUpperCase() + w.slice(1).toLowerCase())

/** A byte string of up to `max` bytes over all 256 byte values. */
export const byteString = (max: number): fc.Arbitrary<Bytes> =>
  fc.uint8Array({ maxLength: max }).map((bytes) => String.fromCharCode(...bytes))

/** A key: mostly a, b, c, sometimes the binary or empty keys. */
export const keyArb: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'c') },
  { weight: 1, arbitrary: fc.constantFrom(...KEYS) },
)

const keys = (min: number, max: number): fc.Arbitrary<Bytes[]> => fc.array(keyArb, { minLength: min, maxLength: max })

/** Integer texts around the interesting edges of int64 and Redis's string2ll. */
export const INTEGER_TEXTS: ReadonlyArray<Bytes> = [
  '0', '1', '-1', '2', '10', '42', '-7', '100',
  '9223372036854775807', '-9223372036854775808', '9223372036854775806', '-9223372036854775807',
  '9223372036854775808', '-9223372036854775809', '18446744073709551616',
  '007', '+1', ' 1', '1 ', '-0', '1.0', '',
]

/** Float texts: decimals exact and inexact in binary, exponents, infinities, and non-floats. */
export const FLOAT_TEXTS: ReadonlyArray<Bytes> = [
  '0.5', '-1.25', '3', '0.1', '-0.1', '1e2', '2.5e-1', '0', '-0', '.5', '5.', '1000.1', '1.5', '-0.25', '3.0',
  'inf', '-inf', 'nan', 'abc', '1.5.2', ' 1', '1e', 'e1', '',
]

/** A value: arbitrary bytes, numeric texts, or every byte value at once. */
export const valueArb: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 5, arbitrary: byteString(8) },
  { weight: 3, arbitrary: fc.constantFrom(...INTEGER_TEXTS) },
  { weight: 2, arbitrary: fc.constantFrom(...FLOAT_TEXTS) },
  { weight: 2, arbitrary: fc.integer({ min: -1000, max: 1000 }).map(String) },
  { weight: 1, arbitrary: fc.constant(ALL_BYTES) },
)

const smallInt = (min: number, max: number): fc.Arbitrary<Bytes> => fc.integer({ min, max }).map(String)

/** An integer argument: small values mostly, int64 edges and non-integers sometimes. */
const intArg = (min: number, max: number): fc.Arbitrary<Bytes> =>
  fc.oneof({ weight: 6, arbitrary: smallInt(min, max) }, { weight: 1, arbitrary: fc.constantFrom(...INTEGER_TEXTS, 'abc') })

/** A relative TTL in seconds (EX, SETEX, EXPIRE) or milliseconds (PX, PSETEX, PEXPIRE). */
const seconds = fc.oneof(
  { weight: 5, arbitrary: smallInt(1, 2) },
  { weight: 3, arbitrary: smallInt(3, 10) },
  { weight: 1, arbitrary: fc.constantFrom('0', '-1', 'abc', '1.5', '9223372036854775807', '100000') },
)
const millis = fc.oneof(
  { weight: 8, arbitrary: fc.oneof({ weight: 3, arbitrary: smallInt(1, 50) }, { weight: 1, arbitrary: smallInt(50, 5000) }) },
  { weight: 1, arbitrary: fc.constantFrom('0', '-5', 'x', '9223372036854775807', '3600000') },
)

/** An absolute time near now (−5 s … +20 s), or long past. */
const absTime = (unit: 's' | 'ms'): fc.Arbitrary<Arg> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -5000, max: 20_000 }).map((offsetMs): Arg => ({ kind: 'abs', unit, offsetMs, fromEpoch: false })) },
    { weight: 4, arbitrary: fc.integer({ min: -3, max: 100 }).map((offsetMs): Arg => ({ kind: 'abs', unit, offsetMs, fromEpoch: false })) },
    { weight: 1, arbitrary: fc.constantFrom(1000, 5000).map((offsetMs): Arg => ({ kind: 'abs', unit, offsetMs, fromEpoch: true })) },
    { weight: 1, arbitrary: fc.constantFrom<Arg>('0', '-1', 'abc') },
  )

/** A database index: 0–3 mostly (so they collide), sometimes the last or invalid ones. */
export const dbArb: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('0', '1', '2', '3') },
  { weight: 1, arbitrary: fc.constantFrom('15', '16', '-1', 'x', '01') },
)

/** A glob pattern: simple forms only (`*`, `?`, sets, escapes), each consuming at least one byte unless it is `*`. */
export const patternArb: fc.Arbitrary<Bytes> = fc.constantFrom(
  '*', 'a', '?', 'a*', '*a', '[ab]', '[^a]', '[^a]*', '?*', 'k*', 'k\x00', 'k?', '\xff*', 'b?', '[abc]*', 'z*', '\\*',
)

// ---------------------------------------------------------------------------------------------
// argv per command family
// ---------------------------------------------------------------------------------------------

const ttlOption: fc.Arbitrary<ReadonlyArray<Arg>> = fc.oneof(
  argv(word('ex'), seconds),
  argv(word('px'), millis),
  argv(word('exat'), absTime('s')),
  argv(word('pxat'), absTime('ms')),
  argv(word('keepttl')),
)

/** SET with its options in any order (each at most once), sometimes conflicting or incomplete ones. */
const setArgv: fc.Arbitrary<Arg[]> = fc
  .tuple(
    keyArb,
    valueArb,
    fc.oneof({ weight: 3, arbitrary: fc.constant([] as Arg[]) }, { weight: 1, arbitrary: argv(word('nx')) }, { weight: 1, arbitrary: argv(word('xx')) }),
    fc.oneof({ weight: 4, arbitrary: fc.constant([] as Arg[]) }, { weight: 1, arbitrary: argv(word('get')) }),
    fc.oneof({ weight: 2, arbitrary: fc.constant([] as ReadonlyArray<Arg>) }, { weight: 3, arbitrary: ttlOption }),
    fc.oneof(
      { weight: 12, arbitrary: fc.constant([] as Arg[]) },
      { weight: 1, arbitrary: fc.constantFrom<Arg[]>(['EX'], ['FOO'], ['PX', '10', 'PX'], ['NX', 'XX'], ['KEEPTTL', 'EX', '1'], ['PX', '5', 'EX', '1'], ['EX', '2', 'EX', '3']) },
    ),
  )
  .chain(([k, v, cond, get, ttl, tail]) =>
    fc
      .shuffledSubarray<ReadonlyArray<Arg>>([cond, get, ttl], { minLength: 3, maxLength: 3 })
      .map((groups): Arg[] => ['SET', k, v, ...groups.flatMap((g): Arg[] => [...g]), ...tail]),
  )

const getexOption: fc.Arbitrary<ReadonlyArray<Arg>> = fc.oneof(
  argv(word('ex'), seconds),
  argv(word('px'), millis),
  argv(word('exat'), absTime('s')),
  argv(word('pxat'), absTime('ms')),
  argv(word('persist')),
  fc.constant(['FOO']),
)

const expireFlags: fc.Arbitrary<Arg[]> = fc.oneof(
  { weight: 4, arbitrary: fc.constant([] as Arg[]) },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('NX', 'XX', 'GT', 'LT', 'nx', 'gt', 'lt', 'xx')).map((x) => [...x] as Arg[]) },
  { weight: 1, arbitrary: fc.constantFrom<Arg[]>(['NX', 'XX'], ['GT', 'LT'], ['XX', 'GT'], ['NX', 'GT'], ['FOO'], ['XX', 'LT']) },
)

const rangeArg = fc.oneof({ weight: 6, arbitrary: smallInt(-12, 12) }, { weight: 1, arbitrary: fc.constantFrom('x', '9223372036854775807', '-9223372036854775808') })

const bitUnit: fc.Arbitrary<ReadonlyArray<Arg>> = fc.oneof(
  { weight: 3, arbitrary: fc.constant([] as Arg[]) },
  { weight: 2, arbitrary: fc.constantFrom<Arg[]>(['BYTE'], ['BIT'], ['bit']) },
  { weight: 1, arbitrary: fc.constant(['FOO'] as Arg[]) },
)

/** String commands (t_string.c, bitops.c and the Redust dialect). */
export const stringArgv: fc.Arbitrary<Arg[]> = fc.oneof(
  { weight: 6, arbitrary: argv(word('get'), keyArb) },
  { weight: 8, arbitrary: setArgv },
  { weight: 2, arbitrary: argv('SETNX', keyArb, valueArb) },
  { weight: 2, arbitrary: argv('SETEX', keyArb, seconds, valueArb) },
  { weight: 2, arbitrary: argv('PSETEX', keyArb, millis, valueArb) },
  { weight: 2, arbitrary: argv('GETSET', keyArb, valueArb) },
  { weight: 2, arbitrary: argv('GETDEL', keyArb) },
  { weight: 3, arbitrary: argv('GETEX', keyArb, fc.array(getexOption, { maxLength: 2 }).map((gs) => gs.flat())) },
  { weight: 2, arbitrary: argv('UPDATE', keyArb, valueArb) },
  { weight: 2, arbitrary: argv('MGET', keys(1, 4)) },
  { weight: 2, arbitrary: argv('MSET', fc.array(fc.tuple(keyArb, valueArb), { minLength: 1, maxLength: 3 }).map((ps) => ps.flat())) },
  { weight: 2, arbitrary: argv('MSETNX', fc.array(fc.tuple(keyArb, valueArb), { minLength: 1, maxLength: 3 }).map((ps) => ps.flat())) },
  { weight: 3, arbitrary: argv('APPEND', keyArb, fc.oneof(byteString(4), fc.constant(''))) },
  { weight: 2, arbitrary: argv('STRLEN', keyArb) },
  { weight: 2, arbitrary: argv(fc.constantFrom('GETRANGE', 'SUBSTR'), keyArb, rangeArg, rangeArg) },
  { weight: 2, arbitrary: argv('SETRANGE', keyArb, fc.oneof({ weight: 8, arbitrary: smallInt(0, 12) }, { weight: 1, arbitrary: fc.constantFrom('-1', 'x', '536870912') }), fc.oneof(byteString(3), fc.constant(''))) },
  { weight: 3, arbitrary: argv(fc.constantFrom('INCR', 'DECR'), keyArb) },
  { weight: 3, arbitrary: argv(fc.constantFrom('INCRBY', 'DECRBY'), keyArb, intArg(-100, 100)) },
  { weight: 3, arbitrary: argv('INCRBYFLOAT', keyArb, fc.oneof(fc.constantFrom(...FLOAT_TEXTS), smallInt(-50, 50))) },
  { weight: 2, arbitrary: argv('SETBIT', keyArb, fc.oneof({ weight: 8, arbitrary: smallInt(0, 40) }, { weight: 1, arbitrary: fc.constantFrom('-1', 'x', '4294967296') }), fc.constantFrom('0', '1', '1', '2', 'x')) },
  { weight: 2, arbitrary: argv('GETBIT', keyArb, fc.oneof({ weight: 8, arbitrary: smallInt(0, 70) }, { weight: 1, arbitrary: fc.constantFrom('-1', 'x') })) },
  { weight: 2, arbitrary: argv('BITCOUNT', keyArb, fc.oneof(fc.constant([] as Arg[]), argv(rangeArg, rangeArg, bitUnit), argv(rangeArg))) },
  { weight: 2, arbitrary: argv('BITPOS', keyArb, fc.constantFrom('0', '1', '1', '0', '2', 'x'), fc.oneof(fc.constant([] as Arg[]), argv(rangeArg), argv(rangeArg, rangeArg, bitUnit))) },
)

/** Generic key commands (db.c), including SELECT and the database-wide ones. */
export const keyArgv: fc.Arbitrary<Arg[]> = fc.oneof(
  { weight: 4, arbitrary: argv(fc.constantFrom('DEL', 'UNLINK', 'DELETE'), keys(1, 3)) },
  { weight: 3, arbitrary: argv('EXISTS', keys(1, 3)) },
  { weight: 1, arbitrary: argv('TOUCH', keys(1, 3)) },
  { weight: 2, arbitrary: argv('TYPE', keyArb) },
  { weight: 2, arbitrary: argv(fc.constantFrom('RENAME', 'RENAMENX'), keyArb, keyArb) },
  {
    weight: 2,
    arbitrary: argv(
      'COPY',
      keyArb,
      keyArb,
      fc.array(fc.oneof(argv(word('db'), dbArb), argv(word('replace'))), { maxLength: 2 }).map((gs) => gs.flat()),
      fc.oneof({ weight: 12, arbitrary: fc.constant([] as Arg[]) }, { weight: 1, arbitrary: fc.constantFrom<Arg[]>(['DB'], ['FOO']) }),
    ),
  },
  { weight: 2, arbitrary: argv('MOVE', keyArb, dbArb) },
  { weight: 1, arbitrary: argv('KEYS', patternArb) },
  {
    weight: 2,
    arbitrary: argv(
      'SCAN',
      fc.oneof({ weight: 6, arbitrary: fc.constant('0') }, { weight: 1, arbitrary: fc.constantFrom('x', '-1', '18446744073709551616', '5') }),
      fc
        .array(
          fc.oneof(
            argv(word('match'), patternArb),
            argv(word('count'), fc.oneof({ weight: 6, arbitrary: smallInt(10, 100) }, { weight: 1, arbitrary: fc.constantFrom('0', 'x', '-1') })),
            argv(word('type'), fc.constantFrom('string', 'STRING', 'list', 'foo')),
          ),
          { maxLength: 2 },
        )
        .map((gs) => gs.flat()),
      fc.oneof({ weight: 12, arbitrary: fc.constant([] as Arg[]) }, { weight: 1, arbitrary: fc.constantFrom<Arg[]>(['COUNT'], ['FOO', 'x']) }),
    ),
  },
  { weight: 1, arbitrary: fc.constant(['RANDOMKEY'] as Arg[]) },
  { weight: 2, arbitrary: fc.constant(['DBSIZE'] as Arg[]) },
  { weight: 1, arbitrary: argv('FLUSHDB', fc.constantFrom<Arg[]>([], [], ['ASYNC'], ['sync'], ['FOO'])) },
  { weight: 1, arbitrary: argv('FLUSHALL', fc.constantFrom<Arg[]>([], [], [], ['SYNC'], ['FOO'])) },
  { weight: 1, arbitrary: argv('SWAPDB', dbArb, dbArb) },
  { weight: 3, arbitrary: argv('SELECT', dbArb) },
)

/** The EXPIRE family and the TTL readers (expire.c). */
export const expiryArgv: fc.Arbitrary<Arg[]> = fc.oneof(
  { weight: 3, arbitrary: argv(fc.constantFrom('EXPIRE', 'expire'), keyArb, fc.oneof(seconds, smallInt(-3, 0)), expireFlags) },
  { weight: 3, arbitrary: argv('PEXPIRE', keyArb, fc.oneof(millis, smallInt(-100, 0)), expireFlags) },
  { weight: 2, arbitrary: argv('EXPIREAT', keyArb, absTime('s'), expireFlags) },
  { weight: 2, arbitrary: argv('PEXPIREAT', keyArb, absTime('ms'), expireFlags) },
  { weight: 3, arbitrary: argv(fc.constantFrom('TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME'), keyArb) },
  { weight: 2, arbitrary: argv('PERSIST', keyArb) },
)

/** Malformed requests: unknown commands and wrong arities (queue-time errors inside MULTI). */
export const invalidArgv: fc.Arbitrary<Arg[]> = fc.constantFrom<Arg[]>(
  ['FOO'],
  ['FOO', 'a'],
  ['GET'],
  ['GET', 'a', 'b'],
  ['SET', 'a'],
  ['MSET', 'a'],
  ['MSET', 'a', '1', 'b'],
  ['EXPIRE', 'a'],
  ['TTL'],
  ['SELECT'],
  ['RENAME', 'a'],
  ['DBSIZE', 'x'],
  ['INCRBY', 'a'],
  ['MULTI', 'x'],
  ['EXEC', 'x'],
  ['DISCARD', 'x'],
  ['WATCH'],
  ['UNWATCH', 'a'],
)

/** Any data command (most of the time a well-formed one). */
export const dataArgv: fc.Arbitrary<Arg[]> = fc.oneof(
  { weight: 10, arbitrary: stringArgv },
  { weight: 6, arbitrary: keyArgv },
  { weight: 5, arbitrary: expiryArgv },
  { weight: 1, arbitrary: invalidArgv },
)

/** Transaction commands on their own (so interleavings are random too). */
export const transactionArgv: fc.Arbitrary<Arg[]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(['MULTI'] as Arg[]) },
  { weight: 3, arbitrary: fc.constant(['EXEC'] as Arg[]) },
  { weight: 1, arbitrary: fc.constant(['DISCARD'] as Arg[]) },
  { weight: 2, arbitrary: argv('WATCH', keys(1, 2)) },
  { weight: 1, arbitrary: fc.constant(['UNWATCH'] as Arg[]) },
)

// ---------------------------------------------------------------------------------------------
// ops and steps
// ---------------------------------------------------------------------------------------------

export const clientArb: fc.Arbitrary<number> = fc.integer({ min: 0, max: CLIENTS - 1 })

/** A time advance: mostly nothing or a little, sometimes seconds, sometimes past every deadline. */
export const advanceArb: fc.Arbitrary<Op> = fc
  .oneof(
    { weight: 2, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.constantFrom(1, 2) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: 60 }) },
    { weight: 3, arbitrary: fc.integer({ min: 60, max: 3000 }) },
    { weight: 1, arbitrary: fc.constantFrom(10_000, 25_001, 3_600_000) },
  )
  .map((ms): Op => ({ kind: 'advance', ms }))

export const commandOp = (args: fc.Arbitrary<Arg[]>, client: fc.Arbitrary<number> = clientArb): fc.Arbitrary<Op> =>
  fc.tuple(client, args).map(([c, a]): Op => ({ kind: 'command', client: c, argv: a }))

/** One op: mostly a data command, sometimes a transaction command, a time step or active expiry. */
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 16, arbitrary: commandOp(dataArgv) },
  { weight: 2, arbitrary: commandOp(transactionArgv) },
  { weight: 6, arbitrary: advanceArb },
  { weight: 2, arbitrary: fc.constant<Op>({ kind: 'activeExpiry' }) },
)

/**
 * A scripted transaction by client `c`: optional WATCH, then interleaved ops of *other* clients
 * and time advances (the conflicts), MULTI, queued commands (some invalid, some SELECT), and EXEC
 * or DISCARD.
 */
export const transactionStep: fc.Arbitrary<Step> = clientArb.chain((c) => {
  const others = fc.integer({ min: 0, max: CLIENTS - 2 }).map((i) => (i >= c ? i + 1 : i))
  const otherOp = fc.oneof({ weight: 3, arbitrary: commandOp(dataArgv, others) }, { weight: 2, arbitrary: advanceArb })
  const mine = (a: fc.Arbitrary<Arg[]>) => a.map((x): Op => ({ kind: 'command', client: c, argv: x }))
  return fc
    .tuple(
      fc.option(mine(argv('WATCH', keys(1, 3))), { nil: undefined, freq: 3 }),
      fc.array(otherOp, { maxLength: 3 }),
      fc.array(fc.oneof({ weight: 8, arbitrary: mine(dataArgv) }, { weight: 1, arbitrary: mine(transactionArgv) }, { weight: 1, arbitrary: otherOp }), { maxLength: 4 }),
      fc.array(otherOp, { maxLength: 2 }),
      fc.oneof({ weight: 6, arbitrary: mine(fc.constant(['EXEC'])) }, { weight: 1, arbitrary: mine(fc.constant(['DISCARD'])) }),
    )
    .map(([watch, before, queued, after, end]): Step => [
      ...(watch === undefined ? [] : [watch]),
      ...before,
      { kind: 'command', client: c, argv: ['MULTI'] },
      ...queued,
      ...after,
      end,
    ])
})

/** A step: one op, or (one time in seven) a scripted transaction. */
export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: opArb.map((op): Step => [op]) },
  { weight: 1, arbitrary: transactionStep },
)

/** A flat op sequence of at most `maxOps` ops (default 40), built from steps. */
export const opsArb = (maxOps = 40): fc.Arbitrary<Op[]> =>
  fc.array(stepArb, { minLength: 1, maxLength: Math.ceil(maxOps / 1.5), size: 'max' }).map((steps) => steps.flat().slice(0, maxOps))

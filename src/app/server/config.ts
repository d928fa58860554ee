/**
 * Server configuration: the directives Redust supports, named and validated like redis.conf.
 *
 * One table describes every directive once — its type, default, how to parse it, how CONFIG GET
 * prints it, and whether CONFIG SET may change it at run time. The same parsers serve the config
 * file, the `--directive value` command-line options and CONFIG SET, so the three agree on what
 * is valid and give Redis's error texts (config.c: "argument couldn't be parsed into an
 * integer", "argument must be 'yes' or 'no'", …).
 *
 * Security (DURABILITY.md §7.7): file-system paths (`dir`, `logfile`, `pidfile`; the log's file
 * names inside `dir` are fixed, so Redis's dbfilename/appendfilename have no equivalent) are
 * *protected*: no client can change them, ever — the old "CONFIG SET dir +
 * SAVE writes a file anywhere" attack. Directives that only take effect at start-up are
 * *immutable* at run time.
 *
 * @category config
 */

// ---------------------------------------------------------------------------------------------
// settings
// ---------------------------------------------------------------------------------------------

export type LogLevel = 'debug' | 'verbose' | 'notice' | 'warning'
export type FsyncPolicy = 'always' | 'everysec' | 'no'
/** A snapshot rule: save after `seconds` if at least `changes` writes happened. */
export type SavePoint = readonly [seconds: number, changes: number]

/** Typed values of every supported directive. */
export interface Settings {
  port: number
  bind: ReadonlyArray<string>
  'protected-mode': boolean
  requirepass: string
  maxclients: number
  timeout: number
  'tcp-keepalive': number
  'proto-max-bulk-len': number
  'client-query-buffer-limit': number
  loglevel: LogLevel
  logfile: string
  pidfile: string
  dir: string
  appendonly: boolean
  appendfsync: FsyncPolicy
  save: ReadonlyArray<SavePoint>
  databases: number
  daemonize: boolean
}

export type SettingName = keyof Settings

/** Redis's default snapshot schedule (7.0): after 1 h/1 change, 5 min/100, 1 min/10000. */
export const DEFAULT_SAVE: ReadonlyArray<SavePoint> = [
  [3600, 1],
  [300, 100],
  [60, 10000],
]

export const defaultSettings = (): Settings => ({
  port: 7878,
  bind: ['127.0.0.1'],
  'protected-mode': true,
  requirepass: '',
  maxclients: 10000,
  timeout: 0,
  'tcp-keepalive': 300,
  'proto-max-bulk-len': 512 * 1024 * 1024,
  'client-query-buffer-limit': 1024 * 1024 * 1024,
  loglevel: 'notice',
  logfile: '',
  pidfile: '',
  dir: './data',
  appendonly: true,
  appendfsync: 'everysec',
  save: DEFAULT_SAVE,
  databases: 16,
  daemonize: false,
})

// ---------------------------------------------------------------------------------------------
// value parsers (config.c)
// ---------------------------------------------------------------------------------------------

/** A parse failure: Redis's reason text, e.g. "argument must be 'yes' or 'no'". */
export class ConfigError {
  constructor(readonly reason: string) {}
}

type Parsed<T> = T | ConfigError

const INTEGER = /^(?:0|-?[1-9][0-9]*)$/

const parseInteger = (text: string, min: number, max: number): Parsed<number> => {
  if (!INTEGER.test(text) || text.length > 20) return new ConfigError("argument couldn't be parsed into an integer")
  const v = Number(text)
  if (v < min || v > max) return new ConfigError(`argument must be between ${min} and ${max} inclusive`)
  return v
}

const MEMORY_UNITS: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }
const MEMORY = /^([0-9]*)([a-z]*)$/i

/** Redis's `memtoull`: digits with an optional unit (k = 1000, kb = 1024, …). */
export const parseMemory = (text: string, min: number, max: number): Parsed<number> => {
  const m = MEMORY.exec(text)
  const unit = m === null ? undefined : MEMORY_UNITS[m[2]!.toLowerCase()]
  if (m === null || unit === undefined) return new ConfigError('argument must be a memory value')
  const v = Number(m[1] === '' ? '0' : m[1]) * unit
  // Redis prints INT64_MAX as the upper bound of these directives.
  if (v < min || v > max) return new ConfigError(`argument must be between ${min} and ${max === Number.MAX_SAFE_INTEGER ? '9223372036854775807' : max} inclusive`)
  return v
}

const parseBool = (text: string): Parsed<boolean> => {
  const t = text.toLowerCase()
  if (t === 'yes') return true
  if (t === 'no') return false
  return new ConfigError("argument must be 'yes' or 'no'")
}

const parseEnum =
  <T extends string>(values: ReadonlyArray<T>) =>
  (text: string): Parsed<T> => {
    const t = text.toLowerCase()
    const found = values.find((v) => v === t)
    return found ?? new ConfigError(`argument(s) must be one of the following: ${values.join(', ')}`)
  }

/** `save "<seconds> <changes> …"` or `save ""`: pairs of integers, seconds ≥ 1. */
const parseSave = (args: ReadonlyArray<string>): Parsed<SavePoint[]> => {
  const words = args.flatMap((a) => a.split(' ')).filter((w) => w.length > 0)
  if (words.length % 2 !== 0) return new ConfigError('Invalid save parameters')
  const points: SavePoint[] = []
  for (let i = 0; i < words.length; i += 2) {
    const seconds = Number(words[i])
    const changes = Number(words[i + 1])
    if (!INTEGER.test(words[i]!) || !INTEGER.test(words[i + 1]!) || seconds < 1 || changes < 0) {
      return new ConfigError('Invalid save parameters')
    }
    points.push([seconds, changes])
  }
  return points
}

const formatSave = (points: ReadonlyArray<SavePoint>): string => points.map(([s, c]) => `${s} ${c}`).join(' ')

// ---------------------------------------------------------------------------------------------
// the directive table
// ---------------------------------------------------------------------------------------------

/** How CONFIG SET treats a directive. */
export type Mutability = 'mutable' | 'immutable' | 'protected'

interface Directive<K extends SettingName> {
  readonly name: K
  /** Start-up and CONFIG SET parser; `args` are the words after the directive name. */
  readonly parse: (args: ReadonlyArray<string>) => Parsed<Settings[K]>
  readonly format: (value: Settings[K]) => string
  readonly mutability: Mutability
  /** Help text for `redust serve --help`. */
  readonly help: string
  /** A config file may repeat it, each line adding to the previous ones (save). */
  readonly accumulates?: boolean
}

type AnyDirective = { [K in SettingName]: Directive<K> }[SettingName]

const single =
  <T>(parse: (text: string) => Parsed<T>) =>
  (args: ReadonlyArray<string>): Parsed<T> =>
    args.length === 1 ? parse(args[0]!) : new ConfigError('wrong number of arguments')

const str = single((t: string) => t)
const int = (min: number, max: number) => single((t: string) => parseInteger(t, min, max))
const mem = (min: number) => single((t: string) => parseMemory(t, min, Number.MAX_SAFE_INTEGER))
const bool = single(parseBool)
const yesNo = (v: boolean): string => (v ? 'yes' : 'no')
const num = (v: number): string => String(v)
const id = (v: string): string => v

const DIRECTIVES: ReadonlyArray<AnyDirective> = [
  { name: 'port', parse: int(0, 65535), format: num, mutability: 'immutable', help: 'TCP port to listen on (default 7878; 0 picks a free port)' },
  {
    name: 'bind',
    parse: (args) => {
      const addrs = args.flatMap((a) => a.split(' ')).filter((a) => a.length > 0)
      return addrs.length === 0 ? new ConfigError('wrong number of arguments') : addrs
    },
    format: (v) => v.join(' '),
    mutability: 'immutable',
    help: "addresses to listen on (default 127.0.0.1); a leading '-' makes an address optional",
  },
  { name: 'protected-mode', parse: bool, format: yesNo, mutability: 'mutable', help: 'refuse non-loopback clients while no password is set (default yes)' },
  { name: 'requirepass', parse: str, format: id, mutability: 'mutable', help: 'password clients must send with AUTH (default none)' },
  { name: 'maxclients', parse: int(1, 4294967295), format: num, mutability: 'mutable', help: 'maximum simultaneous clients (default 10000)' },
  { name: 'timeout', parse: int(0, 2147483647), format: num, mutability: 'mutable', help: 'close clients idle for this many seconds (default 0: never)' },
  { name: 'tcp-keepalive', parse: int(0, 2147483647), format: num, mutability: 'mutable', help: 'TCP keepalive interval in seconds (default 300)' },
  { name: 'proto-max-bulk-len', parse: mem(1024 * 1024), format: num, mutability: 'mutable', help: 'largest bulk argument accepted (default 512mb)' },
  {
    name: 'client-query-buffer-limit',
    parse: mem(1024 * 1024),
    format: num,
    mutability: 'mutable',
    help: "largest pending input per client, queued MULTI commands included (default 1gb)",
  },
  {
    name: 'loglevel',
    parse: single(parseEnum<LogLevel>(['debug', 'verbose', 'notice', 'warning'])),
    format: id,
    mutability: 'mutable',
    help: 'debug | verbose | notice | warning (default notice)',
  },
  { name: 'logfile', parse: str, format: id, mutability: 'immutable', help: 'log file path; empty logs to standard output (default "")' },
  { name: 'pidfile', parse: str, format: id, mutability: 'immutable', help: 'write the process id to this file while running (default none)' },
  {
    name: 'dir',
    parse: str,
    format: id,
    mutability: 'protected',
    help: 'data directory: MANIFEST, log segments and snapshots, with fixed names (default ./data)',
  },
  { name: 'appendonly', parse: bool, format: yesNo, mutability: 'immutable', help: 'keep the durable event log; no = in memory only (default yes)' },
  {
    name: 'appendfsync',
    parse: single(parseEnum<FsyncPolicy>(['everysec', 'always', 'no'])),
    format: id,
    mutability: 'immutable',
    help: 'always | everysec | no (default everysec)',
  },
  {
    name: 'save',
    parse: parseSave,
    format: formatSave,
    mutability: 'mutable',
    accumulates: true,
    help: '"<seconds> <changes> ..." snapshot schedule; "" disables (default "3600 1 300 100 60 10000")',
  },
  {
    name: 'databases',
    parse: single((t) => {
      const v = parseInteger(t, 1, 2147483647)
      return v instanceof ConfigError || v === 16 ? v : new ConfigError('Redust always has 16 databases')
    }),
    format: num,
    mutability: 'immutable',
    help: 'number of databases (always 16)',
  },
  {
    name: 'daemonize',
    parse: single((t) => {
      const v = parseBool(t)
      return v === true ? new ConfigError('daemonize is not supported; run under a supervisor instead') : v
    }),
    format: yesNo,
    mutability: 'immutable',
    help: 'must be no (run Redust under a process supervisor)',
  },
]

const BY_NAME = new Map<string, AnyDirective>(DIRECTIVES.map((d) => [d.name, d]))

/** Every directive name with its help line, for `--help`. */
export const directiveHelp = (): ReadonlyArray<readonly [string, string]> => DIRECTIVES.map((d) => [d.name, d.help] as const)

// ---------------------------------------------------------------------------------------------
// redis.conf text → settings
// ---------------------------------------------------------------------------------------------

/** A start-up configuration error, printed like Redis's "FATAL CONFIG FILE ERROR". */
export class ConfigFileError extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
    readonly reason: string,
    readonly source: string,
  ) {
    super(
      line === 0
        ? `*** FATAL CONFIG FILE ERROR (Redust) ***\n${reason}`
        : source.startsWith('file')
          ? `*** FATAL CONFIG FILE ERROR (Redust) ***\nReading the configuration ${source}, at line ${line}\n>>> '${text}'\n${reason}`
          : `*** FATAL CONFIG ERROR (Redust) ***\nReading the ${source}\n>>> '--${text}'\n${reason}`,
    )
  }
}

/**
 * Splits a config line like Redis's `sdssplitargs` (quotes, `\xHH` escapes), or returns
 * undefined on unbalanced quotes. Text lines (not bytes): config files are read as UTF-8.
 */
export const splitConfigLine = (line: string): string[] | undefined => {
  const args: string[] = []
  let i = 0
  const n = line.length
  const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f'
  for (;;) {
    while (i < n && isBlank(line[i])) i++
    if (i >= n) return args
    let cur = ''
    let inDouble = false
    let inSingle = false
    for (;;) {
      const c = line[i]
      if (inDouble) {
        if (c === undefined) return undefined
        if (c === '\\' && line[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
          cur += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16))
          i += 4
          continue
        }
        if (c === '\\' && i + 1 < n) {
          const e = line[i + 1]!
          cur += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e
          i += 2
          continue
        }
        if (c === '"') {
          if (i + 1 < n && !isBlank(line[i + 1])) return undefined
          i++
          break
        }
        cur += c
        i++
      } else if (inSingle) {
        if (c === undefined) return undefined
        if (c === '\\' && line[i + 1] === "'") {
          cur += "'"
          i += 2
          continue
        }
        if (c === "'") {
          if (i + 1 < n && !isBlank(line[i + 1])) return undefined
          i++
          break
        }
        cur += c
        i++
      } else {
        if (c === undefined || c === ' ' || c === '\t' || c === '\n' || c === '\r') {
          i++
          break
        }
        if (c === '"') inDouble = true
        else if (c === "'") inSingle = true
        else cur += c
        i++
      }
    }
    args.push(cur)
  }
}

/**
 * Applies config text (a redis.conf file, or the command-line options turned into lines) on top
 * of `settings`. Directive names are case-insensitive; `#` starts a comment line. Throws a
 * {@link ConfigFileError} naming the line on the first invalid directive.
 */
export const applyConfigText = (settings: Settings, text: string, source = 'file'): void => {
  const seen = new Set<string>()
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]!.replace(/\r$/, '')
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const words = splitConfigLine(trimmed)
    if (words === undefined) throw new ConfigFileError(index + 1, trimmed, 'Unbalanced quotes in configuration line', source)
    if (words.length === 0) continue
    const name = words[0]!.toLowerCase()
    const directive = BY_NAME.get(name)
    if (directive === undefined) throw new ConfigFileError(index + 1, trimmed, 'Bad directive or wrong number of arguments', source)
    const args = words.slice(1)
    if (args.length === 0) throw new ConfigFileError(index + 1, trimmed, 'wrong number of arguments', source)
    const value = directive.parse(args)
    if (value instanceof ConfigError) throw new ConfigFileError(index + 1, trimmed, value.reason, source)
    if (directive.accumulates === true && seen.has(name) && directive.name === 'save') {
      // Later `save` lines add rules to the earlier ones; `save ""` clears them.
      const points = value as ReadonlyArray<SavePoint>
      settings.save = points.length === 0 ? [] : [...settings.save, ...points]
    } else {
      ;(settings as unknown as Record<string, unknown>)[directive.name] = value
    }
    seen.add(name)
  }
}

/**
 * Turns command-line words (`--port 7000 --save 900 1 --appendonly no`) into config lines, as
 * redis-server does: every `--name` starts a directive, the words up to the next `--name` are
 * its arguments. An empty word becomes `""`, so `--save ''` disables snapshots.
 */
export const optionsToConfigText = (words: ReadonlyArray<string>): string => {
  const lines: string[] = []
  let current: string[] | undefined
  for (const word of words) {
    if (word.startsWith('--') && word.length > 2 && !/^--[0-9]/.test(word)) {
      if (current !== undefined) lines.push(current.join(' '))
      current = [word.slice(2)]
    } else if (current !== undefined) {
      current.push(quoteWord(word))
    } else {
      throw new ConfigFileError(0, word, `unexpected argument '${word}' (options are --directive value)`, 'options')
    }
  }
  if (current !== undefined) lines.push(current.join(' '))
  return lines.join('\n')
}

const quoteWord = (word: string): string => (word === '' || /[\s"'\\]/.test(word) ? `"${word.replace(/[\\"]/g, (c) => `\\${c}`)}"` : word)

// ---------------------------------------------------------------------------------------------
// the live configuration: CONFIG GET / CONFIG SET
// ---------------------------------------------------------------------------------------------

/** Called after CONFIG SET changed a directive. */
export type ConfigListener = (name: SettingName, settings: Readonly<Settings>) => void

export class Config {
  private readonly listeners: ConfigListener[] = []

  constructor(readonly settings: Settings) {}

  /** Registers a listener for run-time changes. */
  onChange(listener: ConfigListener): void {
    this.listeners.push(listener)
  }

  /** CONFIG GET: every directive matching any of the glob patterns, as [name, value] pairs. */
  get(patterns: ReadonlyArray<string>): Array<readonly [string, string]> {
    const out: Array<readonly [string, string]> = []
    for (const d of DIRECTIVES) {
      if (!patterns.some((p) => globMatch(p, d.name, true))) continue
      out.push([d.name, (d.format as (v: unknown) => string)(this.settings[d.name])])
    }
    return out
  }

  /**
   * CONFIG SET name value [name value …]: all or nothing. Returns an error text (the whole
   * message after `-`) or undefined on success.
   */
  set(pairs: ReadonlyArray<readonly [string, string]>): string | undefined {
    const updates: Array<readonly [AnyDirective, unknown]> = []
    const seen = new Set<string>()
    for (const [rawName, value] of pairs) {
      const name = rawName.toLowerCase()
      const d = BY_NAME.get(name)
      if (d === undefined) return `ERR Unknown option or number of arguments for CONFIG SET - '${rawName}'`
      const fail = (reason: string) => `ERR CONFIG SET failed (possibly related to argument '${rawName}') - ${reason}`
      if (seen.has(name)) return fail('duplicate parameter')
      seen.add(name)
      if (d.mutability === 'protected') return fail("can't set protected config")
      if (d.mutability === 'immutable') return fail("can't set immutable config")
      const parsed = d.parse([value])
      if (parsed instanceof ConfigError) return fail(parsed.reason)
      updates.push([d, parsed])
    }
    for (const [d, v] of updates) (this.settings as unknown as Record<string, unknown>)[d.name] = v
    for (const [d] of updates) for (const l of this.listeners) l(d.name, this.settings)
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// glob matching (util.c stringmatchlen)
// ---------------------------------------------------------------------------------------------

/**
 * Redis's glob matcher: `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes. Used by CONFIG GET and
 * COMMAND LIST FILTERBY PATTERN.
 */
export const globMatch = (pattern: string, text: string, nocase: boolean): boolean => {
  const p = nocase ? pattern.toLowerCase() : pattern
  const s = nocase ? text.toLowerCase() : text
  const match = (pi: number, si: number): boolean => {
    while (pi < p.length) {
      const c = p[pi]!
      if (c === '*') {
        while (p[pi + 1] === '*') pi++
        if (pi + 1 === p.length) return true
        for (let k = si; k <= s.length; k++) if (match(pi + 1, k)) return true
        return false
      }
      if (si >= s.length) return false
      if (c === '?') {
        pi++
        si++
        continue
      }
      if (c === '[') {
        pi++
        const not = p[pi] === '^'
        if (not) pi++
        let matched = false
        for (;;) {
          if (pi >= p.length) {
            pi--
            break
          }
          if (p[pi] === '\\' && pi + 2 < p.length) {
            pi++
            if (p[pi] === s[si]) matched = true
          } else if (p[pi] === ']') {
            break
          } else if (p[pi + 1] === '-' && pi + 2 < p.length) {
            let start = p[pi]!
            let end = p[pi + 2]!
            if (start > end) [start, end] = [end, start]
            pi += 2
            if (s[si]! >= start && s[si]! <= end) matched = true
          } else if (p[pi] === s[si]) {
            matched = true
          }
          pi++
        }
        if (not) matched = !matched
        if (!matched) return false
        pi++
        si++
        continue
      }
      if (c === '\\' && pi + 1 < p.length) pi++
      if (p[pi] !== s[si]) return false
      pi++
      si++
    }
    return si === s.length
  }
  return match(0, 0)
}

/**
 * COMMAND INFO / COMMAND DOCS replies, generated from the command table's metadata.
 *
 * Redis builds these from its JSON command files; Redust has, per command, the metadata of
 * {@link CommandMeta} including a one-line `syntax` (`key value [NX|XX] [EX seconds|PX
 * milliseconds]`). That line is parsed here into Redis's argument tree (`name`, `type`,
 * `token`, `flags: optional|multiple`, nested `arguments` for `oneof` / `block`), which is
 * what redis-cli's interactive help and hints are rendered from: redis-cli turns the tree back
 * into exactly such a line, so `help set` shows the same synopsis.
 *
 * @category server
 */
import type { CommandMeta } from '../../domain/command.js'
import { array, bulk, int, type Reply } from '../../domain/reply.js'

// ---------------------------------------------------------------------------------------------
// reply helpers
// ---------------------------------------------------------------------------------------------

const simple = (value: string): Reply => ({ type: 'simple', value })
const set = (items: ReadonlyArray<Reply>): Reply => ({ type: 'set', items })
const map = (entries: ReadonlyArray<readonly [string, Reply]>): Reply => ({
  type: 'map',
  entries: entries.map(([k, v]) => [bulk(k), v] as const),
})

/** A command with subcommands (CLIENT, CONFIG, COMMAND): `client|setname`, … */
export interface ContainerMeta extends CommandMeta {
  readonly subcommands: ReadonlyArray<CommandMeta>
}

export const isContainer = (meta: CommandMeta): meta is ContainerMeta => 'subcommands' in meta

// ---------------------------------------------------------------------------------------------
// ACL categories and key specs (derived: Redust has no ACLs beyond the default user)
// ---------------------------------------------------------------------------------------------

const GROUP_CATEGORY: Record<string, string | undefined> = {
  string: '@string',
  generic: '@keyspace',
  connection: '@connection',
  transactions: '@transaction',
  bitmap: '@bitmap',
  server: undefined,
}

/** ACL categories in Redis's order: read/write, admin, data type, fast/slow, dangerous. */
export const aclCategories = (meta: CommandMeta): string[] => {
  const cats: string[] = []
  if (meta.flags.includes('write')) cats.push('@write')
  if (meta.flags.includes('readonly')) cats.push('@read')
  if (meta.flags.includes('admin')) cats.push('@admin')
  const group = GROUP_CATEGORY[meta.group]
  if (group !== undefined) cats.push(group)
  cats.push(meta.flags.includes('fast') ? '@fast' : '@slow')
  if (meta.flags.includes('admin')) cats.push('@dangerous')
  return cats
}

const keySpecs = (meta: CommandMeta): Reply[] => {
  if (meta.firstKey === 0) return []
  const write = meta.flags.includes('write')
  return [
    map([
      ['flags', set((write ? ['RW', 'update'] : ['RO', 'access']).map(simple))],
      ['begin_search', map([['type', bulk('index')], ['spec', map([['index', int(meta.firstKey)]])]])],
      [
        'find_keys',
        map([
          ['type', bulk('range')],
          [
            'spec',
            map([
              ['lastkey', int(meta.lastKey < 0 ? meta.lastKey : meta.lastKey - meta.firstKey)],
              ['keystep', int(meta.keyStep)],
              ['limit', int(0)],
            ]),
          ],
        ]),
      ],
    ]),
  ]
}

/** One COMMAND INFO entry: name, arity, flags, first/last/step, categories, tips, key specs, subcommands. */
export const commandInfo = (meta: CommandMeta): Reply =>
  array([
    bulk(meta.name),
    int(meta.arity),
    set(meta.flags.map(simple)),
    int(meta.firstKey),
    int(meta.lastKey),
    int(meta.keyStep),
    set(aclCategories(meta).map(simple)),
    set([]),
    set(keySpecs(meta)),
    array(isContainer(meta) ? meta.subcommands.map(commandInfo) : []),
  ])

// ---------------------------------------------------------------------------------------------
// syntax line → argument tree
// ---------------------------------------------------------------------------------------------

/** A node of Redis's COMMAND DOCS argument tree. */
export interface DocArgument {
  readonly name: string
  readonly type: 'key' | 'string' | 'integer' | 'double' | 'pattern' | 'unix-time' | 'pure-token' | 'oneof' | 'block'
  readonly token?: string
  readonly optional?: boolean
  readonly multiple?: boolean
  /** The token repeats with each repetition (`[ID id [ID id ...]]`). */
  readonly multipleToken?: boolean
  readonly arguments?: ReadonlyArray<DocArgument>
}

type Item =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'ellipsis' }
  | { readonly kind: 'group'; readonly alternatives: ReadonlyArray<ReadonlyArray<Item>> }

/** An option keyword: upper case (EX, KEEPTTL, BYTE), as opposed to a placeholder (seconds). */
const isToken = (word: string): boolean => /[A-Z]/.test(word) && !/[a-z]/.test(word)

const argumentType = (name: string): DocArgument['type'] => {
  if (name === 'key' || name === 'destination' || name === 'source' || name === 'newkey' || name.endsWith('key')) return 'key'
  if (name.startsWith('unix-time')) return 'unix-time'
  if (name === 'pattern') return 'pattern'
  if (/^(seconds|milliseconds|count|start|end|offset|index|bit|db|index1|index2|timeout|numkeys|decrement|cursor|length)$/.test(name)) return 'integer'
  return 'string'
}

const tokenize = (syntax: string): string[] => syntax.match(/\.\.\.|[[\]|]|[^\s[\]|]+/g) ?? []

/** Parses `a b [c|D e] [f ...]` into items; tolerant of unbalanced brackets. */
const parseItems = (tokens: string[], at: { i: number }, closing: boolean): Array<Array<Item>> => {
  const alternatives: Item[][] = [[]]
  while (at.i < tokens.length) {
    const t = tokens[at.i++]!
    if (t === ']') {
      if (closing) return alternatives
      continue
    }
    if (t === '|') {
      alternatives.push([])
      continue
    }
    const current = alternatives[alternatives.length - 1]!
    if (t === '[') current.push({ kind: 'group', alternatives: parseItems(tokens, at, true) })
    else if (t === '...') current.push({ kind: 'ellipsis' })
    else current.push({ kind: 'word', text: t })
  }
  return alternatives
}

const nameOf = (args: ReadonlyArray<DocArgument>): string =>
  args
    .map((a) => a.name)
    .join('-')
    .slice(0, 40)

/** `repeated` repeats `before`: same names, and the same token when the repetition has one. */
const sameNames = (before: ReadonlyArray<DocArgument>, repeated: ReadonlyArray<DocArgument>): boolean =>
  before.length === repeated.length &&
  before.every((x, i) => x.name === repeated[i]!.name && (repeated[i]!.token === undefined || x.token === repeated[i]!.token))

/** One alternative (a sequence) → its arguments. */
const convertSequence = (items: ReadonlyArray<Item>): DocArgument[] => {
  const out: DocArgument[] = []
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    if (item.kind === 'ellipsis') {
      // `key ...` without brackets: the previous argument repeats.
      const last = out.pop()
      if (last !== undefined) out.push({ ...last, multiple: true })
      continue
    }
    if (item.kind === 'word') {
      const next = items[i + 1]
      if (isToken(item.text) && next?.kind === 'word' && !isToken(next.text)) {
        out.push({ name: next.text, type: argumentType(next.text), token: item.text })
        i++
      } else if (isToken(item.text)) {
        out.push({ name: item.text.toLowerCase(), type: 'pure-token', token: item.text })
      } else {
        out.push({ name: item.text, type: argumentType(item.text) })
      }
      continue
    }
    // A bracketed group. `x [x ...]` and `k v [k v ...]` mean "one or more x" / "(k v)+".
    const only = item.alternatives.length === 1 ? item.alternatives[0]! : undefined
    if (only !== undefined && only.length > 1 && only[only.length - 1]!.kind === 'ellipsis') {
      const repeated = convertSequence(only.slice(0, -1))
      const before = out.slice(out.length - repeated.length)
      if (repeated.length > 0 && sameNames(before, repeated)) {
        out.splice(out.length - repeated.length, repeated.length)
        if (repeated.length === 1) {
          const first = before[0]!
          out.push(repeated[0]!.token !== undefined ? { ...first, multiple: true, multipleToken: true } : { ...first, multiple: true })
        } else {
          out.push({ name: nameOf(repeated), type: 'block', multiple: true, arguments: before })
        }
        continue
      }
      // `[x ...]`: zero or more x.
      const arg = repeated.length === 1 ? repeated[0]! : { name: nameOf(repeated), type: 'block' as const, arguments: repeated }
      out.push({ ...arg, optional: true, multiple: true })
      continue
    }
    out.push({ ...groupArgument(item.alternatives), optional: true })
  }
  return out
}

const groupArgument = (alternatives: ReadonlyArray<ReadonlyArray<Item>>): DocArgument => {
  const converted = alternatives.map(convertSequence).map((args): DocArgument => {
    if (args.length === 1) return args[0]!
    return { name: nameOf(args), type: 'block', arguments: args }
  })
  if (converted.length === 1) return converted[0]!
  return { name: nameOf(converted), type: 'oneof', arguments: converted }
}

/** Parses a command's syntax line into Redis's argument tree. */
export const syntaxToArguments = (syntax: string): DocArgument[] => {
  const alternatives = parseItems(tokenize(syntax), { i: 0 }, false)
  if (alternatives.length === 1) return convertSequence(alternatives[0]!)
  return [groupArgument(alternatives)]
}

/** Renders an argument tree back into a synopsis, as redis-cli does (for tests and help). */
export const renderArguments = (args: ReadonlyArray<DocArgument>, separator = ' '): string =>
  args
    .map((a) => {
      const repeat =
        a.type === 'oneof' ? renderArguments(a.arguments ?? [], '|') : a.type === 'block' ? renderArguments(a.arguments ?? [], ' ') : a.type === 'pure-token' ? '' : a.name
      const token = a.token !== undefined ? (a.type === 'pure-token' ? a.token : `${a.token} `) : ''
      let s = token + repeat
      if (a.multiple === true) s += ` [${a.multipleToken === true ? token : ''}${repeat} ...]`
      return a.optional === true ? `[${s}]` : s
    })
    .join(separator)

// ---------------------------------------------------------------------------------------------
// COMMAND DOCS
// ---------------------------------------------------------------------------------------------

/** One argument's map. Key arguments point at key spec 0: Redust reports one spec per command. */
const argumentReply = (arg: DocArgument): Reply => {
  const entries: Array<readonly [string, Reply]> = [
    ['name', bulk(arg.name)],
    ['type', bulk(arg.type)],
  ]
  if (arg.type === 'key') entries.push(['key_spec_index', int(0)])
  if (arg.token !== undefined) entries.push(['token', bulk(arg.token)])
  const flags = [
    ...(arg.optional === true ? ['optional'] : []),
    ...(arg.multiple === true ? ['multiple'] : []),
    ...(arg.multipleToken === true ? ['multiple_token'] : []),
  ]
  if (flags.length > 0) entries.push(['flags', set(flags.map(simple))])
  if (arg.arguments !== undefined) entries.push(['arguments', array(arg.arguments.map(argumentReply))])
  return map(entries)
}

/** The COMMAND DOCS value for one command (a map; a flat array in RESP2). */
export const commandDocs = (meta: CommandMeta): Reply => {
  const entries: Array<readonly [string, Reply]> = [
    ['summary', bulk(meta.summary)],
    ['since', bulk(meta.since)],
    ['group', bulk(meta.group)],
    ['complexity', bulk(meta.complexity)],
  ]
  const args = syntaxToArguments(meta.syntax)
  if (args.length > 0) entries.push(['arguments', array(args.map(argumentReply))])
  if (isContainer(meta)) {
    entries.push(['subcommands', map(meta.subcommands.map((sub) => [sub.name, commandDocs(sub)] as const))])
  }
  return map(entries)
}

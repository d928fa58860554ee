/**
 * Commands: parsed intent, and the table that turns argv into it.
 *
 * Every data command is described once, by a {@link CommandSpec}: its Redis metadata (arity, flags,
 * key positions, docs), its parser (argv → Command or an error reply) and its decision function.
 * Parse and decide sit together in one family module (`commands/*.ts`), as mini-redis keeps
 * parse/apply/encode of a command in one file. The server (app/) adds connection and server
 * commands with the same metadata, so COMMAND, COMMAND DOCS and arity errors come from one table.
 *
 * @category model
 */
import type { Event } from './event.js'
import type { State } from './keyspace.js'
import type { Bytes, EpochMs, Key } from './primitives.js'
import type { Reply } from './reply.js'

/**
 * What decide knows besides the command and the state. Taken once per execution unit (one command
 * or one whole EXEC), like Redis's frozen `cmd_time_snapshot` (rule R2).
 */
export interface Context {
  /** Wall-clock time of this execution unit. The only clock the domain ever sees. */
  readonly now: EpochMs
  /** The client's selected database. */
  readonly db: number
  /** A random 32-bit seed for commands that pick at random (RANDOMKEY); never read from a global. */
  readonly seed: number
}

/** The outcome of deciding one command: the facts to log, the reply, and session effects. */
export interface Decision {
  readonly events: ReadonlyArray<Event>
  readonly reply: Reply
  /** Set by SELECT: the database the client uses from now on. */
  readonly selectDb?: number
  /**
   * Keys the command modified in Redis's sense without changing the state (APPEND of nothing,
   * EXPIRE/GETEX to the deadline the key already has). Nothing is logged (invariant I5), but
   * WATCH sees these keys as changed, as Redis's `signalModifiedKey` does.
   */
  readonly touched?: ReadonlyArray<readonly [db: number, key: Key]>
}

/** Redis command flags we report in COMMAND INFO and use to classify commands. */
export type CommandFlag =
  | 'write'
  | 'readonly'
  | 'denyoom'
  | 'admin'
  | 'pubsub'
  | 'noscript'
  | 'blocking'
  | 'loading'
  | 'stale'
  | 'skip_monitor'
  | 'skip_slowlog'
  | 'fast'
  | 'no_auth'
  | 'may_replicate'
  | 'no_multi'
  | 'allow_busy'

/** Redis's command groups (COMMAND DOCS `group`). */
export type CommandGroup = 'string' | 'generic' | 'connection' | 'server' | 'transactions' | 'bitmap'

/** The metadata Redis's `COMMAND INFO` / `COMMAND DOCS` report, shared by every command table. */
export interface CommandMeta {
  /** Lower-case wire name. */
  readonly name: string
  /** Redis arity: N > 0 means exactly N argv items (name included); -N means at least N. */
  readonly arity: number
  readonly flags: ReadonlyArray<CommandFlag>
  /** Key positions (1-based argv index) for COMMAND INFO; 0/0/0 when the command has no keys. */
  readonly firstKey: number
  readonly lastKey: number
  readonly keyStep: number
  readonly group: CommandGroup
  readonly since: string
  readonly summary: string
  readonly complexity: string
  /** Argument synopsis shown by redis-cli's help, e.g. `key value [NX|XX]`. */
  readonly syntax: string
}

/** An error reply returned by a parser instead of a command. */
export type ParseError = Extract<Reply, { type: 'error' }>

/**
 * A data command: metadata, parser and decision function.
 * `parse` receives the arguments after the command name (arity is already checked).
 */
export interface CommandSpec<C extends { readonly type: string }> extends CommandMeta {
  readonly parse: (args: ReadonlyArray<Bytes>) => C | ParseError
  readonly decide: (command: C, state: State, ctx: Context) => Decision
}

/** Type-erased spec for the table. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommandSpec = CommandSpec<any>

/** Whether a parser or helper returned an error reply instead of a value. */
export const isParseError = (x: unknown): x is ParseError =>
  typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'error'

/** Defines a spec, inferring the command type from the parser. */
export const defineCommand = <C extends { readonly type: string }>(spec: CommandSpec<C>): CommandSpec<C> => spec

/** Does argv length satisfy an arity? (argc includes the command name.) */
export const arityOk = (arity: number, argc: number): boolean => (arity >= 0 ? argc === arity : argc >= -arity)

/** A decision with no events. */
export const replyOnly = (reply: Reply): Decision => ({ events: NO_EVENTS, reply })
export const NO_EVENTS: ReadonlyArray<Event> = Object.freeze([])

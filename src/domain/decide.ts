/**
 * The Decider's public surface: the command table, `decide`, `decideBatch` (EXEC) and the
 * re-exports of `evolve`, `fold` and `initialState`.
 *
 *     decide(command, state, ctx) -> { events, reply }     pure; never throws; errors are replies
 *     evolve(state, event)       -> state                  pure; trivial; clock-free
 *     fold(state, events)        -> state
 *
 * @category decider
 */
import type { AnyCommandSpec, CommandMeta, Context, Decision } from './command.js'
import { EXPIRY_COMMANDS, type ExpiryCommand } from './commands/expiry.js'
import { KEY_COMMANDS, type KeyCommand } from './commands/keys.js'
import { STRING_COMMANDS, type StringCommand } from './commands/strings.js'
import type { Event } from './event.js'
import { evolve, fold } from './evolve.js'
import { emptyState, type State } from './keyspace.js'
import type { Key } from './primitives.js'
import type { Reply } from './reply.js'

export { evolve, fold }
export const initialState: State = emptyState

/** Every data command's parsed intent. */
export type Command = StringCommand | KeyCommand | ExpiryCommand

// ---------------------------------------------------------------------------------------------
// the command table
// ---------------------------------------------------------------------------------------------

const SPECS: ReadonlyArray<AnyCommandSpec> = [...STRING_COMMANDS, ...KEY_COMMANDS, ...EXPIRY_COMMANDS]

const byName = new Map<string, AnyCommandSpec>()
/**
 * Decision functions by command type. Convention: a spec's parser produces commands whose type is
 * its own upper-cased name, or the name of a spec it shares its decide function with (SETNX,
 * SETEX, GETSET and UPDATE all parse into `SET` and decide with `decideSet`).
 */
const byType = new Map<string, AnyCommandSpec['decide']>()
for (const spec of SPECS) {
  if (byName.has(spec.name)) throw new Error(`duplicate command ${spec.name}`)
  byName.set(spec.name, spec)
  byType.set(spec.name.toUpperCase(), spec.decide)
}

/** The data-command specs, by lower-case name. */
export const commandTable: ReadonlyMap<string, AnyCommandSpec> = byName

/** The specs by lower- and upper-case name: clients send one or the other, rarely a mix. */
const byExactName = new Map<string, AnyCommandSpec>()
for (const [name, spec] of byName) byExactName.set(name, spec).set(name.toUpperCase(), spec)

/** Looks up a data command by its wire name, in any case (no allocation for SET or set). */
export const lookupCommand = (name: string): AnyCommandSpec | undefined =>
  byExactName.get(name) ?? byName.get(name.toLowerCase())

/** Metadata of every data command, for COMMAND and COMMAND DOCS. */
export const dataCommands: ReadonlyArray<CommandMeta> = SPECS

// ---------------------------------------------------------------------------------------------
// decide
// ---------------------------------------------------------------------------------------------

/** Decides one parsed command against a state at `ctx.now` (pure). */
export const decide = (command: Command, state: State, ctx: Context): Decision => {
  const decideFn = byType.get(command.type)
  if (decideFn === undefined) throw new Error(`no decision for command type ${command.type}`)
  return decideFn(command, state, ctx)
}

/** One entry of a MULTI queue, in the order it was queued. */
export type BatchItem =
  | { readonly kind: 'command'; readonly command: Command }
  /** A reply already decided at queue time (a syntax error), replayed at EXEC like Redis does. */
  | { readonly kind: 'reply'; readonly reply: Reply }
  /**
   * A connection or server command (PING, ECHO, INFO…): runs in order, never touches the
   * keyspace. Receives the database selected at that point of the transaction.
   */
  | { readonly kind: 'external'; readonly run: (db: number) => Reply }

export interface BatchDecision {
  /** Every event of the transaction: one record, one atomic unit (invariant I4). */
  readonly events: ReadonlyArray<Event>
  readonly replies: ReadonlyArray<Reply>
  /** The database selected after the transaction (SELECT inside MULTI persists, as in Redis). */
  readonly db: number
  /** The state after the batch, so the caller does not fold twice. */
  readonly state: State
  /** Every command's `Decision.touched`, in order. */
  readonly touched: ReadonlyArray<readonly [number, Key]>
}

/**
 * Decides a whole EXEC: each command sees the state left by the ones before it, all share one
 * `ctx.now` (one execution unit), and a runtime error fails only its own command — no rollback.
 */
export const decideBatch = (items: ReadonlyArray<BatchItem>, state: State, ctx: Context): BatchDecision => {
  const events: Event[] = []
  const replies: Reply[] = []
  const touched: Array<readonly [number, Key]> = []
  let current = state
  let db = ctx.db
  for (const item of items) {
    switch (item.kind) {
      case 'reply':
        replies.push(item.reply)
        break
      case 'external':
        replies.push(item.run(db))
        break
      case 'command': {
        const decision = decide(item.command, current, { now: ctx.now, db, seed: (ctx.seed + replies.length) | 0 })
        for (const event of decision.events) {
          events.push(event)
          current = evolve(current, event)
        }
        if (decision.selectDb !== undefined) db = decision.selectDb
        if (decision.touched !== undefined) touched.push(...decision.touched)
        replies.push(decision.reply)
        break
      }
    }
  }
  return { events, replies, db, state: current, touched }
}

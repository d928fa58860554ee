/**
 * Shared helpers of the connection and server command modules: metadata constructors, the
 * dispatcher's reply markers, and Redis's subcommand errors.
 *
 * @category server
 */
import type { CommandFlag, CommandGroup, CommandMeta } from '../../../domain/command.js'
import { arityOk } from '../../../domain/command.js'
import { error, type Reply } from '../../../domain/reply.js'
import type { ExternalCommand, Session } from '../../engine.js'
import type { ContainerMeta } from '../commandDocs.js'

/** Metadata of a keyless connection/server command. */
export const meta = (
  name: string,
  arity: number,
  flags: ReadonlyArray<CommandFlag>,
  group: CommandGroup,
  since: string,
  summary: string,
  complexity: string,
  syntax = '',
): CommandMeta => ({ name, arity, flags, firstKey: 0, lastKey: 0, keyStep: 0, group, since, summary, complexity, syntax })

/** A command with its implementation, ready to register with the engine. */
export const command = (m: CommandMeta, run: ExternalCommand['run']): ExternalCommand => ({ ...m, run })

// ---------------------------------------------------------------------------------------------
// markers: replies the dispatcher replaces (compared by identity, never encoded)
// ---------------------------------------------------------------------------------------------

/** The command went asynchronous: send the client's `pending` Deferred instead. */
export const ASYNC_REPLY: Reply = Object.freeze({ type: 'simple', value: '(async)' })
/** The command sends no reply at all (a repeated MONITOR). */
export const NO_REPLY_MARKER: Reply = Object.freeze({ type: 'simple', value: '(no reply)' })

// ---------------------------------------------------------------------------------------------
// subcommands
// ---------------------------------------------------------------------------------------------

/** One subcommand: its metadata (name `client|list`) and implementation (args after the subcommand). */
export interface Subcommand {
  readonly meta: CommandMeta
  readonly run: (session: Session, args: ReadonlyArray<string>) => Reply
}

/** Redis's text for a subcommand a container does not have. */
export const unknownSubcommand = (container: string, sub: string): Reply =>
  error(`ERR unknown subcommand '${sub.slice(0, 128)}'. Try ${container.toUpperCase()} HELP.`.replace(/[\r\n]/g, ' '))

/**
 * Builds a container command (CLIENT, CONFIG, COMMAND) from its subcommands: dispatch by
 * lower-case subcommand, Redis's arity error naming `container|sub`, and the unknown-subcommand
 * text. `onCall` records the subcommand for INFO commandstats and CLIENT LIST.
 */
export const container = (
  m: CommandMeta,
  subcommands: ReadonlyArray<Subcommand>,
  onCall: (session: Session, fullName: string) => void,
  whenBare?: (session: Session) => Reply,
): ExternalCommand & ContainerMeta => {
  const bySub = new Map(subcommands.map((s) => [s.meta.name.slice(s.meta.name.indexOf('|') + 1), s]))
  return {
    ...m,
    subcommands: subcommands.map((s) => s.meta),
    run: (session, args) => {
      const rawSub = args[0]
      if (rawSub === undefined) {
        if (whenBare !== undefined) return whenBare(session)
        return error(`ERR wrong number of arguments for '${m.name}' command`)
      }
      const sub = bySub.get(rawSub.toLowerCase())
      if (sub === undefined) return unknownSubcommand(m.name, rawSub)
      onCall(session, sub.meta.name)
      // Subcommand arity counts the container name too (`client setname x` has 3).
      if (!arityOk(sub.meta.arity, args.length + 1)) return error(`ERR wrong number of arguments for '${sub.meta.name}' command`)
      return sub.run(session, args.slice(1))
    },
  }
}

/** A HELP reply: one status line per text line, as Redis's `addReplyHelp`. */
export const helpReply = (container: string, lines: ReadonlyArray<string>): Reply => ({
  type: 'array',
  items: [
    `${container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`,
    ...lines,
    'HELP',
    '    Prints this help.',
  ].map((value) => ({ type: 'simple', value }) as const),
})

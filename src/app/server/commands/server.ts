/**
 * Server commands: INFO, CONFIG, COMMAND, TIME, LASTSAVE, SAVE, BGSAVE, BGREWRITEAOF, SHUTDOWN
 * and MONITOR, with Redis 7.0's replies and error texts.
 *
 * SAVE and SHUTDOWN finish asynchronously (a snapshot, a flush): their `run` stores a Deferred
 * on the client and returns the ASYNC marker, which the dispatcher swaps for it; both are
 * `no_multi`, so the marker never ends up inside an EXEC reply.
 *
 * @category server
 */
import { arityOk, type CommandMeta } from '../../../domain/command.js'
import { array, bulk, error, Errors, int, NIL, OK, type Reply } from '../../../domain/reply.js'
import type { ExternalCommand, Session } from '../../engine.js'
import type { Deferred } from '../../../infra/net/tcpServer.js'
import { aclCategories, commandDocs, commandInfo, isContainer } from '../commandDocs.js'
import { globMatch } from '../config.js'
import type { ServerContext } from '../context.js'
import { infoText } from '../info.js'
import { PERSISTENCE_DISABLED } from '../persistence.js'
import { CheckpointInProgressError } from '../../../infra/log/aofLog.js'
import { ASYNC_REPLY, command, container, helpReply, meta, NO_REPLY_MARKER, type Subcommand } from './meta.js'

const simple = (value: string): Reply => ({ type: 'simple', value })
const verbatim = (text: string): Reply => ({ type: 'verbatim', format: 'txt', value: text })
const ADMIN = ['admin', 'noscript', 'loading', 'stale'] as const

/** A Deferred that resolves to `ok`, or to `failed(reason)` when the work rejects. */
const deferred = (work: Promise<unknown>, ok: Reply, failed: (err: unknown) => Reply): Deferred => ({
  reply: ok,
  commit: work.then(() => undefined),
  failedReply: failed,
})

export const serverCommands = (ctx: ServerContext): ExternalCommand[] => {
  const clientOf = (session: Session) => ctx.clients.of(session)
  const recordSub = (session: Session, fullName: string): void => {
    clientOf(session).lastSubcommand = fullName
    ctx.stats.subcommandCalls.set(fullName, (ctx.stats.subcommandCalls.get(fullName) ?? 0) + 1)
  }

  // -------------------------------------------------------------------------------------------
  // INFO, TIME, LASTSAVE
  // -------------------------------------------------------------------------------------------

  const info = command(
    meta('info', -1, ['loading', 'stale'], 'server', '1.0.0', 'Get information and statistics about the server', 'O(1)', '[section [section ...]]'),
    (_session, args) => verbatim(infoText(ctx, args)),
  )

  const time = command(meta('time', 1, ['loading', 'stale', 'fast'], 'server', '2.6.0', 'Return the current server time', 'O(1)'), () => {
    const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000)
    return array([bulk(String(Math.floor(micros / 1e6))), bulk(String(micros % 1e6))])
  })

  const lastsave = command(
    meta('lastsave', 1, ['loading', 'stale', 'fast'], 'server', '1.0.0', 'Get the UNIX time stamp of the last successful save to disk', 'O(1)'),
    () => int(Math.floor(ctx.persistence.lastSave() / 1000)),
  )

  // -------------------------------------------------------------------------------------------
  // SAVE, BGSAVE, BGREWRITEAOF
  // -------------------------------------------------------------------------------------------

  const save = command(
    meta('save', 1, ['admin', 'noscript', 'no_multi'], 'server', '1.0.0', 'Synchronously save the dataset to disk', 'O(N) where N is the total number of keys in all databases'),
    (session) => {
      clientOf(session).pending = deferred(ctx.persistence.save(), OK, (err) => {
        ctx.log.warn({ err: String(err) }, 'SAVE failed')
        if (err instanceof CheckpointInProgressError) return error('ERR Background save already in progress')
        // Redis answers a failed SAVE with a bare "-ERR"; a refusal with a reason keeps it.
        return err instanceof Error && err.message.startsWith('ERR ') ? error(err.message) : error('ERR')
      })
      return ASYNC_REPLY
    },
  )

  const bgsave = command(
    meta('bgsave', -1, ['admin', 'noscript'], 'server', '1.0.0', 'Asynchronously save the dataset to disk', 'O(1)', '[SCHEDULE]'),
    (_session, args) => {
      if (args.length > 1 || (args.length === 1 && args[0]!.toLowerCase() !== 'schedule')) return Errors.syntax
      const result = ctx.persistence.backgroundSave()
      if (result === 'disabled') return error(PERSISTENCE_DISABLED)
      return result === 'started' ? simple('Background saving started') : error('ERR Background save already in progress')
    },
  )

  const bgrewriteaof = command(
    meta('bgrewriteaof', 1, ['admin', 'noscript'], 'server', '1.0.0', 'Asynchronously rewrite the append-only file', 'O(1)'),
    () => {
      const result = ctx.persistence.rewriteLog()
      if (result === 'disabled') return error(PERSISTENCE_DISABLED)
      return result === 'started'
        ? simple('Background append only file rewriting started')
        : error('ERR Background append only file rewriting already in progress')
    },
  )

  // -------------------------------------------------------------------------------------------
  // SHUTDOWN, MONITOR
  // -------------------------------------------------------------------------------------------

  const shutdown = command(
    meta(
      'shutdown',
      -1,
      ['admin', 'noscript', 'loading', 'stale', 'no_multi', 'allow_busy'],
      'server',
      '1.0.0',
      'Synchronously save the dataset to disk and then shut down the server',
      'O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)',
      '[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]',
    ),
    (session, args) => {
      let saveOption: boolean | undefined
      let force = false
      let abort = false
      for (const raw of args) {
        const a = raw.toLowerCase()
        if (a === 'nosave' && saveOption === undefined) saveOption = false
        else if (a === 'save' && saveOption === undefined) saveOption = true
        else if (a === 'now') continue
        else if (a === 'force') force = true
        else if (a === 'abort') abort = true
        else return Errors.syntax
      }
      if (abort) return args.length > 1 ? Errors.syntax : error('ERR No shutdown in progress.')
      const outcome = ctx.shutdown({ save: saveOption, force, reason: `SHUTDOWN from client id=${session.id}` })
      // Resolves only when the shutdown was aborted; on success the connection just closes.
      clientOf(session).pending = {
        reply: error('ERR Errors trying to SHUTDOWN. Check logs.'),
        commit: outcome.then(() => undefined),
        failedReply: () => error('ERR Errors trying to SHUTDOWN. Check logs.'),
      }
      return ASYNC_REPLY
    },
  )

  const monitor = command(meta('monitor', 1, ADMIN, 'server', '1.0.0', 'Listen for all requests received by the server in real time', 'O(1)'), (session) => {
    const client = clientOf(session)
    if (client.inExec) return error("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if (client.monitor) return NO_REPLY_MARKER
    client.monitor = true
    ctx.clients.monitors.add(client)
    return OK
  })

  // -------------------------------------------------------------------------------------------
  // CONFIG
  // -------------------------------------------------------------------------------------------

  const configSub = (name: string, arity: number, summary: string, syntax: string, run: Subcommand['run']): Subcommand => ({
    meta: meta(`config|${name}`, arity, ADMIN, 'server', name === 'resetstat' ? '2.0.0' : '2.0.0', summary, 'O(N) when N is the number of configuration parameters provided', syntax),
    run,
  })

  const config = container(
    meta('config', -2, [], 'server', '2.0.0', 'A container for server configuration commands', 'Depends on subcommand.'),
    [
      configSub('get', -3, 'Get the values of configuration parameters', 'parameter [parameter ...]', (_session, patterns) => ({
        type: 'map',
        entries: ctx.config.get(patterns).map(([k, v]) => [bulk(k), bulk(v)] as const),
      })),
      configSub('set', -4, 'Set configuration parameters to the given values', 'parameter value [parameter value ...]', (_session, args) => {
        if (args.length % 2 !== 0) return Errors.syntax
        const pairs: Array<readonly [string, string]> = []
        for (let i = 0; i < args.length; i += 2) pairs.push([args[i]!, args[i + 1]!])
        const failure = ctx.config.set(pairs)
        return failure === undefined ? OK : error(failure.replace(/[\r\n]/g, ' '))
      }),
      configSub('resetstat', 2, 'Reset the stats returned by INFO', '', () => {
        ctx.resetStats()
        return OK
      }),
      {
        meta: meta('config|help', 2, ['loading', 'stale'], 'server', '5.0.0', 'Show helpful text about the different subcommands', 'O(1)'),
        run: () =>
          helpReply('CONFIG', [
            'GET <pattern>',
            '    Return parameters matching the glob-like <pattern> and their values.',
            'SET <directive> <value>',
            '    Set the configuration <directive> to <value>.',
            'RESETSTAT',
            '    Reset statistics reported by the INFO command.',
          ]),
      },
    ],
    recordSub,
  )

  // -------------------------------------------------------------------------------------------
  // COMMAND
  // -------------------------------------------------------------------------------------------

  /** Finds a command or a `container|sub` subcommand by name (any case). */
  const find = (name: string): CommandMeta | undefined => {
    const lower = name.toLowerCase()
    const bar = lower.indexOf('|')
    if (bar === -1) return ctx.lookup(lower)
    const parent = ctx.lookup(lower.slice(0, bar))
    return parent !== undefined && isContainer(parent) ? parent.subcommands.find((s) => s.name === lower) : undefined
  }

  const allCommands = (): ReadonlyArray<CommandMeta> => ctx.engine.commands()

  const keysOf = (argv: ReadonlyArray<string>): Reply | ReadonlyArray<string> => {
    const target = find(argv[0]!)
    if (target === undefined) return error('ERR Invalid command specified')
    if (!arityOk(target.arity, argv.length)) return error('ERR Invalid number of arguments specified for command')
    if (target.firstKey === 0) return error('ERR The command has no key arguments')
    const last = target.lastKey < 0 ? argv.length + target.lastKey : target.lastKey
    const keys: string[] = []
    for (let i = target.firstKey; i <= last && i < argv.length; i += Math.max(1, target.keyStep)) keys.push(argv[i]!)
    return keys
  }

  const commandSub = (name: string, arity: number, summary: string, syntax: string, run: Subcommand['run']): Subcommand => ({
    meta: meta(`command|${name}`, arity, ['loading', 'stale'], 'server', '7.0.0', summary, 'O(N) where N is the number of commands to look up', syntax),
    run,
  })

  const commandCmd = container(
    meta('command', -1, ['loading', 'stale'], 'server', '2.8.13', 'Get array of Redis command details', 'O(N) where N is the total number of Redis commands'),
    [
      commandSub('count', 2, 'Get total number of Redis commands', '', () => int(allCommands().length)),
      commandSub('info', -2, 'Get array of specific Redis command details, or all when no argument is given', '[command-name [command-name ...]]', (_s, names) =>
        array(names.length === 0 ? allCommands().map(commandInfo) : names.map((n) => (find(n) === undefined ? NIL : commandInfo(find(n)!)))),
      ),
      commandSub('docs', -2, 'Get array of specific Redis command documentation', '[command-name [command-name ...]]', (_s, names) => {
        const metas = names.length === 0 ? allCommands() : names.map(find).filter((m): m is CommandMeta => m !== undefined)
        return { type: 'map', entries: metas.map((m) => [bulk(m.name), commandDocs(m)] as const) }
      }),
      commandSub('list', -2, 'Get an array of Redis command names', '[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]', (_s, args) => {
        const names: string[] = []
        for (const m of allCommands()) {
          names.push(m.name)
          if (isContainer(m)) names.push(...m.subcommands.map((s) => s.name))
        }
        if (args.length === 0) return array(names.map(bulk))
        if (args.length !== 3 || args[0]!.toLowerCase() !== 'filterby') return Errors.syntax
        const kind = args[1]!.toLowerCase()
        const value = args[2]!
        if (kind === 'module') return array([])
        if (kind === 'aclcat') {
          const cat = `@${value.toLowerCase()}`
          return array(names.filter((n) => aclCategories(find(n)!).includes(cat)).map(bulk))
        }
        if (kind === 'pattern') return array(names.filter((n) => globMatch(value, n, true)).map(bulk))
        return Errors.syntax
      }),
      commandSub('getkeys', -4, 'Extract keys given a full Redis command', 'command [arg [arg ...]]', (_s, argv) => {
        const keys = keysOf(argv)
        return 'type' in keys ? keys : array(keys.map(bulk))
      }),
      commandSub('getkeysandflags', -4, 'Extract keys and access flags given a full Redis command', 'command [arg [arg ...]]', (_s, argv) => {
        const keys = keysOf(argv)
        if ('type' in keys) return keys
        const write = find(argv[0]!)!.flags.includes('write')
        return array(keys.map((k) => array([bulk(k), { type: 'set', items: (write ? ['RW', 'update'] : ['RO', 'access']).map(simple) }])))
      }),
      {
        meta: meta('command|help', 2, ['loading', 'stale'], 'server', '5.0.0', 'Show helpful text about the different subcommands', 'O(1)'),
        run: () =>
          helpReply('COMMAND', [
            '(no subcommand)',
            '    Return details about all Redis commands.',
            'COUNT',
            '    Return the total number of commands in this Redis server.',
            'LIST',
            '    Return a list of all commands in this Redis server.',
            'INFO [<command-name> ...]',
            '    Return details about multiple Redis commands.',
            '    If no command names are given, documentation details for all',
            '    commands are returned.',
            'DOCS [<command-name> ...]',
            '    Return documentation details about multiple Redis commands.',
            '    If no command names are given, documentation details for all',
            '    commands are returned.',
            'GETKEYS <full-command>',
            '    Return the keys from a full Redis command.',
            'GETKEYSANDFLAGS <full-command>',
            '    Return the keys and the access flags from a full Redis command.',
          ]),
      },
    ],
    recordSub,
    () => array(allCommands().map(commandInfo)),
  )

  return [info, time, lastsave, save, bgsave, bgrewriteaof, shutdown, monitor, config, commandCmd]
}

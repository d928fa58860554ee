/**
 * Connection commands: HELLO, AUTH, PING, ECHO, QUIT, RESET and CLIENT — Redis 7.0's
 * networking.c / acl.c behaviour and texts (CLIENTS.md §3–§4), plus CLIENT SETINFO with
 * Redis 7.2 semantics because current clients send it on every connect.
 *
 * They run inside the engine as extensions (so MULTI can queue them and COMMAND lists them),
 * act only on the connection's state, and never touch the keyspace.
 *
 * @category server
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { parseInt64 } from '../../../domain/args.js'
import { array, bulk, error, Errors, int, NIL, OK, type Reply } from '../../../domain/reply.js'
import type { ExternalCommand, Session } from '../../engine.js'
import type { Client } from '../client.js'
import type { ServerContext } from '../context.js'
import { command, container, helpReply, meta, type Subcommand } from './meta.js'

// ---------------------------------------------------------------------------------------------
// texts
// ---------------------------------------------------------------------------------------------

export const NOAUTH = error('NOAUTH Authentication required.')
const WRONGPASS = error('WRONGPASS invalid username-password pair or user is disabled.')
const NOPASS_AUTH = error(
  'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
)
const HELLO_NOAUTH = error(
  'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
)
const BAD_NAME = error('ERR Client names cannot contain spaces, newlines or special characters.')

/** The version HELLO and INFO announce: clients enable features by it (CLIENTS.md §3). */
export const REDIS_VERSION = '7.0.15'

// ---------------------------------------------------------------------------------------------
// authentication
// ---------------------------------------------------------------------------------------------

/** Whether a client must still authenticate (Redis's `authRequired`). */
export const authRequired = (ctx: ServerContext, client: Client): boolean => ctx.config.settings.requirepass !== '' && !client.authenticated

const digest = (s: string): Buffer => createHash('sha256').update(s, 'latin1').digest()

/**
 * Checks a username/password pair against the only user, `default`: without `requirepass` it
 * has no password and accepts any; otherwise the password must match (constant-time compare).
 */
export const checkCredentials = (ctx: ServerContext, username: string, password: string): boolean => {
  if (username !== 'default') return false
  const required = ctx.config.settings.requirepass
  if (required === '') return true
  return timingSafeEqual(digest(required), digest(password))
}

/** Redis's client-name rule: printable ASCII without spaces ('!' … '~'). */
const validName = (name: string): boolean => {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) return false
  }
  return true
}

// ---------------------------------------------------------------------------------------------
// CLIENT LIST lines
// ---------------------------------------------------------------------------------------------

const clientFlags = (client: Client): string => {
  let flags = ''
  if (client.monitor) flags += 'O'
  if (client.session.inTransaction()) flags += 'x'
  if (client.session.watchDirty) flags += 'd'
  return flags === '' ? 'N' : flags
}

/** One CLIENT LIST / CLIENT INFO line (Redis 7.0 fields, then 7.2's lib-name/lib-ver). */
export const clientInfoLine = (client: Client, now: number): string => {
  const c = client.control
  const qbuf = c.queryBufferBytes()
  const omem = c.outputBufferBytes()
  const cmd = client.lastSubcommand ?? client.lastCommand.toLowerCase()
  return (
    `id=${client.id} addr=${c.remoteAddress} laddr=${c.localAddress} fd=${c.fd} name=${client.name}` +
    ` age=${Math.floor((now - client.createdAt) / 1000)} idle=${Math.floor((now - client.lastInteraction) / 1000)}` +
    ` flags=${clientFlags(client)} db=${client.session.db} sub=0 psub=0 ssub=0 multi=${client.session.queue?.length ?? -1}` +
    ` qbuf=${qbuf} qbuf-free=0 argv-mem=0 multi-mem=${client.queuedBytes} rbs=0 rbp=0 obl=0 oll=${c.heldReplies()} omem=${omem}` +
    ` tot-mem=${qbuf + omem + client.queuedBytes} events=${omem > 0 ? 'rw' : 'r'} cmd=${cmd} user=default redir=-1 resp=${client.proto}` +
    ` lib-name=${client.libName} lib-ver=${client.libVer}`
  )
}

const verbatim = (text: string): Reply => ({ type: 'verbatim', format: 'txt', value: text })

const CLIENT_TYPES = new Set(['normal', 'master', 'replica', 'slave', 'pubsub'])

// ---------------------------------------------------------------------------------------------
// the commands
// ---------------------------------------------------------------------------------------------

const CONNECTION_FLAGS = ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'] as const

export const connectionCommands = (ctx: ServerContext): ExternalCommand[] => {
  const clientOf = (session: Session): Client => ctx.clients.of(session)

  const helloReply = (client: Client): Reply => ({
    type: 'map',
    entries: [
      [bulk('server'), bulk('redis')],
      [bulk('version'), bulk(REDIS_VERSION)],
      [bulk('proto'), int(client.proto)],
      [bulk('id'), int(client.id)],
      [bulk('mode'), bulk('standalone')],
      [bulk('role'), bulk('master')],
      [bulk('modules'), array([])],
    ],
  })

  const hello = command(
    meta('hello', -1, CONNECTION_FLAGS, 'connection', '6.0.0', 'Handshake with Redis', 'O(1)', '[protover [AUTH username password] [SETNAME clientname]]'),
    (session, args) => {
      const client = clientOf(session)
      let version: number | undefined
      let i = 0
      if (args.length >= 1) {
        const v = parseInt64(args[0]!)
        if (v === undefined) return error('ERR Protocol version is not an integer or out of range')
        if (v < 2n || v > 3n) return error('NOPROTO unsupported protocol version')
        version = Number(v)
        i = 1
      }
      let credentials: readonly [string, string] | undefined
      let name: string | undefined
      for (; i < args.length; i++) {
        const more = args.length - 1 - i
        const opt = args[i]!
        const lower = opt.toLowerCase()
        if (lower === 'auth' && more >= 2) {
          credentials = [args[i + 1]!, args[i + 2]!]
          i += 2
        } else if (lower === 'setname' && more >= 1) {
          name = args[i + 1]!
          if (!validName(name)) return BAD_NAME
          i++
        } else {
          return error(`ERR Syntax error in HELLO option '${opt}'`.replace(/[\r\n]/g, ' '))
        }
      }
      if (credentials !== undefined) {
        if (!checkCredentials(ctx, credentials[0], credentials[1])) return WRONGPASS
        client.authenticated = true
      }
      if (authRequired(ctx, client)) return HELLO_NOAUTH
      if (name !== undefined) client.name = name
      if (version !== undefined) client.proto = version === 3 ? 3 : 2
      return helloReply(client)
    },
  )

  const auth = command(
    meta('auth', -2, CONNECTION_FLAGS, 'connection', '1.0.0', 'Authenticate to the server', 'O(N) where N is the number of passwords defined for the user', '[username] password'),
    (session, args) => {
      if (args.length > 2) return Errors.syntax
      let username = 'default'
      let password = args[0]!
      if (args.length === 1) {
        if (ctx.config.settings.requirepass === '') return NOPASS_AUTH
      } else {
        username = args[0]!
        password = args[1]!
      }
      if (!checkCredentials(ctx, username, password)) {
        ctx.log.debug({ client: clientOf(session).control.remoteAddress }, 'authentication failed')
        return WRONGPASS
      }
      clientOf(session).authenticated = true
      return OK
    },
  )

  const ping = command(meta('ping', -1, ['fast'], 'connection', '1.0.0', 'Ping the server', 'O(1)', '[message]'), (_session, args) => {
    if (args.length > 1) return Errors.wrongArity('ping')
    return args.length === 1 ? bulk(args[0]!) : { type: 'simple', value: 'PONG' }
  })

  const echo = command(meta('echo', 2, ['fast'], 'connection', '1.0.0', 'Echo the given string', 'O(1)', 'message'), (_session, args) => bulk(args[0]!))

  const quit = command(meta('quit', -1, ['allow_busy', 'noscript', 'loading', 'stale', 'fast', 'no_auth'], 'connection', '1.0.0', 'Close the connection', 'O(1)'), (session) => {
    clientOf(session).control.closeAfterReply()
    return OK
  })

  const reset = command(meta('reset', 1, CONNECTION_FLAGS, 'connection', '6.2.0', 'Reset the connection', 'O(1)'), (session) => {
    const client = clientOf(session)
    ctx.engine.closeSession(session)
    session.db = 0
    client.proto = 2
    client.name = ''
    client.monitor = false
    ctx.clients.monitors.delete(client)
    client.authenticated = ctx.config.settings.requirepass === ''
    return { type: 'simple', value: 'RESET' }
  })

  // -------------------------------------------------------------------------------------------
  // CLIENT
  // -------------------------------------------------------------------------------------------

  const sub = (name: string, arity: number, flags: Subcommand['meta']['flags'], since: string, summary: string, syntax: string, run: Subcommand['run']): Subcommand => ({
    meta: meta(`client|${name}`, arity, flags, 'connection', since, summary, 'O(1)', syntax),
    run,
  })
  const STD = ['noscript', 'loading', 'stale'] as const
  const ADMIN = ['admin', 'noscript', 'loading', 'stale'] as const

  const listClients = (filter: (c: Client) => boolean): Reply => {
    const now = Date.now()
    let text = ''
    for (const c of ctx.clients.all()) if (filter(c)) text += `${clientInfoLine(c, now)}\n`
    return verbatim(text)
  }

  const clientSubcommands: Subcommand[] = [
    sub('id', 2, STD, '5.0.0', 'Returns the client ID for the current connection', '', (session) => int(session.id)),
    sub('getname', 2, STD, '2.6.9', 'Get the current connection name', '', (session) => {
      const name = clientOf(session).name
      return name === '' ? NIL : bulk(name)
    }),
    sub('setname', 3, STD, '2.6.9', 'Set the current connection name', 'connection-name', (session, [name]) => {
      if (!validName(name!)) return BAD_NAME
      clientOf(session).name = name!
      return OK
    }),
    sub('setinfo', 4, STD, '7.2.0', 'Set client or connection specific info', 'LIB-NAME libname|LIB-VER libver', (session, [attr, value]) => {
      const which = attr!.toLowerCase()
      if (which !== 'lib-name' && which !== 'lib-ver') return error(`ERR Unrecognized option '${attr}'`.replace(/[\r\n]/g, ' '))
      if (!validName(value!)) return error(`ERR ${attr} cannot contain spaces, newlines or special characters.`.replace(/[\r\n]/g, ' '))
      const client = clientOf(session)
      if (which === 'lib-name') client.libName = value!
      else client.libVer = value!
      return OK
    }),
    sub('info', 2, STD, '6.2.0', 'Returns information about the current client connection.', '', (session) =>
      verbatim(`${clientInfoLine(clientOf(session), Date.now())}\n`),
    ),
    sub('list', -2, ADMIN, '2.4.0', 'Get the list of client connections', '[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]', (_session, args) => {
      if (args.length === 0) return listClients(() => true)
      const option = args[0]!.toLowerCase()
      if (option === 'type' && args.length === 2) {
        const type = args[1]!.toLowerCase()
        if (!CLIENT_TYPES.has(type)) return error(`ERR Unknown client type '${args[1]}'`.replace(/[\r\n]/g, ' '))
        return listClients(() => type === 'normal')
      }
      if (option === 'id' && args.length >= 2) {
        const ids = new Set<number>()
        for (const raw of args.slice(1)) {
          const id = parseInt64(raw)
          if (id === undefined || id <= 0n) return error('ERR Invalid client ID')
          ids.add(Number(id))
        }
        return listClients((c) => ids.has(c.id))
      }
      return Errors.syntax
    }),
    sub('no-evict', 3, STD, '7.0.0', 'Set client eviction mode for the current connection', 'ON|OFF', (_session, [mode]) => {
      // Redust never evicts clients (no maxmemory-clients), so both modes hold trivially.
      const m = mode!.toLowerCase()
      return m === 'on' || m === 'off' ? OK : Errors.syntax
    }),
    sub(
      'kill',
      -3,
      ADMIN,
      '2.4.0',
      'Kill the connection of a client',
      '[ip:port] [ID client-id] [TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB] [USER username] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no]',
      (session, args) => clientKill(session, args),
    ),
  ]

  const clientKill = (session: Session, args: ReadonlyArray<string>): Reply => {
    const self = clientOf(session)
    const kill = (target: Client): void => {
      if (target === self) target.control.closeAfterReply()
      else target.control.kill()
    }
    if (args.length === 1) {
      // Old form: CLIENT KILL ip:port.
      for (const c of ctx.clients.all()) {
        if (c.control.remoteAddress === args[0]) {
          kill(c)
          return OK
        }
      }
      return error('ERR No such client')
    }
    let id: number | undefined
    let addr: string | undefined
    let laddr: string | undefined
    let type: string | undefined
    let user: string | undefined
    let skipMe = true
    for (let i = 0; i < args.length; i += 2) {
      const option = args[i]!.toLowerCase()
      const value = args[i + 1]
      if (value === undefined) return Errors.syntax
      if (option === 'id') {
        const v = parseInt64(value)
        if (v === undefined || v <= 0n) return error('ERR client-id should be greater than 0')
        id = Number(v)
      } else if (option === 'type') {
        type = value.toLowerCase()
        if (!CLIENT_TYPES.has(type)) return error(`ERR Unknown client type '${value}'`.replace(/[\r\n]/g, ' '))
      } else if (option === 'addr') {
        addr = value
      } else if (option === 'laddr') {
        laddr = value
      } else if (option === 'user') {
        if (value !== 'default') return error(`ERR No such user '${value}'`.replace(/[\r\n]/g, ' '))
        user = value
      } else if (option === 'skipme') {
        const v = value.toLowerCase()
        if (v === 'yes') skipMe = true
        else if (v === 'no') skipMe = false
        else return Errors.syntax
      } else {
        return Errors.syntax
      }
    }
    let killed = 0
    for (const c of [...ctx.clients.all()]) {
      if (id !== undefined && c.id !== id) continue
      if (addr !== undefined && c.control.remoteAddress !== addr) continue
      if (laddr !== undefined && c.control.localAddress !== laddr) continue
      if (type !== undefined && type !== 'normal') continue
      if (user !== undefined && user !== 'default') continue
      if (skipMe && c === self) continue
      kill(c)
      killed++
    }
    return int(killed)
  }

  const client = container(
    meta('client', -2, [], 'connection', '2.4.0', 'A container for client connection commands', 'Depends on subcommand.'),
    [
      ...clientSubcommands,
      {
        meta: meta('client|help', 2, ['loading', 'stale'], 'connection', '5.0.0', 'Show helpful text about the different subcommands', 'O(1)'),
        run: () =>
          helpReply('CLIENT', [
            'GETNAME',
            '    Return the name of the current connection.',
            'ID',
            '    Return the ID of the current connection.',
            'INFO',
            '    Return information about the current client connection.',
            'KILL <ip:port>',
            '    Kill connection made from <ip:port>.',
            'KILL <option> <value> [<option> <value> [...]]',
            '    Kill connections. Options are:',
            '    * ADDR (<ip:port>|<unixsocket>:0)',
            '      Kill connections made from the specified address',
            '    * LADDR (<ip:port>|<unixsocket>:0)',
            '      Kill connections made to specified local address',
            '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
            '      Kill connections by type.',
            '    * USER <username>',
            '      Kill connections authenticated by <username>.',
            '    * SKIPME (YES|NO)',
            '      Skip killing current connection (default: yes).',
            'LIST [options ...]',
            '    Return information about client connections. Options:',
            '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
            '      Return clients of specified type.',
            'SETNAME <name>',
            '    Assign the name <name> to the current connection.',
            'SETINFO <option> <value>',
            '    Set client meta attr. Options are:',
            '    * LIB-NAME: the client lib name.',
            '    * LIB-VER: the client lib version.',
            'NO-EVICT (ON|OFF)',
            '    Protect current client connection from eviction.',
          ]),
      },
    ],
    (session, fullName) => {
      clientOf(session).lastSubcommand = fullName
      ctx.stats.subcommandCalls.set(fullName, (ctx.stats.subcommandCalls.get(fullName) ?? 0) + 1)
    },
  )

  return [hello, auth, ping, echo, quit, reset, client]
}

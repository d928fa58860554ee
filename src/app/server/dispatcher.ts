/**
 * The per-connection dispatcher: the bridge between the TCP layer (argument vectors in,
 * outcomes out) and the engine. It adds what Redis's `processCommand` does around a command
 * and the engine does not know about:
 * - authentication: with `requirepass`, anything but AUTH/HELLO/QUIT/RESET gets
 *   `-NOAUTH Authentication required.` — after the unknown-command and arity checks, as in Redis;
 * - QUIT and RESET run at once even inside MULTI (Redis never queues them);
 * - asynchronous server commands (SAVE, SHUTDOWN) and MONITOR's "no reply" via markers;
 * - the MULTI queue's size for client-query-buffer-limit;
 * - counters for INFO (command time, errors) and the MONITOR feed.
 *
 * @category server
 */
import { performance } from 'node:perf_hooks'
import { arityOk } from '../../domain/command.js'
import { error, QUEUED, type Reply } from '../../domain/reply.js'
import { repr } from '../../domain/repr.js'
import { PendingReply, type ExternalCommand, type Session } from '../engine.js'
import { NO_REPLY, type ConnectionHandler, type Outcome } from '../../infra/net/tcpServer.js'
import type { Protocol } from '../../infra/resp/encoder.js'
import type { Client } from './client.js'
import { authRequired, NOAUTH } from './commands/connection.js'

const NOAUTH_TEXT = (NOAUTH as { readonly message: string }).message
import { ASYNC_REPLY, NO_REPLY_MARKER } from './commands/meta.js'
import { isContainer } from './commandDocs.js'
import type { ServerContext } from './context.js'

const bump = (map: Map<string, number>, key: string, by = 1): void => {
  map.set(key, (map.get(key) ?? 0) + by)
}

export class ClientHandler implements ConnectionHandler {
  constructor(
    private readonly ctx: ServerContext,
    readonly client: Client,
    private readonly onClosed: (client: Client) => void,
  ) {}

  protocol(): Protocol {
    return this.client.proto
  }

  authRequired(): boolean {
    return authRequired(this.ctx, this.client)
  }

  queuedBytes(): number {
    return this.client.queuedBytes
  }

  closed(): void {
    this.onClosed(this.client)
  }

  handle(argv: string[]): Outcome {
    const ctx = this.ctx
    const client = this.client
    const session = client.session
    const name = argv[0]!
    client.lastInteraction = Date.now()
    client.lastCommand = name
    client.lastSubcommand = undefined

    if (ctx.config.settings.requirepass !== '' && !client.authenticated) {
      const refused = this.refuseUnauthenticated(argv)
      if (refused !== undefined) return refused
    }

    let lower: string | undefined
    if (session.queue !== undefined) {
      lower = ctx.engine.lowerName(name)
      if ((lower === 'quit' || lower === 'reset') && this.runsImmediately(lower, argv.length)) return this.runNow(lower, argv)
      if (lower === 'exec') client.inExec = true
    }

    const started = performance.now()
    const result = ctx.engine.execute(session, argv)
    const micros = (performance.now() - started) * 1000
    client.inExec = false

    const key = client.lastSubcommand ?? lower ?? ctx.engine.lowerName(name)
    bump(ctx.stats.micros, key, micros)

    if (session.queue !== undefined) {
      if (result === QUEUED) for (const arg of argv) client.queuedBytes += arg.length
    } else if (client.queuedBytes !== 0) {
      client.queuedBytes = 0
    }

    if (result instanceof PendingReply) return result
    if (result === ASYNC_REPLY) {
      const pending = client.pending
      client.pending = undefined
      return pending ?? error('ERR internal error: asynchronous command without a reply')
    }
    if (result === NO_REPLY_MARKER) return NO_REPLY
    if (result.type === 'error') {
      ctx.stats.countError(result.message)
      bump(ctx.stats.failed, key)
    }
    return result
  }

  /** NOAUTH for a known, well-formed command that needs authentication; undefined otherwise. */
  private refuseUnauthenticated(argv: ReadonlyArray<string>): Reply | undefined {
    const lower = argv[0]!.toLowerCase()
    const meta = this.ctx.lookup(lower)
    // Unknown commands and arity errors are reported as such, before authentication (Redis),
    // and so are unknown subcommands and subcommand arity errors of CLIENT, CONFIG, COMMAND.
    if (meta === undefined || !arityOk(meta.arity, argv.length) || meta.flags.includes('no_auth')) return undefined
    if (isContainer(meta) && argv.length >= 2) {
      const fullName = `${lower}|${argv[1]!.toLowerCase()}`
      const sub = meta.subcommands.find((m) => m.name === fullName)
      if (sub === undefined || !arityOk(sub.arity, argv.length)) return undefined
    }
    bump(this.ctx.stats.rejected, lower)
    this.ctx.stats.countError('NOAUTH')
    // Redis's rejectCommand answers a refused EXEC through execCommandAbort. An unauthenticated
    // client cannot have opened a transaction, so there is nothing to discard.
    if (lower === 'exec') return error(`EXECABORT Transaction discarded because of: ${NOAUTH_TEXT}`)
    return NOAUTH
  }

  private runsImmediately(lower: string, argc: number): boolean {
    const meta = this.ctx.lookup(lower)
    return meta !== undefined && arityOk(meta.arity, argc)
  }

  /** QUIT/RESET inside MULTI: run now, bypassing the queue (Redis's processCommand). */
  private runNow(lower: string, argv: ReadonlyArray<string>): Reply {
    const ctx = this.ctx
    const ext = ctx.lookup(lower) as ExternalCommand
    ctx.engine.onExecuted?.(this.client.session, argv)
    ctx.engine.stats.commandsProcessed++
    bump(ctx.engine.stats.commandCalls, lower)
    return ext.run(this.client.session, argv.slice(1))
  }
}

// ---------------------------------------------------------------------------------------------
// MONITOR feed
// ---------------------------------------------------------------------------------------------


/** Arguments MONITOR must not show (passwords), replaced like Redis's `(redacted)`. */
const redact = (lower: string, argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (lower === 'auth') return [argv[0]!, ...argv.slice(1).map(() => '(redacted)')]
  if (lower === 'hello') {
    const out = [...argv]
    for (let i = 1; i < out.length; i++) {
      if (out[i]!.toLowerCase() === 'auth' && i + 2 < out.length) {
        out[i + 1] = '(redacted)'
        out[i + 2] = '(redacted)'
        i += 2
      }
    }
    return out
  }
  return argv
}

/**
 * Sends one executed command to every MONITOR client, formatted like Redis:
 * `+1700000000.123456 [0 127.0.0.1:50000] "set" "k" "v"`. Admin commands are not shown.
 */
export const feedMonitors = (ctx: ServerContext, session: Session, argv: ReadonlyArray<string>): void => {
  const monitors = ctx.clients.monitors
  if (monitors.size === 0) return
  const lower = argv[0]!.toLowerCase()
  const meta = ctx.lookup(lower)
  if (meta !== undefined && (meta.flags.includes('admin') || meta.flags.includes('skip_monitor'))) return
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000)
  const address = ctx.clients.find(session)?.control.remoteAddress ?? 'embedded'
  const line = `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')} [${session.db} ${address}] ${redact(lower, argv)
    .map(repr)
    .join(' ')}`
  const reply: Reply = { type: 'simple', value: line }
  for (const m of monitors) m.control.push(reply)
}

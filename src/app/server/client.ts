/**
 * Per-connection application state: what Redis keeps in `client` besides the engine session —
 * protocol version, name, library info, authentication, MONITOR mode — and the registry of
 * connected clients that CLIENT LIST / KILL and INFO read.
 *
 * @category server
 */
import type { Session } from '../engine.js'
import type { ConnectionControl, Deferred } from '../../infra/net/tcpServer.js'
import type { Protocol } from '../../infra/resp/encoder.js'

export class Client {
  /** RESP version for this connection's replies: 2 until HELLO 3. */
  proto: Protocol = 2
  /** CLIENT SETNAME / HELLO SETNAME; empty when unset. */
  name = ''
  /** CLIENT SETINFO LIB-NAME / LIB-VER (Redis 7.2 semantics). */
  libName = ''
  libVer = ''
  /** Whether AUTH succeeded, or no password was required when the client connected. */
  authenticated: boolean
  /** Set by MONITOR: receives every command the server runs. */
  monitor = false
  /** Milliseconds since the epoch of the connection and of the last request. */
  readonly createdAt: number
  lastInteraction: number
  /** The last command, for CLIENT LIST `cmd=`: its name as sent and, for containers, the subcommand. */
  lastCommand = 'NULL'
  lastSubcommand: string | undefined = undefined
  /** True while this client's EXEC runs its queued commands (MONITOR refuses to start there). */
  inExec = false
  /** Bytes of the arguments queued in an open MULTI (client-query-buffer-limit counts them). */
  queuedBytes = 0
  /**
   * The reply of an asynchronous server command (SAVE, SHUTDOWN): its `run` sets this and
   * returns the ASYNC marker, and the dispatcher sends this instead.
   */
  pending: Deferred | undefined = undefined

  constructor(
    readonly session: Session,
    readonly control: ConnectionControl,
    authenticated: boolean,
    now: number,
  ) {
    this.authenticated = authenticated
    this.createdAt = now
    this.lastInteraction = now
  }

  get id(): number {
    return this.session.id
  }
}

/** Connected clients by id (Redis's `server.clients`), in connection order. */
export class ClientRegistry {
  private readonly byId = new Map<number, Client>()
  private readonly bySession = new WeakMap<Session, Client>()
  /** Clients in MONITOR mode. */
  readonly monitors = new Set<Client>()

  add(client: Client): void {
    this.byId.set(client.id, client)
    this.bySession.set(client.session, client)
  }

  remove(client: Client): void {
    this.byId.delete(client.id)
    this.monitors.delete(client)
  }

  /** The client owning an engine session (extension commands receive the session). */
  of(session: Session): Client {
    const client = this.bySession.get(session)
    if (client === undefined) throw new Error(`no client for session ${session.id}`)
    return client
  }

  /** The client owning a session, if any (the engine's embedded session has none). */
  find(session: Session): Client | undefined {
    return this.bySession.get(session)
  }

  get(id: number): Client | undefined {
    return this.byId.get(id)
  }

  get size(): number {
    return this.byId.size
  }

  all(): IterableIterator<Client> {
    return this.byId.values()
  }
}

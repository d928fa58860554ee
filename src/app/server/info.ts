/**
 * INFO: Redis's `# Section` / `key:value` report (server.c `genRedisInfoString`).
 *
 * Field names follow Redis 7.0 so tools that parse INFO keep working (ioredis reads `loading`;
 * redis-cli --stat reads clients, memory and keyspace). Values are real measurements of the
 * Node process and of Redust's engine; fields Redust cannot measure honestly (allocator
 * internals, keyspace hit ratios) are left out rather than faked. Redust-specific lines
 * (`redust_version`, `node_version`, `log_seq`) are added where they help operators.
 *
 * @category server
 */
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import type { ServerContext } from './context.js'
import { REDIS_VERSION } from './commands/connection.js'
import { isContainer } from './commandDocs.js'

type Fields = ReadonlyArray<readonly [string, string | number]>

/** Sections in Redis's order, and which of them each selector includes. */
const ALL_SECTIONS = [
  'server',
  'clients',
  'memory',
  'persistence',
  'stats',
  'replication',
  'cpu',
  'modules',
  'commandstats',
  'errorstats',
  'cluster',
  'keyspace',
] as const
type Section = (typeof ALL_SECTIONS)[number]

const DEFAULT_SECTIONS: ReadonlySet<Section> = new Set(['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'errorstats', 'cluster', 'keyspace'])

const TITLES: Record<Section, string> = {
  server: 'Server',
  clients: 'Clients',
  memory: 'Memory',
  persistence: 'Persistence',
  stats: 'Stats',
  replication: 'Replication',
  cpu: 'CPU',
  modules: 'Modules',
  commandstats: 'Commandstats',
  errorstats: 'Errorstats',
  cluster: 'Cluster',
  keyspace: 'Keyspace',
}

/** Resolves INFO's arguments (case-insensitive; `default`, `all`, `everything`) to sections. */
export const selectSections = (args: ReadonlyArray<string>): ReadonlySet<Section> => {
  if (args.length === 0) return DEFAULT_SECTIONS
  const out = new Set<Section>()
  for (const raw of args) {
    const name = raw.toLowerCase()
    if (name === 'default') DEFAULT_SECTIONS.forEach((s) => out.add(s))
    else if (name === 'all' || name === 'everything') ALL_SECTIONS.forEach((s) => out.add(s))
    else if ((ALL_SECTIONS as ReadonlyArray<string>).includes(name)) out.add(name as Section)
  }
  return out
}

const human = (bytes: number): string => {
  const units = ['B', 'K', 'M', 'G', 'T', 'P']
  let v = bytes
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${bytes}B` : `${v.toFixed(2)}${units[u]}`
}

let peakMemory = 0

const sectionFields = (ctx: ServerContext, section: Section): Fields => {
  const now = Date.now()
  switch (section) {
    case 'server': {
      const uptime = Math.floor((now - ctx.startedAt) / 1000)
      return [
        ['redis_version', REDIS_VERSION],
        ['redust_version', ctx.version],
        ['redis_mode', 'standalone'],
        ['os', `${os.type()} ${os.release()} ${os.arch()}`],
        ['arch_bits', process.arch.endsWith('64') ? 64 : 32],
        ['multiplexing_api', 'libuv'],
        ['node_version', process.versions.node],
        ['process_id', process.pid],
        ['process_supervised', 'no'],
        ['run_id', ctx.runId],
        ['tcp_port', ctx.tcpPort()],
        ['server_time_usec', Math.floor((performance.timeOrigin + performance.now()) * 1000)],
        ['uptime_in_seconds', uptime],
        ['uptime_in_days', Math.floor(uptime / 86400)],
        ['executable', process.argv[1] ?? ''],
        ['config_file', ctx.configFile],
        ['io_threads_active', 0],
      ]
    }
    case 'clients': {
      const net = ctx.net()
      return [
        ['connected_clients', ctx.clients.size],
        ['cluster_connections', 0],
        ['maxclients', ctx.config.settings.maxclients],
        ['client_recent_max_input_buffer', net.recentMaxInputBuffer],
        ['client_recent_max_output_buffer', net.recentMaxOutputBuffer],
        ['blocked_clients', 0],
        ['tracking_clients', 0],
        ['clients_in_timeout_table', 0],
      ]
    }
    case 'memory': {
      const m = process.memoryUsage()
      const used = m.heapUsed + m.external + m.arrayBuffers
      peakMemory = Math.max(peakMemory, used)
      return [
        ['used_memory', used],
        ['used_memory_human', human(used)],
        ['used_memory_rss', m.rss],
        ['used_memory_rss_human', human(m.rss)],
        ['used_memory_peak', peakMemory],
        ['used_memory_peak_human', human(peakMemory)],
        ['used_memory_heap_total', m.heapTotal],
        ['total_system_memory', os.totalmem()],
        ['total_system_memory_human', human(os.totalmem())],
        ['maxmemory', 0],
        ['maxmemory_human', '0B'],
        ['maxmemory_policy', 'noeviction'],
        ['mem_allocator', 'v8'],
      ]
    }
    case 'persistence':
      return [['loading', 0], ['async_loading', 0], ...ctx.persistence.info()]
    case 'stats': {
      const net = ctx.net()
      const e = ctx.engine.stats
      return [
        ['total_connections_received', net.totalConnections],
        ['total_commands_processed', e.commandsProcessed],
        ['instantaneous_ops_per_sec', Math.round(ctx.rates.ops.rate())],
        ['total_net_input_bytes', net.netInputBytes],
        ['total_net_output_bytes', net.netOutputBytes],
        ['instantaneous_input_kbps', (ctx.rates.input.rate() / 1024).toFixed(2)],
        ['instantaneous_output_kbps', (ctx.rates.output.rate() / 1024).toFixed(2)],
        ['rejected_connections', net.rejectedConnections],
        ['expired_keys', e.expiredKeys],
        ['evicted_keys', 0],
        ['pubsub_channels', 0],
        ['pubsub_patterns', 0],
        ['total_error_replies', ctx.stats.errorReplies],
        ['total_reads_processed', net.readsProcessed],
        ['total_writes_processed', net.writesProcessed],
        ['log_records_appended', e.recordsAppended],
        ['log_events_appended', e.eventsAppended],
        ['log_rejected_writes', e.rejectedWrites],
        ['log_seq', ctx.engine.seq],
      ]
    }
    case 'replication':
      return [
        ['role', 'master'],
        ['connected_slaves', 0],
        ['master_failover_state', 'no-failover'],
        ['master_replid', ctx.runId],
        ['master_replid2', '0000000000000000000000000000000000000000'],
        ['master_repl_offset', 0],
        ['second_repl_offset', -1],
        ['repl_backlog_active', 0],
      ]
    case 'cpu': {
      const cpu = process.cpuUsage()
      const sys = (cpu.system / 1e6).toFixed(6)
      const user = (cpu.user / 1e6).toFixed(6)
      return [
        ['used_cpu_sys', sys],
        ['used_cpu_user', user],
        ['used_cpu_sys_children', '0.000000'],
        ['used_cpu_user_children', '0.000000'],
        ['used_cpu_sys_main_thread', sys],
        ['used_cpu_user_main_thread', user],
      ]
    }
    case 'modules':
    case 'cluster':
      return section === 'cluster' ? [['cluster_enabled', 0]] : []
    case 'commandstats':
      return commandStats(ctx)
    case 'errorstats':
      return [...ctx.stats.errorCodes].map(([code, count]) => [`errorstat_${code}`, `count=${count}`] as const)
    case 'keyspace':
      return ctx.engine.keyspaceInfo().map(({ db, keys, expires }) => [`db${db}`, `keys=${keys},expires=${expires},avg_ttl=0`] as const)
    default: {
      const never: never = section
      return never
    }
  }
}

const commandStats = (ctx: ServerContext): Fields => {
  const s = ctx.stats
  const line = (name: string, calls: number): readonly [string, string] => {
    const usec = Math.round(s.micros.get(name) ?? 0)
    const perCall = calls === 0 ? 0 : usec / calls
    return [
      `cmdstat_${name}`,
      `calls=${calls},usec=${usec},usec_per_call=${perCall.toFixed(2)},rejected_calls=${s.rejected.get(name) ?? 0},failed_calls=${s.failed.get(name) ?? 0}`,
    ]
  }
  const out: Array<readonly [string, string]> = []
  for (const [name, calls] of ctx.engine.stats.commandCalls) {
    const meta = ctx.lookup(name)
    if (meta === undefined) continue // unknown commands are not commands
    if (isContainer(meta)) continue // reported per subcommand below
    out.push(line(name, calls))
  }
  for (const [name, calls] of s.subcommandCalls) out.push(line(name, calls))
  return out
}

/** The INFO text for the given arguments (sections separated by blank lines, CRLF endings). */
export const infoText = (ctx: ServerContext, args: ReadonlyArray<string>): string => {
  const wanted = selectSections(args)
  let text = ''
  let first = true
  for (const section of ALL_SECTIONS) {
    if (!wanted.has(section)) continue
    if (!first) text += '\r\n'
    first = false
    text += `# ${TITLES[section]}\r\n`
    for (const [k, v] of sectionFields(ctx, section)) text += `${k}:${v}\r\n`
  }
  return text
}

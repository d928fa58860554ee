/**
 * The inspection commands of the `redust` CLI: see, verify, repair and travel through the log.
 *
 * ```
 * redust log show     [--dir D] [--db N] [--key K | --match GLOB] [--type EVENT]… [--from-seq A] [--to-seq B]
 *                     [--since T] [--until T] [--json] [--follow [--interval MS]] [--max-value BYTES]
 * redust log stats    [--dir D] [--json] [--top N] [--buckets N]
 * redust log verify   [--dir D] [--fix] [--truncate-to SEQ] [--json]
 * redust replay       (--until-seq N | --until T) --out DIR [--dir D] [--quiet]
 * redust history KEY  [--dir D] [--db N] [--json]
 * redust diff         --from A --to B [--dir D] [--db N] [--json]
 * redust dump         [--at POINT] [--dir D] [--db N] [--json]
 * ```
 *
 * Every command reads the data directory (`--dir`, default `./data`) offline or read-only beside a
 * running server; only `log verify --fix/--truncate-to` writes (stop the server first), and
 * `replay` writes its own new directory. Exit codes: 0 ok, 1 damaged data or failure, 2 usage
 * (./io.ts). Keys given on the command line are taken as their UTF-8 bytes.
 *
 * The composition root registers them with one call: `registerInspectCommands(program)`.
 *
 * @category cli
 */
import { Command, Option, type CommanderError } from 'commander'
import { EVENT_TYPES, type EventType } from '../../../domain/event.js'
import { textToBytes } from '../../../domain/primitives.js'
import { EXIT_USAGE, runAction, usage, type Io } from './io.js'
import { parseCount, parseDb, parsePoint, parseTime, type Point } from './points.js'

// The command bodies (and cli-table3, cli-progress) load only when their command runs, so
// registering them costs `redust serve` nothing at start-up.
const history = async (...a: Parameters<typeof import('./history.js').history>) => (await import('./history.js')).history(...a)
const replay = async (...a: Parameters<typeof import('./replay.js').replay>) => (await import('./replay.js')).replay(...a)
const logShow = async (...a: Parameters<typeof import('./show.js').logShow>) => (await import('./show.js')).logShow(...a)
const diff = async (...a: Parameters<typeof import('./state.js').diff>) => (await import('./state.js')).diff(...a)
const dump = async (...a: Parameters<typeof import('./state.js').dump>) => (await import('./state.js')).dump(...a)
const logStats = async (...a: Parameters<typeof import('./stats.js').logStats>) => (await import('./stats.js')).logStats(...a)
const logVerify = async (...a: Parameters<typeof import('./verify.js').logVerify>) => (await import('./verify.js')).logVerify(...a)

const DEFAULT_DIR = './data'
const DEFAULT_MAX_VALUE = '64'

/** Usage errors from commander itself (unknown option, missing argument) exit with code 2. */
const onCommanderExit = (err: CommanderError): never => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE)

const configure = (cmd: Command): Command =>
  cmd.exitOverride(onCommanderExit).showHelpAfterError('(add --help for usage)').allowExcessArguments(false)

const collect = (value: string, previous: string[]): string[] => [...previous, value]

const dirOption = (cmd: Command): Command => cmd.option('--dir <dir>', 'data directory', DEFAULT_DIR)
const jsonOption = (cmd: Command, what: string): Command => cmd.option('--json', what)
const maxValueOption = (cmd: Command): Command =>
  cmd.option('--max-value <bytes>', 'cut values longer than this in text output (0: never)', DEFAULT_MAX_VALUE)

interface Raw {
  readonly [option: string]: string | boolean | string[] | undefined
}

const str = (o: Raw, name: string): string | undefined => {
  const v = o[name]
  return typeof v === 'string' ? v : undefined
}

const parseTypes = (values: ReadonlyArray<string>): ReadonlySet<EventType> | undefined => {
  if (values.length === 0) return undefined
  const byLower = new Map(EVENT_TYPES.map((t) => [t.toLowerCase(), t]))
  const out = new Set<EventType>()
  for (const v of values.flatMap((x) => x.split(','))) {
    const t = byLower.get(v.trim().toLowerCase())
    if (t === undefined) throw usage(`--type: unknown event type ${JSON.stringify(v)} (one of ${EVENT_TYPES.join(', ')})`)
    out.add(t)
  }
  return out
}

const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

/** Runs a command body with parsing errors reported like any other (exit 2). */
const act = async (body: (io: Io) => Promise<number | void>): Promise<void> => {
  await runAction(body)
}

export const registerInspectCommands = (program: Command): void => {
  // ---------------------------------------------------------------------------------- log
  const log = configure(program.command('log').description('see and check the event log (show, stats, verify)'))

  const show = configure(log.command('show').description('print the events of the log, one per line'))
  dirOption(show)
    .option('--db <n>', 'only events concerning this database')
    .addOption(new Option('--key <key>', 'only events naming this key').conflicts('match'))
    .addOption(new Option('--match <pattern>', 'only events naming a key matching this glob (KEYS syntax)').conflicts('key'))
    .option('--type <event>', `only these event types (repeat or comma-separate): ${EVENT_TYPES.join(', ')}`, collect, [])
    .option('--from-seq <seq>', 'first record seq')
    .option('--to-seq <seq>', 'last record seq')
    .option('--since <time>', 'records at or after this time (ISO-8601 or epoch ms)')
    .option('--until <time>', 'records at or before this time (ISO-8601 or epoch ms)')
    .option('--follow', 'keep printing new records as a running server appends them (Ctrl-C stops)')
    .option('--interval <ms>', 'poll period of --follow', '500')
  jsonOption(show, 'one JSON object per event (NDJSON)')
  maxValueOption(show).action((o: Raw) =>
    act((io) => {
      const interval = parseCount(str(o, 'interval')!, '--interval')
      return logShow(
        str(o, 'dir')!,
        {
          ...opt('db', str(o, 'db') === undefined ? undefined : parseDb(str(o, 'db')!)),
          ...opt('key', str(o, 'key') === undefined ? undefined : textToBytes(str(o, 'key')!)),
          ...opt('match', str(o, 'match') === undefined ? undefined : textToBytes(str(o, 'match')!)),
          ...opt('types', parseTypes((o['type'] as string[] | undefined) ?? [])),
          ...opt('fromSeq', str(o, 'fromSeq') === undefined ? undefined : parseCount(str(o, 'fromSeq')!, '--from-seq')),
          ...opt('toSeq', str(o, 'toSeq') === undefined ? undefined : parseCount(str(o, 'toSeq')!, '--to-seq')),
          ...opt('since', str(o, 'since') === undefined ? undefined : parseTime(str(o, 'since')!, '--since')),
          ...opt('until', str(o, 'until') === undefined ? undefined : parseTime(str(o, 'until')!, '--until')),
          json: o['json'] === true,
          follow: o['follow'] === true,
          interval: Math.max(10, interval),
          maxValue: parseCount(str(o, 'maxValue')!, '--max-value'),
        },
        io,
      )
    }),
  )

  const stats = configure(log.command('stats').description('records, events by type, ranges, bytes, top keys and write rate'))
  dirOption(stats)
    .option('--top <n>', 'how many keys to list', '10')
    .option('--buckets <n>', 'buckets of the write-rate sparkline', '40')
  jsonOption(stats, 'one JSON object')
  maxValueOption(stats).action((o: Raw) =>
    act((io) =>
      logStats(
        str(o, 'dir')!,
        {
          json: o['json'] === true,
          top: parseCount(str(o, 'top')!, '--top'),
          buckets: Math.max(1, parseCount(str(o, 'buckets')!, '--buckets')),
          maxValue: parseCount(str(o, 'maxValue')!, '--max-value'),
        },
        io,
      ),
    ),
  )

  const verify = configure(
    log
      .command('verify')
      .description('check every checksum, the seq continuity, the manifest and the snapshot (exit 0 intact, 1 damaged, 2 usage)'),
  )
  dirOption(verify)
    .option('--fix', 'truncate a torn tail (after a backup), like redis-check-aof --fix; stop the server first')
    .option('--truncate-to <seq>', 'keep records up to this seq and drop the rest (after backups), even past mid-log damage')
  jsonOption(verify, 'the report as one JSON object').action((o: Raw) =>
    act((io) =>
      logVerify(
        str(o, 'dir')!,
        {
          fix: o['fix'] === true,
          json: o['json'] === true,
          ...opt('truncateTo', str(o, 'truncateTo') === undefined ? undefined : parseCount(str(o, 'truncateTo')!, '--truncate-to')),
        },
        io,
      ),
    ),
  )

  // ---------------------------------------------------------------------------------- replay
  const rep = configure(
    program
      .command('replay')
      .description('point-in-time recovery: write a new data directory holding the state at a seq or a time'),
  )
  dirOption(rep)
    .addOption(new Option('--until-seq <seq>', 'the state after this record').conflicts('until'))
    .addOption(new Option('--until <time>', 'the state at this time (ISO-8601 or epoch ms)').conflicts('untilSeq'))
    .requiredOption('--out <dir>', 'the new data directory (must not exist, or be empty)')
    .option('--quiet', 'no progress bar and no hint')
    .action((o: Raw) =>
      act((io) => {
        const untilSeq = str(o, 'untilSeq')
        const until = str(o, 'until')
        if (untilSeq === undefined && until === undefined) throw usage('replay: give --until-seq SEQ or --until TIME')
        const point: Point =
          untilSeq !== undefined ? { kind: 'seq', seq: parseCount(untilSeq, '--until-seq') } : { kind: 'time', at: parseTime(until!, '--until') }
        return replay(str(o, 'dir')!, { point, out: str(o, 'out')!, quiet: o['quiet'] === true }, io)
      }),
    )

  // ---------------------------------------------------------------------------------- history
  const hist = configure(program.command('history').description('every event that touched a key, with its time'))
  dirOption(hist.argument('<key>', 'the key (its UTF-8 bytes)')).option('--db <n>', 'only this database (default: all)')
  jsonOption(hist, 'one JSON object per event (NDJSON)')
  maxValueOption(hist).action((key: string, o: Raw) =>
    act((io) =>
      history(
        str(o, 'dir')!,
        textToBytes(key),
        {
          ...opt('db', str(o, 'db') === undefined ? undefined : parseDb(str(o, 'db')!)),
          json: o['json'] === true,
          maxValue: parseCount(str(o, 'maxValue')!, '--max-value'),
        },
        io,
      ),
    ),
  )

  // ---------------------------------------------------------------------------------- diff
  const dif = configure(
    program.command('diff').description('keys added, changed and removed between two points (a seq, an ISO time or @epoch-ms)'),
  )
  dirOption(dif)
    .requiredOption('--from <point>', 'the earlier point')
    .requiredOption('--to <point>', 'the later point')
    .option('--db <n>', 'only this database')
  jsonOption(dif, 'one JSON object per key (NDJSON)')
  maxValueOption(dif).action((o: Raw) =>
    act((io) =>
      diff(
        str(o, 'dir')!,
        {
          from: parsePoint(str(o, 'from')!, '--from'),
          to: parsePoint(str(o, 'to')!, '--to'),
          ...opt('db', str(o, 'db') === undefined ? undefined : parseDb(str(o, 'db')!)),
          json: o['json'] === true,
          maxValue: parseCount(str(o, 'maxValue')!, '--max-value'),
        },
        io,
      ),
    ),
  )

  // ---------------------------------------------------------------------------------- dump
  const dmp = configure(program.command('dump').description('print the state at a point (default: the end of the log)'))
  dirOption(dmp)
    .option('--at <point>', 'a seq, an ISO time or @epoch-ms (default: the end of the log)')
    .option('--db <n>', 'only this database')
  jsonOption(dmp, 'one JSON object per key, as in snapshots (NDJSON)')
  maxValueOption(dmp).action((o: Raw) =>
    act((io) =>
      dump(
        str(o, 'dir')!,
        {
          at: str(o, 'at') === undefined ? { kind: 'end' } : parsePoint(str(o, 'at')!, '--at'),
          ...opt('db', str(o, 'db') === undefined ? undefined : parseDb(str(o, 'db')!)),
          json: o['json'] === true,
          maxValue: parseCount(str(o, 'maxValue')!, '--max-value'),
        },
        io,
      ),
    ),
  )
}

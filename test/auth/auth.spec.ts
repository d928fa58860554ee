/**
 * The auth matrix (issue 7; DURABILITY.md §7.7 and §9 test 15; CLIENTS.md §4) against the real
 * `redust` binary running with `--requirepass`:
 * - every command of the server's own table (`COMMAND`), and every subcommand of CLIENT, CONFIG
 *   and COMMAND, sent with a valid arity by a client that has not authenticated, answers
 *   `-NOAUTH Authentication required.` — except AUTH, HELLO and QUIT (and RESET, which Redis 7
 *   also flags `no_auth`); when a real redis-server is installed, every one of those replies is
 *   also compared byte for byte with Redis 7.0.15's;
 * - a wrong password gets `-WRONGPASS invalid username-password pair or user is disabled.`;
 * - unauthenticated clients are limited to multibulk ≤ 10 and bulk ≤ 16384 (CVE-2021-32675);
 * - no client — authenticated or not — can change the data directory or the log/pid file paths.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haveRedis, rawExchange, RespConn, RespError, startRedis, startRedust, type Reply, type ServerProcess } from '../crash/support.js'

const PASS = 's3cret-pw'
const NOAUTH = 'NOAUTH Authentication required.'
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.'
const EXEMPT = new Set(['auth', 'hello', 'quit', 'reset'])

let server: ServerProcess
let redis: ServerProcess | undefined
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'redust-auth-'))
  const [s, r] = await Promise.all([
    startRedust(['--dir', dir, '--requirepass', PASS, '--appendfsync', 'everysec']),
    haveRedis() ? startRedis(['--requirepass', PASS]) : Promise.resolve(undefined),
  ])
  server = s
  redis = r
  if (redis === undefined) console.log('auth matrix: /usr/bin/redis-server not found, the byte-for-byte comparison with Redis is skipped')
})

afterAll(async () => {
  await server?.kill()
  await redis?.kill()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

const authed = async (port: number): Promise<RespConn> => {
  const c = await RespConn.connect(port)
  const r = await c.call('AUTH', PASS)
  if (r !== 'OK') throw new Error(`AUTH: ${JSON.stringify(r)}`)
  return c
}

const msg = (r: Reply): string => (r instanceof RespError ? `-${r.message}` : JSON.stringify(r))

/** Arguments that satisfy an arity (Redis: n > 0 exactly n words, n < 0 at least -n). */
const withArity = (words: string[], arity: number): string[] => {
  const need = arity > 0 ? arity : -arity
  const out = [...words]
  while (out.length < need) out.push(`x${out.length}`)
  return out
}

interface Probe {
  readonly name: string
  readonly argv: string[]
}

/** Every command and subcommand of the table, as a request with a valid arity. */
const probes = async (): Promise<Probe[]> => {
  const c = await authed(server.port)
  const table = (await c.call('COMMAND')) as Reply[]
  c.close()
  const out: Probe[] = []
  for (const entry of table) {
    const e = entry as Reply[]
    const name = e[0] as string
    const arity = e[1] as number
    const subs = (e[9] ?? []) as Reply[][]
    if (subs.length > 0) {
      for (const s of subs) {
        const full = s[0] as string
        const sub = full.slice(full.indexOf('|') + 1)
        out.push({ name: full, argv: withArity([name, sub], s[1] as number) })
      }
    } else {
      out.push({ name, argv: withArity([name], arity) })
    }
  }
  return out
}

describe('auth matrix (requirepass set)', () => {
  it('every command except AUTH/HELLO/QUIT (and RESET) answers NOAUTH before AUTH', async () => {
    const list = await probes()
    expect(list.length).toBeGreaterThan(50)
    let c = await RespConn.connect(server.port)
    const wrong: string[] = []
    let checked = 0
    for (const p of list) {
      if (EXEMPT.has(p.name)) continue
      if (c.closed) c = await RespConn.connect(server.port)
      const r = await c.call(...p.argv)
      checked++
      const ok = r instanceof RespError && (r.message === NOAUTH || (p.name === 'exec' && r.message === `EXECABORT Transaction discarded because of: ${NOAUTH}`))
      if (!ok) wrong.push(`${p.argv.join(' ')} → ${msg(r)}`)
    }
    // nothing ran: the keyspace is still empty
    const a = await authed(server.port)
    expect(await a.call('DBSIZE')).toBe(0)
    a.close()
    c.close()
    console.log(`auth matrix: ${checked} commands/subcommands answered NOAUTH unauthenticated (${list.length} in the table)`)
    expect(wrong).toEqual([])
  })

  // Reason for skipIf: the two comparisons below need a real redis-server, which `npm ci && npm test`
  // on a bare machine does not have. CI installs it, and the next test fails there if it is missing.
  it('has redis-server for the byte-for-byte comparisons when run in CI', () => {
    if (process.env.CI === 'true') expect(haveRedis()).toBe(true)
  })

  it.skipIf(!haveRedis())('unauthenticated replies match Redis 7.0.15 byte for byte, exempt commands included', async () => {
    const list = await probes()
    const diffs: string[] = []
    const extensions: string[] = []
    let compared = 0
    for (const p of list) {
      if (p.name === 'quit' || p.name === 'shutdown' || p.name === 'monitor') continue
      // one fresh connection per probe on each side: HELLO/RESET change the connection state
      const [a, b] = await Promise.all([RespConn.connect(server.port), RespConn.connect(redis!.port)])
      const [ra, rb] = await Promise.all([a.call(...p.argv), b.call(...p.argv)])
      a.close()
      b.close()
      if (rb instanceof RespError && /^ERR unknown (sub)?command/.test(rb.message)) {
        extensions.push(p.name) // a Redust command Redis 7.0.15 does not have
        continue
      }
      compared++
      if (msg(ra) !== msg(rb)) diffs.push(`${p.argv.join(' ')}: redust ${msg(ra)} / redis ${msg(rb)}`)
    }
    console.log(`auth matrix vs redis-server: ${compared} requests compared, ${diffs.length} differences; not in Redis 7.0.15: ${extensions.join(', ')}`)
    expect(diffs).toEqual([])
  })

  it('MULTI, inline commands and pipelines are refused too; a pipelined AUTH unlocks what follows it', async () => {
    const r = await rawExchange(server.port, Buffer.from('GET k\r\nMULTI\r\n*1\r\n$4\r\nPING\r\n'), { quietMs: 200 })
    expect(r.text).toBe(`-${NOAUTH}\r\n-${NOAUTH}\r\n-${NOAUTH}\r\n`)
    const r2 = await rawExchange(server.port, Buffer.from(`GET k\r\nAUTH ${PASS}\r\nGET k\r\n`), { quietMs: 200 })
    expect(r2.text).toBe(`-${NOAUTH}\r\n+OK\r\n$-1\r\n`)
  })

  it('a wrong password gets WRONGPASS and the connection stays unauthenticated', async () => {
    const c = await RespConn.connect(server.port)
    expect(msg(await c.call('AUTH', 'nope'))).toBe(`-${WRONGPASS}`)
    expect(msg(await c.call('AUTH', 'default', 'nope'))).toBe(`-${WRONGPASS}`)
    expect(msg(await c.call('AUTH', 'someone', PASS))).toBe(`-${WRONGPASS}`)
    expect(msg(await c.call('HELLO', '3', 'AUTH', 'default', 'nope'))).toBe(`-${WRONGPASS}`)
    expect(msg(await c.call('GET', 'k'))).toBe(`-${NOAUTH}`)
    expect(msg(await c.call('HELLO', '2'))).toBe(
      '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    )
    expect(await c.call('AUTH', 'default', PASS)).toBe('OK')
    expect(await c.call('GET', 'k')).toBe(null)
    c.close()
  })

  it('unauthenticated clients are limited to multibulk ≤ 10 and bulk ≤ 16384, with Redis texts', async () => {
    const mb = await rawExchange(server.port, Buffer.from('*11\r\n'), { quietMs: 500 })
    expect(mb).toEqual({ text: '-ERR Protocol error: unauthenticated multibulk length\r\n', closed: true })
    const bulk = await rawExchange(server.port, Buffer.from('*1\r\n$16385\r\n'), { quietMs: 500 })
    expect(bulk).toEqual({ text: '-ERR Protocol error: unauthenticated bulk length\r\n', closed: true })
    // at the limits: accepted (NOAUTH)
    const ok = await rawExchange(server.port, Buffer.from(`*2\r\n$3\r\nGET\r\n$16384\r\n${'a'.repeat(16384)}\r\n`), { quietMs: 300 })
    expect(ok.text).toBe(`-${NOAUTH}\r\n`)
  })
})

describe('regressions found by the auth matrix', () => {
  // Redis's rejectCommand(): a refused EXEC aborts the transaction state and answers
  // "EXECABORT Transaction discarded because of: <error>", in or out of MULTI (networking.c /
  // server.c processCommand → rejectCommand → execCommandAbort). Measured on redis-server 7.0.15.
  it('bug P1: a refused EXEC answers EXECABORT with the refusal (NOAUTH, arity), as Redis does', async () => {
    const un = await RespConn.connect(server.port)
    expect(msg(await un.call('EXEC'))).toBe(`-EXECABORT Transaction discarded because of: ${NOAUTH}`)
    un.close()
    const c = await authed(server.port)
    expect(msg(await c.call('EXEC', 'x'))).toBe("-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
    c.close()
  })

  // Redis 7.0.15: COMMAND INFO command|getkeys → arity -4 (and getkeysandflags -4);
  // `COMMAND GETKEYS get` → "ERR wrong number of arguments for 'command|getkeys' command".
  it('bug P2: COMMAND GETKEYS / GETKEYSANDFLAGS have arity -4 as in Redis 7.0.15', async () => {
    const c = await authed(server.port)
    expect(msg(await c.call('COMMAND', 'GETKEYS', 'get'))).toBe("-ERR wrong number of arguments for 'command|getkeys' command")
    expect(msg(await c.call('COMMAND', 'GETKEYSANDFLAGS', 'get'))).toBe("-ERR wrong number of arguments for 'command|getkeysandflags' command")
    c.close()
  })
})

describe('persistence paths cannot be changed by any client', () => {
  const PATHS = ['dir', 'dbfilename', 'appendfilename', 'appenddirname', 'logfile', 'pidfile', 'DIR', 'Dir', 'aclfile', 'unixsocket']

  it('CONFIG SET of a path is refused before and after AUTH; CONFIG GET dir is unchanged', async () => {
    const un = await RespConn.connect(server.port)
    const c = await authed(server.port)
    const before = await c.call('CONFIG', 'GET', 'dir')
    for (const p of PATHS) {
      expect(msg(await un.call('CONFIG', 'SET', p, '/tmp/evil'))).toBe(`-${NOAUTH}`)
      const r = await c.call('CONFIG', 'SET', p, '/tmp/evil')
      expect(r, `CONFIG SET ${p}`).toBeInstanceOf(RespError)
    }
    // a path hidden among mutable parameters refuses the whole call, nothing is applied
    const multi = await c.call('CONFIG', 'SET', 'timeout', '7', 'dir', '/tmp/evil')
    expect(multi).toBeInstanceOf(RespError)
    expect(await c.call('CONFIG', 'GET', 'timeout')).toEqual(['timeout', '0'])
    expect(await c.call('CONFIG', 'GET', 'dir')).toEqual(before)
    expect((before as string[])[1]).toBe(dir)
    // writes still go to the original directory: they survive a restart there
    expect(await c.call('SET', 'still-here', '1')).toBe('OK')
    un.close()
    c.close()
  })

  // skipIf reason: needs a real redis-server (see the CI guard above).
  it.skipIf(!haveRedis())('the refusals are worded as Redis 7.0.15 words them (bug P3: logfile/pidfile)', async () => {
    const a = await authed(server.port)
    const b = await authed(redis!.port)
    const diffs: string[] = []
    // Directives both servers know; Redust has no dbfilename/appendfilename/appenddirname/aclfile/unixsocket
    // (it answers "Unknown option", which refuses too).
    for (const p of ['dir', 'DIR', 'logfile', 'pidfile']) {
      const [ra, rb] = await Promise.all([a.call('CONFIG', 'SET', p, '/tmp/evil'), b.call('CONFIG', 'SET', p, '/tmp/evil')])
      if (msg(ra) !== msg(rb)) diffs.push(`CONFIG SET ${p}: redust ${msg(ra)} / redis ${msg(rb)}`)
    }
    a.close()
    b.close()
    expect(diffs).toEqual([])
  })
})

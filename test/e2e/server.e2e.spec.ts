/**
 * Raw-socket end-to-end tests: exact reply bytes over TCP, in RESP2 and RESP3, against an
 * in-process server on port 0. Expected bytes are Redis 7.0.15's (CLIENTS.md §3, §4, §8).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { RedustServer } from '../../src/app/server/server.js'
import { cmd, eventually, helloBytes, ManualLog, RawClient, startTestServer } from './support.js'

let server: RedustServer
const open: RawClient[] = []
const connect = async (s: RedustServer = server): Promise<RawClient> => {
  const c = await RawClient.connect(s.port)
  open.push(c)
  return c
}
/** The id the server gave a connection (CLIENT ID), needed to predict HELLO's bytes. */
const idOf = async (c: RawClient): Promise<number> => {
  c.send('CLIENT ID\r\n')
  const line = await c.until((t) => t.endsWith('\r\n'))
  c.pending()
  await c.read(line.length)
  return Number(line.slice(1, -2))
}

beforeAll(async () => {
  server = await startTestServer()
})
afterEach(() => {
  for (const c of open.splice(0)) c.close()
})
afterAll(async () => {
  await server.close()
})

// ---------------------------------------------------------------------------------------------
// framing
// ---------------------------------------------------------------------------------------------

describe('framing', () => {
  it('answers inline PINGs with or without CR, ignores blank lines and trims blanks', async () => {
    const c = await connect()
    expect(await c.roundTrip('PING\r\nPING\n\r\n  PING  \r\n', '+PONG\r\n'.repeat(3))).toBe('+PONG\r\n'.repeat(3))
  })

  it('reassembles a command sent one byte per write', async () => {
    const c = await connect()
    for (const ch of cmd('SET', 'split', 'v')) c.send(ch)
    expect(await c.read(5)).toBe('+OK\r\n')
    expect(await c.roundTrip(cmd('GET', 'split'), '$1\r\nv\r\n')).toBe('$1\r\nv\r\n')
  })

  it('answers a burst of 1000 pipelined commands in order', async () => {
    const c = await connect()
    const expected = Array.from({ length: 1000 }, (_, i) => `:${i + 1}\r\n`).join('')
    expect(await c.roundTrip(cmd('INCR', 'burst').repeat(1000), expected)).toBe(expected)
  })

  it('mixes inline and multibulk commands on one connection', async () => {
    const c = await connect()
    expect(await c.roundTrip(`ECHO "a b"\r\n${cmd('ECHO', 'c')}PING\r\n`, '$3\r\na b\r\n$1\r\nc\r\n+PONG\r\n')).toBe(
      '$3\r\na b\r\n$1\r\nc\r\n+PONG\r\n',
    )
  })

  it('echoes every byte value unchanged', async () => {
    const c = await connect()
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1')
    expect(await c.roundTrip(cmd('ECHO', bytes), `$256\r\n${bytes}\r\n`)).toBe(`$256\r\n${bytes}\r\n`)
  })

  it('stores and returns binary keys and values byte for byte', async () => {
    const c = await connect()
    const key = '\x00\xff\r\nkey'
    const value = '\x00\r\n\xff\xc3\x28'
    await c.roundTrip(cmd('SET', key, value), '+OK\r\n')
    expect(await c.roundTrip(cmd('GET', key), `$6\r\n${value}\r\n`)).toBe(`$6\r\n${value}\r\n`)
  })
})

// ---------------------------------------------------------------------------------------------
// protocol errors close only the offending connection
// ---------------------------------------------------------------------------------------------

describe('protocol errors', () => {
  it("reply with Redis's text and close the connection", async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['*1\r\n+PING\r\n', "-ERR Protocol error: expected '$', got '+'\r\n"],
      ['*1\r\nfoo\r\n', "-ERR Protocol error: expected '$', got 'f'\r\n"],
      ['*3000000000\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
      ['*1\r\n$-10\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
      ['*1\r\n$blabla\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
      ['ECHO "a"b\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n'],
    ]
    for (const [request, reply] of cases) {
      const c = await connect()
      c.send(request)
      expect(await c.untilClosed()).toBe(reply)
    }
  })

  it('refuse a bulk length over proto-max-bulk-len (512 MiB) before reading the payload', async () => {
    const c = await connect()
    c.send('*2\r\n$3\r\nSET\r\n$536870913\r\n')
    expect(await c.untilClosed()).toBe('-ERR Protocol error: invalid bulk length\r\n')
  })

  it('refuse an inline request longer than 64 KiB', async () => {
    const c = await connect()
    c.send('A'.repeat(70_000))
    expect(await c.untilClosed()).toBe('-ERR Protocol error: too big inline request\r\n')
  })

  it('still answer the commands that came before the bad frame, and leave other connections alone', async () => {
    const good = await connect()
    const bad = await connect()
    bad.send(`PING\r\n${cmd('SET', 'before-error', '1')}*1\r\n+x\r\n`)
    expect(await bad.untilClosed()).toBe("+PONG\r\n+OK\r\n-ERR Protocol error: expected '$', got '+'\r\n")
    expect(await good.roundTrip(cmd('GET', 'before-error'), '$1\r\n1\r\n')).toBe('$1\r\n1\r\n')
  })

  it('close the connection on a protocol desync (a NUL hiding the line end), as Redis protocol.tcl checks', async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['\x00', '-ERR Protocol error: too big inline request\r\n'],
      ['*\x00', '-ERR Protocol error: too big mbulk count string\r\n'],
      ['$\x00', '-ERR Protocol error: too big inline request\r\n'],
    ]
    for (const [start, reply] of cases) {
      const c = await connect()
      c.send(start + `${'A'.repeat(1024)}\n`.repeat(100))
      expect(await c.untilClosed()).toBe(reply)
    }
  })

  it('treat *0 and negative counts as empty requests', async () => {
    const c = await connect()
    expect(await c.roundTrip('*0\r\n*-10\r\nPING\r\n', '+PONG\r\n')).toBe('+PONG\r\n')
  })
})

// ---------------------------------------------------------------------------------------------
// RESP2 / RESP3
// ---------------------------------------------------------------------------------------------

describe('HELLO and protocol versions', () => {
  it('switches to RESP3: the map of CLIENTS.md §3, then _ for nulls', async () => {
    const c = await connect()
    const id = await idOf(c)
    const expected = `${helloBytes(id, 3)}_\r\n`
    expect(await c.roundTrip(`HELLO 3\r\n${cmd('GET', 'missing')}`, expected)).toBe(expected)
  })

  it('answers HELLO 2 with the flat array and keeps $-1 nulls', async () => {
    const c = await connect()
    const id = await idOf(c)
    const expected = `${helloBytes(id, 2)}$-1\r\n`
    expect(await c.roundTrip(`HELLO 2\r\n${cmd('GET', 'missing')}`, expected)).toBe(expected)
  })

  it('refuses unsupported and malformed versions with Redis texts', async () => {
    const c = await connect()
    expect(await c.roundTrip('HELLO 4\r\n', '-NOPROTO unsupported protocol version\r\n')).toBe('-NOPROTO unsupported protocol version\r\n')
    const bad = '-ERR Protocol version is not an integer or out of range\r\n'
    expect(await c.roundTrip('HELLO abc\r\n', bad)).toBe(bad)
    const syntax = "-ERR Syntax error in HELLO option 'FOO'\r\n"
    expect(await c.roundTrip('HELLO 3 FOO\r\n', syntax)).toBe(syntax)
  })

  it('sets the client name with HELLO SETNAME', async () => {
    const c = await connect()
    const id = await idOf(c)
    await c.roundTrip('HELLO 3 SETNAME conn-a\r\n', helloBytes(id, 3))
    expect(await c.roundTrip('CLIENT GETNAME\r\n', '$6\r\nconn-a\r\n')).toBe('$6\r\nconn-a\r\n')
  })

  it('encodes maps, sets and verbatim strings with RESP3 types only after HELLO 3', async () => {
    const c = await connect()
    const resp2 = '*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n'
    expect(await c.roundTrip(cmd('CONFIG', 'GET', 'maxclients'), resp2)).toBe(resp2)
    const id = await idOf(c)
    await c.roundTrip('HELLO 3\r\n', helloBytes(id, 3))
    const resp3 = '%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n'
    expect(await c.roundTrip(cmd('CONFIG', 'GET', 'maxclients'), resp3)).toBe(resp3)
    c.send('INFO server\r\n')
    const info = await c.until((t) => t.includes('io_threads_active:0\r\n\r\n'))
    expect(info.startsWith('=')).toBe(true)
    expect(info).toContain('txt:# Server\r\nredis_version:7.0.15\r\n')
  })

  it('answers INFO as a bulk string in RESP2 with loading:0', async () => {
    const c = await connect()
    c.send('INFO\r\n')
    const text = await c.until((t) => t.includes('# Keyspace\r\n'))
    expect(text.startsWith('$')).toBe(true)
    expect(text).toContain('\r\nloading:0\r\n')
    expect(text).toContain('redis_mode:standalone\r\n')
  })
})

// ---------------------------------------------------------------------------------------------
// connection commands
// ---------------------------------------------------------------------------------------------

describe('connection commands', () => {
  it('answers PING, PING msg and ECHO', async () => {
    const c = await connect()
    expect(await c.roundTrip(`PING\r\n${cmd('PING', 'hi')}${cmd('ECHO', 'x')}`, '+PONG\r\n$2\r\nhi\r\n$1\r\nx\r\n')).toBe(
      '+PONG\r\n$2\r\nhi\r\n$1\r\nx\r\n',
    )
    const arity = "-ERR wrong number of arguments for 'ping' command\r\n"
    expect(await c.roundTrip('PING a b\r\n', arity)).toBe(arity)
  })

  it('closes after QUIT without answering what follows', async () => {
    const c = await connect()
    c.send('QUIT\r\nPING\r\n')
    expect(await c.untilClosed()).toBe('+OK\r\n')
  })

  it('uses the unknown-command text with every argument quoted', async () => {
    const c = await connect()
    const reply = "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    expect(await c.roundTrip('FOO a b\r\n', reply)).toBe(reply)
    const bare = "-ERR unknown command 'FOO', with args beginning with: \r\n"
    expect(await c.roundTrip('FOO\r\n', bare)).toBe(bare)
  })

  it('supports CLIENT ID, SETNAME, GETNAME, SETINFO, INFO and LIST', async () => {
    const c = await connect()
    const id = await idOf(c)
    expect(await c.roundTrip('CLIENT GETNAME\r\n', '$-1\r\n')).toBe('$-1\r\n')
    expect(await c.roundTrip('CLIENT SETNAME worker\r\n', '+OK\r\n')).toBe('+OK\r\n')
    expect(await c.roundTrip('CLIENT SETINFO LIB-NAME mylib\r\n', '+OK\r\n')).toBe('+OK\r\n')
    const bad = '-ERR Client names cannot contain spaces, newlines or special characters.\r\n'
    expect(await c.roundTrip('CLIENT SETNAME "a b"\r\n', bad)).toBe(bad)
    c.send('CLIENT LIST\r\n')
    const list = await c.until((t) => t.endsWith('\n\r\n'))
    expect(list).toContain(`id=${id} addr=127.0.0.1:`)
    expect(list).toContain(' name=worker ')
    expect(list).toContain(' cmd=client|list ')
    expect(list).toContain(' lib-name=mylib ')
  })

  it("answers unknown CLIENT subcommands and subcommand arity errors with Redis's texts", async () => {
    const c = await connect()
    const unknown = "-ERR unknown subcommand 'maint_notifications'. Try CLIENT HELP.\r\n"
    expect(await c.roundTrip('client maint_notifications on\r\n', unknown)).toBe(unknown)
    const arity = "-ERR wrong number of arguments for 'client|setname' command\r\n"
    expect(await c.roundTrip('CLIENT SETNAME\r\n', arity)).toBe(arity)
  })

  it('kills another client by id with CLIENT KILL', async () => {
    const victim = await connect()
    const id = await idOf(victim)
    const killer = await connect()
    expect(await killer.roundTrip(`CLIENT KILL ID ${id}\r\n`, ':1\r\n')).toBe(':1\r\n')
    await victim.untilClosed()
    expect(victim.isOpen).toBe(false)
    expect(await killer.roundTrip('CLIENT KILL 1.2.3.4:5\r\n', '-ERR No such client\r\n')).toBe('-ERR No such client\r\n')
  })

  it('RESET drops the transaction, the name and RESP3', async () => {
    const c = await connect()
    const id = await idOf(c)
    await c.roundTrip('HELLO 3 SETNAME n\r\n', helloBytes(id, 3))
    await c.roundTrip('MULTI\r\n', '+OK\r\n')
    expect(await c.roundTrip('RESET\r\n', '+RESET\r\n')).toBe('+RESET\r\n')
    expect(await c.roundTrip(`CLIENT GETNAME\r\n${cmd('GET', 'missing')}EXEC\r\n`, '$-1\r\n$-1\r\n-ERR EXEC without MULTI\r\n')).toBe(
      '$-1\r\n$-1\r\n-ERR EXEC without MULTI\r\n',
    )
  })
})

// ---------------------------------------------------------------------------------------------
// transactions over the wire
// ---------------------------------------------------------------------------------------------

describe('transactions', () => {
  it('queues commands and answers EXEC with their replies', async () => {
    const c = await connect()
    const expected = '+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:2\r\n'
    expect(await c.roundTrip(`MULTI\r\n${cmd('SET', 'tx', '1')}${cmd('INCR', 'tx')}EXEC\r\n`, expected)).toBe(expected)
  })

  it('answers a null array after a WATCHed key changed: *-1 in RESP2, _ in RESP3', async () => {
    for (const proto of [2, 3] as const) {
      const a = await connect()
      const b = await connect()
      if (proto === 3) {
        const id = await idOf(a)
        await a.roundTrip('HELLO 3\r\n', helloBytes(id, 3))
      }
      await a.roundTrip(cmd('WATCH', `w${proto}`), '+OK\r\n')
      await b.roundTrip(cmd('SET', `w${proto}`, 'x'), '+OK\r\n')
      const nil = proto === 3 ? '_\r\n' : '*-1\r\n'
      const expected = `+OK\r\n+QUEUED\r\n${nil}`
      expect(await a.roundTrip(`MULTI\r\n${cmd('SET', `w${proto}`, 'y')}EXEC\r\n`, expected)).toBe(expected)
    }
  })

  it('forgets the transaction of a client that disconnects mid-MULTI', async () => {
    const a = await connect()
    await a.roundTrip(`MULTI\r\n${cmd('SET', 'abandoned', '1')}`, '+OK\r\n+QUEUED\r\n')
    a.close()
    const b = await connect()
    expect(await b.roundTrip(`EXEC\r\n${cmd('EXISTS', 'abandoned')}`, '-ERR EXEC without MULTI\r\n:0\r\n')).toBe('-ERR EXEC without MULTI\r\n:0\r\n')
  })

  it('runs QUIT immediately even inside MULTI', async () => {
    const c = await connect()
    c.send(`MULTI\r\n${cmd('SET', 'q', '1')}QUIT\r\n`)
    expect(await c.untilClosed()).toBe('+OK\r\n+QUEUED\r\n+OK\r\n')
  })

  it('refuses SAVE and SHUTDOWN inside MULTI and aborts the EXEC', async () => {
    const c = await connect()
    const expected = '+OK\r\n-ERR Command not allowed inside a transaction\r\n-EXECABORT Transaction discarded because of previous errors.\r\n'
    expect(await c.roundTrip('MULTI\r\nSHUTDOWN\r\nEXEC\r\n', expected)).toBe(expected)
  })
})

// ---------------------------------------------------------------------------------------------
// server commands
// ---------------------------------------------------------------------------------------------

describe('server commands', () => {
  it('answers CONFIG GET for supported directives and *0 for unknown ones', async () => {
    const c = await connect()
    expect(await c.roundTrip(cmd('CONFIG', 'GET', 'save'), '*2\r\n$4\r\nsave\r\n$0\r\n\r\n')).toBe('*2\r\n$4\r\nsave\r\n$0\r\n\r\n')
    expect(await c.roundTrip(cmd('CONFIG', 'GET', 'appendonly'), '*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n')).toBe(
      '*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n',
    )
    expect(await c.roundTrip(cmd('CONFIG', 'GET', 'nosuch'), '*0\r\n')).toBe('*0\r\n')
  })

  it('never lets CONFIG SET change a file path', async () => {
    const c = await connect()
    // Redis 7.0.15 words dir as protected and logfile/pidfile as immutable.
    for (const name of ['dir', 'logfile', 'pidfile']) {
      const kind = name === 'dir' ? 'protected' : 'immutable'
      const reply = `-ERR CONFIG SET failed (possibly related to argument '${name}') - can't set ${kind} config\r\n`
      expect(await c.roundTrip(cmd('CONFIG', 'SET', name, '/tmp'), reply)).toBe(reply)
    }
    const unknown = "-ERR Unknown option or number of arguments for CONFIG SET - 'dbfilename'\r\n"
    expect(await c.roundTrip(cmd('CONFIG', 'SET', 'dbfilename', 'x'), unknown)).toBe(unknown)
  })

  it("applies CONFIG SET atomically with Redis's validation texts", async () => {
    const c = await connect()
    const bad = "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n"
    expect(await c.roundTrip(cmd('CONFIG', 'SET', 'timeout', '5', 'maxclients', '0'), bad)).toBe(bad)
    expect(await c.roundTrip(cmd('CONFIG', 'GET', 'timeout'), '*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n')).toBe('*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n')
    expect(await c.roundTrip(cmd('CONFIG', 'SET', 'a', 'b', 'c'), '-ERR syntax error\r\n')).toBe('-ERR syntax error\r\n')
  })

  it('describes commands with COMMAND COUNT, INFO and DOCS', async () => {
    const c = await connect()
    c.send('COMMAND COUNT\r\n')
    const count = Number((await c.until((t) => t.endsWith('\r\n'))).slice(1, -2))
    c.pending()
    await c.read(String(count).length + 3)
    expect(count).toBeGreaterThan(40)
    const info = '*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n'
    expect(await c.roundTrip(cmd('COMMAND', 'INFO', 'get'), info)).toBe(info)
    c.send(cmd('COMMAND', 'DOCS', 'get'))
    const docs = await c.until((t) => t.includes('key_spec_index'))
    expect(docs).toContain('$7\r\nsummary\r\n')
    expect(docs).toContain('$9\r\narguments\r\n')
  })

  it('answers TIME and LASTSAVE', async () => {
    const c = await connect()
    c.send('TIME\r\n')
    const time = await c.until((t) => (t.match(/\r\n/g) ?? []).length >= 5)
    expect(time).toMatch(/^\*2\r\n\$10\r\n\d{10}\r\n\$\d\r\n\d{1,6}\r\n$/)
  })

  it('refuses SAVE without persistence instead of pretending to save', async () => {
    const c = await connect()
    const reply = '-ERR persistence is disabled (appendonly no): there is nothing to save to\r\n'
    expect(await c.roundTrip('SAVE\r\n', reply)).toBe(reply)
  })

  it('feeds MONITOR clients every command with its database and address', async () => {
    const m = await connect()
    await m.roundTrip('MONITOR\r\n', '+OK\r\n')
    const c = await connect()
    await c.roundTrip(cmd('SET', 'mon', 'a"b\n'), '+OK\r\n')
    const line = await m.until((t) => t.includes('"mon"'))
    expect(line).toMatch(/^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "mon" "a\\"b\\n"\r\n$/)
  })
})

// ---------------------------------------------------------------------------------------------
// limits and security
// ---------------------------------------------------------------------------------------------

describe('authentication', () => {
  let secure: RedustServer
  beforeAll(async () => {
    secure = await startTestServer({ requirepass: 's3cret' })
  })
  afterAll(async () => {
    await secure.close()
  })

  it('answers NOAUTH until AUTH succeeds, after the unknown-command and arity checks', async () => {
    const c = await connect(secure)
    const expected =
      '-NOAUTH Authentication required.\r\n' +
      "-ERR unknown command 'FOO', with args beginning with: \r\n" +
      "-ERR wrong number of arguments for 'get' command\r\n" +
      '-WRONGPASS invalid username-password pair or user is disabled.\r\n' +
      '+OK\r\n+PONG\r\n'
    expect(await c.roundTrip('PING\r\nFOO\r\nGET\r\nAUTH nope\r\nAUTH s3cret\r\nPING\r\n', expected)).toBe(expected)
  })

  it('lets HELLO authenticate, and explains itself without AUTH', async () => {
    const c = await connect(secure)
    const noauth =
      '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n'
    expect(await c.roundTrip('HELLO 3\r\n', noauth)).toBe(noauth)
    c.send('HELLO 3 AUTH default s3cret\r\n')
    expect(await c.until((t) => t.endsWith('*0\r\n'))).toMatch(/^%7\r\n/)
  })

  it('applies the unauthenticated multibulk and bulk limits', async () => {
    const a = await connect(secure)
    a.send('*11\r\n')
    expect(await a.untilClosed()).toBe('-ERR Protocol error: unauthenticated multibulk length\r\n')
    const b = await connect(secure)
    b.send('*2\r\n$4\r\nECHO\r\n$16385\r\n')
    expect(await b.untilClosed()).toBe('-ERR Protocol error: unauthenticated bulk length\r\n')
  })

  it('RESET makes the client authenticate again', async () => {
    const c = await connect(secure)
    const expected = '+OK\r\n+RESET\r\n-NOAUTH Authentication required.\r\n'
    expect(await c.roundTrip('AUTH default s3cret\r\nRESET\r\nPING\r\n', expected)).toBe(expected)
  })
})

describe('limits', () => {
  it('refuses clients beyond maxclients with Redis text', async () => {
    const small = await startTestServer({ maxclients: 2 })
    try {
      const a = await connect(small)
      const b = await connect(small)
      await a.roundTrip('PING\r\n', '+PONG\r\n')
      await b.roundTrip('PING\r\n', '+PONG\r\n')
      const c = await connect(small)
      expect(await c.untilClosed()).toBe('-ERR max number of clients reached\r\n')
    } finally {
      await small.close()
    }
  })

  it('closes a client whose queued MULTI commands pass client-query-buffer-limit', async () => {
    const c = await connect()
    await c.roundTrip(cmd('CONFIG', 'SET', 'client-query-buffer-limit', '1mb'), '+OK\r\n')
    try {
      await c.roundTrip('MULTI\r\n', '+OK\r\n')
      const value = 'v'.repeat(200_000)
      for (let i = 0; i < 6 && c.isOpen; i++) c.send(cmd('SET', `big${i}`, value))
      await c.untilClosed()
      expect(c.isOpen).toBe(false)
      expect(c.pending().startsWith('+QUEUED\r\n')).toBe(true)
    } finally {
      const admin = await connect()
      await admin.roundTrip(cmd('CONFIG', 'SET', 'client-query-buffer-limit', '1gb'), '+OK\r\n')
    }
  })
})

// ---------------------------------------------------------------------------------------------
// replies wait for durability
// ---------------------------------------------------------------------------------------------

describe('replies behind a commit', () => {
  it('hold a write reply and every later reply until the record is durable', async () => {
    const log = new ManualLog()
    const s = await startTestServer({}, { log })
    try {
      const c = await connect(s)
      c.send(`${cmd('SET', 'k', 'v')}${cmd('GET', 'k')}PING\r\n`)
      await eventually(() => log.records.length === 1)
      // The SET's record is appended but not durable: nothing may be sent yet, not even PONG.
      // (A round trip on another connection gives any wrongly sent bytes time to arrive.)
      const other = await connect(s)
      await other.roundTrip('PING\r\n', '+PONG\r\n')
      expect(c.pending()).toBe('')
      log.commit()
      const expected = '+OK\r\n$1\r\nv\r\n+PONG\r\n'
      expect(await c.read(expected.length)).toBe(expected)
    } finally {
      await s.close()
    }
  })

  it('answer MISCONF instead of OK when the record could not be persisted', async () => {
    const log = new ManualLog()
    const s = await startTestServer({}, { log })
    try {
      const c = await connect(s)
      c.send(`${cmd('SET', 'k', 'v')}PING\r\n`)
      await eventually(() => log.records.length === 1)
      log.fail('disk full')
      const reply = await c.until((t) => t.endsWith('+PONG\r\n'))
      expect(reply).toBe('-MISCONF Errors writing to the AOF file: disk full\r\n+PONG\r\n')
    } finally {
      await s.close()
    }
  })
})

describe('shutdown', () => {
  it('SHUTDOWN NOSAVE closes every connection and stops the server', async () => {
    const s = await startTestServer()
    const a = await connect(s)
    const b = await connect(s)
    await b.roundTrip('PING\r\n', '+PONG\r\n')
    a.send('SHUTDOWN NOSAVE\r\n')
    await s.stopped
    await a.untilClosed()
    await b.untilClosed()
    expect(a.pending()).toBe('')
    expect(b.isOpen).toBe(false)
  })
})

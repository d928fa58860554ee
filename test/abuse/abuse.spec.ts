/**
 * Abuse limits, short tier (`npm test`): the same limits as test/abuse/abuse.long.ts at a small
 * scale and without timing assertions — maxclients refusal text, huge declared bulk lengths,
 * unauthenticated limits — plus the regressions these suites found.
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { haveRedis, rawExchange, RespConn, startRedis, startRedust, type ServerProcess } from '../crash/support.js'

const PASS = 'pw'
let redust: ServerProcess
let redis: ServerProcess | undefined

beforeAll(async () => {
  ;[redust, redis] = await Promise.all([
    startRedust(['--appendonly', 'no', '--save', '', '--maxclients', '20', '--requirepass', PASS]),
    haveRedis() ? startRedis(['--maxclients', '20', '--requirepass', PASS]) : Promise.resolve(undefined),
  ])
})
afterAll(async () => {
  await redust?.kill()
  await redis?.kill()
})

const openMany = async (port: number, n: number): Promise<{ sockets: net.Socket[]; lastReply: string }> => {
  const sockets: net.Socket[] = []
  let lastReply = ''
  for (let i = 0; i < n; i++) {
    const s = net.connect({ port, host: '127.0.0.1' })
    s.on('error', () => undefined)
    const reply = await new Promise<string>((resolve) => {
      s.once('data', (d: Buffer) => resolve(d.toString('latin1')))
      s.once('close', () => resolve('closed'))
      s.on('connect', () => s.write(`AUTH ${PASS}\r\n`))
    })
    lastReply = reply
    sockets.push(s)
  }
  return { sockets, lastReply }
}

describe('abuse limits (short)', () => {
  it('the (maxclients+1)-th client gets "-ERR max number of clients reached"', async () => {
    const a = await openMany(redust.port, 21)
    for (const s of a.sockets) s.destroy()
    expect(a.lastReply).toBe('-ERR max number of clients reached\r\n')
    if (redis !== undefined) {
      const b = await openMany(redis.port, 21)
      for (const s of b.sockets) s.destroy()
      expect(b.lastReply, 'redis-server 7.0.15').toBe('-ERR max number of clients reached\r\n')
    }
  })

  it('a declared 512 MiB bulk allocates nothing up front (authenticated), RSS stays flat', async () => {
    await new Promise((r) => setTimeout(r, 300)) // the previous test's clients are gone
    const before = redust.rss()!
    const sockets: net.Socket[] = []
    for (let i = 0; i < 15; i++) {
      const s = net.connect({ port: redust.port, host: '127.0.0.1' })
      s.on('error', () => undefined)
      await new Promise((r) => s.once('connect', r))
      s.write(`AUTH ${PASS}\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870000\r\n`)
      s.write(Buffer.alloc(64 * 1024, 0x62))
      sockets.push(s)
    }
    await new Promise((r) => setTimeout(r, 500))
    const after = redust.rss()!
    for (const s of sockets) s.destroy()
    console.log(`abuse[short]: RSS ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MiB with 15 declared 512 MiB bulks`)
    expect(after - before).toBeLessThan(64 * 1024 * 1024)
  })

  it('unauthenticated: *11 and $16385 get Redis texts and a close', async () => {
    expect(await rawExchange(redust.port, Buffer.from('*11\r\n'), { quietMs: 500 })).toEqual({ text: '-ERR Protocol error: unauthenticated multibulk length\r\n', closed: true })
    expect(await rawExchange(redust.port, Buffer.from('*1\r\n$16385\r\n'), { quietMs: 500 })).toEqual({ text: '-ERR Protocol error: unauthenticated bulk length\r\n', closed: true })
  })
})

describe('regressions found by the abuse suites', () => {
  // DURABILITY.md §9 test 14: "100 unauthenticated connections each send *1\r\n$536870912\r\n"
  // → "unauthenticated bulk length". 536870912 = proto-max-bulk-len, which Redis accepts as a
  // length; then its `ll > 16384 && authRequired(c)` check answers "unauthenticated bulk length"
  // (networking.c processMultibulkBuffer). Redust's decoder rejects any bulk above V8's
  // MAX_STRING_LENGTH (2^29-24) in the same condition as proto-max-bulk-len, before the
  // unauthenticated check, so it answers "invalid bulk length".
  it('bug P4: an unauthenticated $536870912 gets "unauthenticated bulk length", as in Redis', async () => {
    const req = Buffer.from('*1\r\n$536870912\r\n')
    const expected = { text: '-ERR Protocol error: unauthenticated bulk length\r\n', closed: true }
    if (redis !== undefined) expect(await rawExchange(redis.port, req, { quietMs: 500 }), 'redis-server 7.0.15').toEqual(expected)
    expect(await rawExchange(redust.port, req, { quietMs: 500 })).toEqual(expected)
  })

  it('the server is still up', async () => {
    const c = await RespConn.connect(redust.port)
    expect(await c.call('AUTH', PASS)).toBe('OK')
    expect(await c.call('PING')).toBe('PONG')
    c.close()
  })
})

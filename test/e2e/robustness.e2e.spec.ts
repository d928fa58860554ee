/**
 * The server under hostile or careless clients: resets mid-command, a reader that never reads,
 * idle clients, and peers outside the loopback interface.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { defaultSettings } from '../../src/app/server/config.js'
import { protectedModeDenies, type RedustServer } from '../../src/app/server/server.js'
import { DEFAULT_OUTPUT_LIMITS } from '../../src/infra/net/tcpServer.js'
import { cmd, RawClient, startTestServer } from './support.js'

let server: RedustServer
const open: RawClient[] = []
const connect = async (): Promise<RawClient> => {
  const c = await RawClient.connect(server.port)
  open.push(c)
  return c
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

/** CLIENT LIST as records of fields. */
const clientList = async (c: RawClient): Promise<Array<Record<string, string>>> => {
  c.send('CLIENT LIST\r\n')
  const text = await c.until((t) => /^\$\d+\r\n/.test(t) && t.length >= Number(/^\$(\d+)/.exec(t)![1]) + /^\$\d+\r\n/.exec(t)![0].length + 2)
  const header = /^\$(\d+)\r\n/.exec(text)!
  const body = text.slice(header[0].length, header[0].length + Number(header[1]))
  await c.read(header[0].length + Number(header[1]) + 2)
  return body
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])))
}

describe('connection resets', () => {
  it('survive a client that resets the connection in the middle of a command and a transaction', async () => {
    for (let i = 0; i < 20; i++) {
      const c = await connect()
      c.send(`MULTI\r\n${cmd('SET', 'reset', String(i))}*3\r\n$3\r\nSET\r\n$5\r\nreset\r\n$100\r\nabc`)
      await c.until((t) => t.includes('QUEUED'))
      c.socket.resetAndDestroy()
    }
    const probe = await connect()
    expect(await probe.roundTrip(`PING\r\n${cmd('EXISTS', 'reset')}`, '+PONG\r\n:0\r\n')).toBe('+PONG\r\n:0\r\n')
  })
})

describe('a client that does not read its replies', () => {
  it('is not buffered for without bound, and gets every reply in order once it reads', async () => {
    const admin = await connect()
    const value = 'x'.repeat(1024 * 1024)
    await admin.roundTrip(cmd('SET', 'big', value), '+OK\r\n')
    await admin.roundTrip(cmd('CLIENT', 'SETNAME', 'admin'), '+OK\r\n')

    const slow = await connect()
    slow.socket.pause()
    const count = 300 // 300 MiB of replies
    slow.send(cmd('CLIENT', 'SETNAME', 'slow') + cmd('GET', 'big').repeat(count))
    const findSlow = async () => (await clientList(admin)).find((c) => c.name === 'slow')
    for (let me = await findSlow(); me === undefined || Number(me.omem) === 0; me = await findSlow()) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }

    // While it does not read, the server stops reading from it: its pending output stays at
    // most the per-client high water (1 MiB) plus one reply, never hundreds of MiB.
    const reply = `$${value.length}\r\n${value}\r\n`
    for (let i = 0; i < 20; i++) {
      const me = await findSlow()
      expect(Number(me!.omem)).toBeGreaterThan(0)
      expect(Number(me!.omem)).toBeLessThanOrEqual(DEFAULT_OUTPUT_LIMITS.clientHighWater + reply.length)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }

    // Now read everything: all replies, in order, intact (after SETNAME's +OK).
    let received = 0
    let buffered = Buffer.alloc(0)
    let sawOk = false
    await new Promise<void>((resolve, reject) => {
      slow.socket.removeAllListeners('data')
      slow.socket.on('data', (d: Buffer) => {
        buffered = Buffer.concat([buffered, d])
        if (!sawOk && buffered.length >= 5) {
          if (buffered.subarray(0, 5).toString('latin1') !== '+OK\r\n') return reject(new Error('missing +OK'))
          buffered = buffered.subarray(5)
          sawOk = true
        }
        while (sawOk && buffered.length >= reply.length) {
          if (buffered.subarray(0, reply.length).toString('latin1') !== reply) return reject(new Error(`reply ${received} corrupted`))
          buffered = buffered.subarray(reply.length)
          received++
        }
        if (received === count) resolve()
      })
      slow.socket.resume()
    })
    expect(received).toBe(count)
  })
})

describe('idle clients', () => {
  it('are closed after `timeout` seconds without a request', async () => {
    const admin = await connect()
    await admin.roundTrip(cmd('CONFIG', 'SET', 'timeout', '1'), '+OK\r\n')
    try {
      const idle = await connect()
      await idle.roundTrip('PING\r\n', '+PONG\r\n')
      await idle.untilClosed()
      expect(idle.isOpen).toBe(false)
    } finally {
      const a = await connect()
      await a.roundTrip(cmd('CONFIG', 'SET', 'timeout', '0'), '+OK\r\n')
    }
  })
})

describe('protected mode', () => {
  it('refuses non-loopback peers only while no password is set', () => {
    const s = defaultSettings()
    expect(protectedModeDenies(s, false)).toBe(true)
    expect(protectedModeDenies(s, true)).toBe(false)
    expect(protectedModeDenies({ ...s, requirepass: 'pw' }, false)).toBe(false)
    expect(protectedModeDenies({ ...s, 'protected-mode': false }, false)).toBe(false)
  })
})

describe('flushes', () => {
  it('accept FLUSHALL and FLUSHDB with ASYNC or SYNC', async () => {
    const c = await connect()
    await c.roundTrip(cmd('SET', 'f', '1'), '+OK\r\n')
    expect(await c.roundTrip('FLUSHDB ASYNC\r\nFLUSHALL SYNC\r\nDBSIZE\r\n', '+OK\r\n+OK\r\n:0\r\n')).toBe('+OK\r\n+OK\r\n:0\r\n')
  })
})

describe('INFO commandstats and errorstats', () => {
  it('count calls per command and per subcommand, and errors per code', async () => {
    const c = await connect()
    const replies = '+OK\r\n+OK\r\n$1\r\n1\r\n'
    await c.roundTrip(`CONFIG RESETSTAT\r\n${cmd('SET', 's', '1')}${cmd('GET', 's')}`, replies)
    await c.roundTrip('NOPE\r\n', "-ERR unknown command 'NOPE', with args beginning with: \r\n")
    c.send('CLIENT ID\r\n')
    await c.read((await c.until((t) => t.endsWith('\r\n'))).length)
    c.send('INFO commandstats errorstats\r\n')
    const info = await c.until((t) => t.includes('errorstat_ERR'))
    expect(info).toMatch(/cmdstat_set:calls=1,usec=\d+,usec_per_call=[\d.]+,rejected_calls=0,failed_calls=0/)
    expect(info).toMatch(/cmdstat_client\|id:calls=1,/)
    expect(info).not.toContain('cmdstat_nope')
    expect(info).toContain('errorstat_ERR:count=1')
  })
})

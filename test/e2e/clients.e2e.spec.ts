/**
 * Real client libraries with default options against an in-process server (CLIENTS.md §8):
 * ioredis 6 (probes HELLO 3 and falls back on NOPROTO), node-redis 6 (RESP3 by default, no
 * fallback) and node-redis with `RESP: 2`. Each connects, uses SET/GET with a TTL, a pipeline of
 * 1000 commands, MULTI/EXEC with a WATCH conflict, and binary keys and values.
 */
import { Redis } from 'ioredis'
import { createClient, RESP_TYPES, WatchError } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RedustServer } from '../../src/app/server/server.js'
import { startTestServer } from './support.js'

let server: RedustServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server.close()
})

const BINARY_KEY = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x6b])
const BINARY_VALUE = Buffer.from([0x00, 0x0d, 0x0a, 0xff, 0xc3, 0x28, 0x80])

// ---------------------------------------------------------------------------------------------
// ioredis
// ---------------------------------------------------------------------------------------------

describe('ioredis 6 with default options', () => {
  let client: Redis
  let other: Redis
  beforeAll(async () => {
    client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
    other = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
    await client.connect()
    await other.connect()
  })
  afterAll(async () => {
    await client.quit()
    other.disconnect()
  })

  it('connects through HELLO 3 and the INFO ready check', async () => {
    expect(client.status).toBe('ready')
    expect(await client.ping()).toBe('PONG')
    expect(String(await client.call('CLIENT', 'INFO'))).toContain(' resp=3 ')
  })

  it('sets and gets with a TTL', async () => {
    expect(await client.set('io:k', 'v', 'EX', 100)).toBe('OK')
    expect(await client.get('io:k')).toBe('v')
    const ttl = await client.ttl('io:k')
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(100)
    expect(await client.get('io:missing')).toBeNull()
  })

  it('runs a pipeline of 1000 commands', async () => {
    const p = client.pipeline()
    for (let i = 0; i < 1000; i++) p.incr('io:counter')
    const results = await p.exec()
    expect(results).toHaveLength(1000)
    expect(results!.at(-1)).toEqual([null, 1000])
  })

  it('runs MULTI/EXEC', async () => {
    expect(await client.multi().set('io:tx', '1').incr('io:tx').get('io:tx').exec()).toEqual([
      [null, 'OK'],
      [null, 2],
      [null, '2'],
    ])
  })

  it('resolves EXEC to null after a WATCH conflict', async () => {
    await client.watch('io:watched')
    await other.set('io:watched', 'changed')
    expect(await client.multi().set('io:watched', 'mine').exec()).toBeNull()
    expect(await client.get('io:watched')).toBe('changed')
  })

  it('rejects a transaction with an unknown command with EXECABORT', async () => {
    const tx = client.multi()
    ;(tx as unknown as { call: (...a: string[]) => void }).call('nosuchcommand')
    await expect(tx.exec()).rejects.toThrow(/^EXECABORT/)
  })

  it('keeps binary keys and values byte-exact', async () => {
    await client.set(BINARY_KEY, BINARY_VALUE)
    expect(await client.getBuffer(BINARY_KEY)).toEqual(BINARY_VALUE)
  })
})

// ---------------------------------------------------------------------------------------------
// node-redis
// ---------------------------------------------------------------------------------------------

for (const RESP of [3, 2] as const) {
  describe(`node-redis 6 with RESP: ${RESP}${RESP === 3 ? ' (the default)' : ''}`, () => {
    // The RESP 3 suite leaves the option unset: node-redis 6's default. (One call site typed with
    // a `2 | 3 | undefined` option: a union of two client types makes tsc run out of memory.)
    const make = () => createClient({ url: `redis://127.0.0.1:${server.port}`, RESP: (RESP === 3 ? undefined : 2) as 2 | 3 | undefined })
    let client: ReturnType<typeof make>
    let other: ReturnType<typeof make>
    beforeAll(async () => {
      client = make()
      other = make()
      client.on('error', () => undefined)
      other.on('error', () => undefined)
      await client.connect()
      await other.connect()
    })
    afterAll(async () => {
      client.destroy()
      other.destroy()
    })

    it(`connects speaking RESP${RESP}`, async () => {
      expect(client.isReady).toBe(true)
      expect(await client.ping()).toBe('PONG')
      expect(String(await client.sendCommand(['CLIENT', 'INFO']))).toContain(` resp=${RESP} `)
    })

    it('sets and gets with a TTL, and reads null for a missing key', async () => {
      const k = `nr${RESP}:k`
      expect(await client.set(k, 'v', { expiration: { type: 'EX', value: 100 } })).toBe('OK')
      expect(await client.get(k)).toBe('v')
      const ttl = await client.ttl(k)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(100)
      expect(await client.get(`nr${RESP}:missing`)).toBeNull()
      expect(await client.mGet([`nr${RESP}:missing`, `nr${RESP}:missing2`])).toEqual([null, null])
    })

    it('runs a pipeline of 1000 commands', async () => {
      const results = await Promise.all(Array.from({ length: 1000 }, () => client.incr(`nr${RESP}:counter`)))
      expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    })

    it('runs MULTI/EXEC', async () => {
      const k = `nr${RESP}:tx`
      expect(await client.multi().set(k, '1').incr(k).get(k).exec()).toEqual(['OK', 2, '2'])
    })

    it('throws WatchError after a WATCH conflict', async () => {
      const k = `nr${RESP}:watched`
      // WATCH needs a dedicated connection in node-redis: isolate with a duplicate client.
      const watcher = client.duplicate()
      watcher.on('error', () => undefined)
      await watcher.connect()
      try {
        await watcher.watch(k)
        await other.set(k, 'changed')
        await expect(watcher.multi().set(k, 'mine').exec()).rejects.toBeInstanceOf(WatchError)
        expect(await client.get(k)).toBe('changed')
      } finally {
        watcher.destroy()
      }
    })

    it('keeps binary keys and values byte-exact', async () => {
      await client.set(BINARY_KEY, BINARY_VALUE)
      const binary = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
      expect(await binary.get(BINARY_KEY)).toEqual(BINARY_VALUE)
    })
  })
}

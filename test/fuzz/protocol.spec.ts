/**
 * Protocol fuzzing, short tier (`npm test`; the long tier is test/fuzz/fuzz.long.ts):
 * - the decoder in process: fragmented parse = one-piece parse, only ProtocolErrors (20k inputs);
 * - a real server process under 3,000 generated streams in random chunks: never exits, closes
 *   every connection once its input ended, keeps answering a watchdog (latency printed, not
 *   asserted here);
 * - the edge cases of Redis's tests/unit/protocol.tcl get Redis 7.0.15's exact bytes, and the
 *   connection is closed exactly when Redis closes it. The expected bytes are written out below;
 *   when /usr/bin/redis-server exists every case is also replayed against it.
 *
 * FUZZ_SEED replays a run; FUZZ_DECODER_RUNS / FUZZ_SERVER_INPUTS resize it.
 */
import fc from 'fast-check'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { envInt, envSeed, haveRedis, rawExchange, startRedis, startRedust, type ServerProcess } from '../crash/support.js'
import { decoderProperty } from './decoderFuzz.js'
import { formatServerFuzz, runServerFuzz } from './serverFuzz.js'

const SEED = envSeed('FUZZ_SEED')

let redust: ServerProcess
let redis: ServerProcess | undefined

beforeAll(async () => {
  ;[redust, redis] = await Promise.all([startRedust(['--appendonly', 'no', '--save', '']), haveRedis() ? startRedis() : Promise.resolve(undefined)])
})
afterAll(async () => {
  await redust?.kill()
  await redis?.kill()
})

describe('decoder fuzzing (in process)', () => {
  it('fragmented parse equals one-piece parse; only protocol errors', () => {
    const numRuns = envInt('FUZZ_DECODER_RUNS', 20_000)
    console.log(`fuzz[decoder] seed ${SEED} (FUZZ_SEED=${SEED}), ${numRuns} inputs`)
    fc.assert(decoderProperty(), { numRuns, seed: SEED })
  })
})

describe('server fuzzing (real process)', () => {
  it('never exits, never hangs on an input, keeps answering', async () => {
    const f = await runServerFuzz(redust, { inputs: envInt('FUZZ_SERVER_INPUTS', 3_000), seed: SEED, concurrency: 16 })
    console.log(formatServerFuzz(SEED, f))
    expect(f.serverAlive).toBe(true)
    expect(f.stuck).toBe(0)
  }, 120_000)
})

/** Streams `prefix` then 1 KiB lines until the server closes the connection (protocol.tcl desync). */
const desync = (port: number, prefix: string): Promise<{ text: string; closed: boolean }> =>
  new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let got = ''
    let closed = false
    let sent = 0
    const line = Buffer.from(`${'A'.repeat(1024)}\n`)
    const timer = setTimeout(() => s.destroy(), 30_000)
    s.on('data', (d: Buffer) => (got += d.toString('latin1')))
    s.on('error', () => undefined)
    s.on('close', () => {
      closed = true
      clearTimeout(timer)
      resolve({ text: got, closed: got.length > 0 })
    })
    s.on('connect', async () => {
      s.write(Buffer.from(prefix, 'latin1'))
      // Stop writing once the reply came (so the close is not an RST that drops it); past the
      // 64 KiB limit, slow down so the server reads each line before the next arrives.
      while (!closed && !s.destroyed && got === '') {
        s.write(line)
        sent += line.length
        await new Promise((r) => (sent > 60 * 1024 ? setTimeout(r, 5) : setImmediate(r)))
      }
    })
  })

const PE = (what: string): string => `-ERR Protocol error: ${what}\r\n`

/** protocol.tcl cases (and a few more around the same limits): bytes in, exact bytes out. */
const CASES: ReadonlyArray<{ name: string; send: string; expect: string; closed: boolean }> = [
  { name: 'Handle an empty query', send: '\r\nPING\r\n', expect: '+PONG\r\n', closed: false },
  { name: 'Negative multibulk length', send: '*-10\r\nPING\r\n', expect: '+PONG\r\n', closed: false },
  { name: 'Out of range multibulk length', send: '*3000000000\r\n', expect: PE('invalid multibulk length'), closed: true },
  { name: 'Wrong multibulk payload header', send: '*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', expect: PE("expected '$', got 'f'"), closed: true },
  { name: 'Negative multibulk payload length', send: '*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n', expect: PE('invalid bulk length'), closed: true },
  { name: 'Out of range multibulk payload length', send: '*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n', expect: PE('invalid bulk length'), closed: true },
  { name: 'Non-number multibulk payload length', send: '*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n', expect: PE('invalid bulk length'), closed: true },
  { name: 'Multi bulk request not followed by bulk arguments', send: '*1\r\nfoo\r\n', expect: PE("expected '$', got 'f'"), closed: true },
  { name: 'Generic wrong number of args', send: 'ping x y z\r\n', expect: "-ERR wrong number of arguments for 'ping' command\r\n", closed: false },
  { name: 'Unbalanced number of quotes', send: 'set """test-key""" test-value\r\nping\r\n', expect: PE('unbalanced quotes in request'), closed: true },
  { name: 'Unbalanced single quote', send: "set 'a b\r\n", expect: PE('unbalanced quotes in request'), closed: true },
  { name: 'Closing quote followed by a non-blank', send: 'set "a"b c\r\n', expect: PE('unbalanced quotes in request'), closed: true },
  { name: 'bulk length above proto-max-bulk-len', send: '*1\r\n$536870913\r\n', expect: PE('invalid bulk length'), closed: true },
  { name: 'bulk length of 2^63', send: '*1\r\n$9223372036854775808\r\n', expect: PE('invalid bulk length'), closed: true },
  { name: 'multibulk count above INT_MAX', send: '*2147483648\r\n', expect: PE('invalid multibulk length'), closed: true },
  { name: 'multibulk count with a plus sign', send: '*+1\r\n', expect: PE('invalid multibulk length'), closed: true },
  { name: 'multibulk count with a leading zero', send: '*01\r\n', expect: PE('invalid multibulk length'), closed: true },
  { name: 'empty multibulk count', send: '*\r\n', expect: PE('invalid multibulk length'), closed: true },
  { name: 'huge declared count, nothing follows (no preallocation, no reply)', send: '*2147483647\r\n', expect: '', closed: false },
  { name: 'empty command name', send: '*1\r\n$0\r\n\r\n', expect: "-ERR unknown command '', with args beginning with: \r\n", closed: false },
  { name: 'oversized inline request', send: 'a'.repeat(70_000), expect: PE('too big inline request'), closed: true },
  { name: 'oversized multibulk count line', send: `*${'1'.repeat(70_000)}`, expect: PE('too big mbulk count string'), closed: true },
  { name: 'oversized bulk count line', send: `*1\r\n$${'1'.repeat(70_000)}`, expect: PE('too big bulk count string'), closed: true },
]

describe("protocol.tcl edge cases get Redis's exact bytes", () => {
  it.each(CASES)('$name', async (c) => {
    const bytes = Buffer.from(c.send, 'latin1')
    const got = await rawExchange(redust.port, bytes, { quietMs: 400, maxMs: 5_000 })
    if (redis !== undefined) {
      const ref = await rawExchange(redis.port, bytes, { quietMs: 400, maxMs: 5_000 })
      expect(ref, 'redis-server 7.0.15 itself').toEqual({ text: c.expect, closed: c.closed })
    }
    expect(got).toEqual({ text: c.expect, closed: c.closed })
  })

  it.each(['\x00', '*\x00', '$\x00'])('Protocol desync regression: %j then 1 KiB lines until closed', async (prefix) => {
    const got = await desync(redust.port, prefix)
    const expected = prefix === '*\x00' ? PE('too big mbulk count string') : PE('too big inline request')
    if (redis !== undefined) expect(await desync(redis.port, prefix), 'redis-server 7.0.15 itself').toEqual({ text: expected, closed: true })
    expect(got).toEqual({ text: expected, closed: true })
  }, 70_000)

  it('the server is still up after every case', async () => {
    const r = await rawExchange(redust.port, Buffer.from('PING\r\n'), { quietMs: 200 })
    expect(r.text).toBe('+PONG\r\n')
  })
})

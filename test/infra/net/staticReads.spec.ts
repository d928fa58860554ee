/**
 * Static reads (src/infra/net/staticReads.ts): accepted sockets re-wrapped to read into one
 * shared buffer. The adoption itself works on this runtime (data, half-close, the server's
 * connection count), and the TcpServer serves identically with and without it — including a
 * client paused with requests still buffered while other clients' reads reuse the buffer.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { adoptWithStaticReads } from '../../../src/infra/net/staticReads.js'
import { TcpServer, type ConnectionHandler } from '../../../src/infra/net/tcpServer.js'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const connect = async (port: number): Promise<net.Socket> => {
  const s = net.connect({ port, host: '127.0.0.1' })
  s.on('error', () => undefined)
  cleanups.push(() => void s.destroy())
  await new Promise((resolve) => s.once('connect', resolve))
  return s
}

/** Collects `bytes` bytes from `s`. */
const receive = (s: net.Socket, bytes: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let have = 0
    s.on('data', (d: Buffer) => {
      chunks.push(d)
      have += d.length
      if (have >= bytes) resolve(Buffer.concat(chunks))
    })
    s.once('close', () => reject(new Error(`closed after ${have} of ${bytes} bytes`)))
    s.resume()
  })

describe('adoptWithStaticReads', () => {
  it('reads an accepted socket into the given buffer, keeps half-close and the server connection count', async () => {
    const buffer = Buffer.alloc(64 * 1024)
    const received: string[] = []
    const adopted: net.Socket[] = []
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (accepted) => {
      const socket = adoptWithStaticReads(accepted, buffer, (into, length) => {
        expect(into).toBe(buffer) // read in place, no allocation
        const text = into.toString('latin1', 0, length)
        received.push(text)
        socket!.write(text.toUpperCase())
      })!
      adopted.push(socket)
      socket.on('end', () => socket.end('bye')) // the peer half-closed: answer, then close
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const c = await connect((server.address() as net.AddressInfo).port)
    const reply = receive(c, 'HELLO'.length)
    c.write('hello')
    expect((await reply).toString()).toBe('HELLO')
    const rest = receive(c, 'bye'.length)
    c.end()
    expect((await rest).toString()).toBe('bye')
    expect(adopted).toHaveLength(1)
    expect(adopted[0]).toBeInstanceOf(net.Socket)
    expect(received.join('')).toBe('hello')
    // server.close() calls back only once the adopted socket is counted closed (the old one never is).
    await new Promise((resolve) => c.once('close', resolve))
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it('declines a socket without a handle', () => {
    expect(adoptWithStaticReads(new net.Socket(), Buffer.alloc(16), () => undefined)).toBeUndefined()
  })
})

describe.each([true, false])('TcpServer with staticReads=%s', (staticReads) => {
  /** A server whose one command replies with a bulk of its arguments joined, `size` times over. */
  const start = async (): Promise<{ tcp: TcpServer; port: number }> => {
    const tcp = new TcpServer({
      bind: ['127.0.0.1'],
      port: 0,
      maxClients: () => 100,
      staticReads,
      outputLimits: { clientHighWater: 64 * 1024, budget: 1024 * 1024, floor: 16 * 1024 },
      accept: () =>
        ({
          handle: (argv) => ({ type: 'bulk', value: argv.slice(1).join(',').repeat(Number(argv[0])) }),
          protocol: () => 2,
          authRequired: () => false,
          queuedBytes: () => 0,
          closed: () => undefined,
        }) satisfies ConnectionHandler,
    })
    cleanups.push(() => tcp.close())
    const [address] = await tcp.listen()
    return { tcp, port: address!.port }
  }

  const request = (repeat: number, ...args: string[]): string =>
    `*${args.length + 1}\r\n$${String(repeat).length}\r\n${repeat}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`
  const reply = (repeat: number, ...args: string[]): string => {
    const value = args.join(',').repeat(repeat)
    return `$${value.length}\r\n${value}\r\n`
  }

  it('serves requests split anywhere across reads, for a paused client and its neighbours alike', async () => {
    const { tcp, port } = await start()
    // A client that pipelines 400 requests with ~24 KiB replies and does not read: once the kernel
    // buffers are full, the server stops running its requests at the output high water, with the
    // rest still buffered in its decoder.
    const slow = await connect(port)
    slow.pause()
    const slowArgs = (i: number): [string, string] => [`s${i % 10}`, 'abcd'.slice(0, i % 4)]
    slow.write(Array.from({ length: 400 }, (_, i) => request(4096, ...slowArgs(i))).join(''))
    for (const deadline = Date.now() + 20_000; tcp.unsentOutputBytes < 64 * 1024; ) {
      if (Date.now() > deadline) throw new Error('the slow client never filled its output')
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    // Meanwhile other clients send requests byte by byte and in odd pieces, reusing the buffer.
    const others = await Promise.all([connect(port), connect(port), connect(port)])
    const expected = Array.from({ length: 50 }, (_, i) => [1 + (i % 3), `k${i}`, 'v'.repeat(i)] as const)
    const stream = expected.map(([n, ...args]) => request(n, ...args)).join('')
    const want = expected.map(([n, ...args]) => reply(n, ...args)).join('')
    const got = others.map((c) => receive(c, want.length))
    for (let at = 0, step = 1; at < stream.length; at += step, step = (step % 7) + 1) {
      for (const c of others) c.write(stream.slice(at, at + step))
      await new Promise((resolve) => setImmediate(resolve))
    }
    for (const g of await Promise.all(got)) expect(g.toString('latin1')).toBe(want)
    expect(tcp.staticReadConnections).toBe(staticReads ? 4 : 0)

    // The slow client now reads: every reply, in order, despite the buffer's reuse meanwhile.
    const slowWant = Array.from({ length: 400 }, (_, i) => reply(4096, ...slowArgs(i))).join('')
    expect((await receive(slow, slowWant.length)).toString('latin1')).toBe(slowWant)
  })
})

/**
 * Output backpressure (reliability bug P5): the server-wide budget of unsent output pauses
 * clients that do not read, output freed by any client resumes them, and every reply still
 * arrives byte-identical and in order once they read. No timing assertions: the test waits for
 * states (with a generous deadline that only fires when it is already failing) and asserts the
 * TcpServer's counters — unsent bytes, budget pauses, waiters — and the bytes received.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { TcpServer, type ConnectionControl, type ConnectionHandler, type OutputLimits } from '../../../src/infra/net/tcpServer.js'

/** Every reply is a bulk of this many bytes: `<client>:<seq>:` then filler. */
const REPLY = 32 * 1024
const FILLER = 'x'.repeat(REPLY)
const replyValue = (client: number, seq: number): string => {
  const head = `${client}:${seq}:`
  return head + FILLER.slice(head.length)
}
const replyBytes = (client: number, seq: number): Buffer => Buffer.from(`$${REPLY}\r\n${replyValue(client, seq)}\r\n`, 'latin1')
const REPLY_FRAME = replyBytes(0, 0).length

/** Small limits so a few clients exceed them quickly; the budget (1 MiB) is below 8 × high water. */
const LIMITS: OutputLimits = { clientHighWater: 256 * 1024, budget: 1024 * 1024, floor: 32 * 1024 }

interface Peer {
  readonly id: number
  executed: number
  control: ConnectionControl
}

let server: TcpServer | undefined
const sockets: net.Socket[] = []
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  await server?.close()
  server = undefined
})

/** A TcpServer whose only command answers a numbered REPLY-byte bulk per connection. */
const startServer = async (): Promise<{ tcp: TcpServer; port: number; peers: Peer[] }> => {
  const peers: Peer[] = []
  const tcp = new TcpServer({
    bind: ['127.0.0.1'],
    port: 0,
    maxClients: () => 100,
    outputLimits: LIMITS,
    accept: (control) => {
      const peer: Peer = { id: peers.length, executed: 0, control }
      peers.push(peer)
      const handler: ConnectionHandler = {
        handle: () => ({ type: 'bulk', value: replyValue(peer.id, peer.executed++) }),
        protocol: () => 2,
        authRequired: () => false,
        queuedBytes: () => 0,
        closed: () => undefined,
      }
      return handler
    },
  })
  server = tcp
  const [address] = await tcp.listen()
  return { tcp, port: address!.port, peers }
}

/** Connects, pauses reading at once and pipelines `count` requests. */
const pipelineWithoutReading = async (port: number, count: number): Promise<net.Socket> => {
  const s = net.connect({ port, host: '127.0.0.1' })
  sockets.push(s)
  s.on('error', () => undefined)
  s.pause()
  await new Promise((resolve) => s.once('connect', resolve))
  s.write(Buffer.from('*1\r\n$3\r\nGET\r\n'.repeat(count)))
  return s
}

/** Polls `condition` (checking `invariant` each time) until it holds; throws after 20 s. */
const waitFor = async (what: string, condition: () => boolean, invariant: () => void = () => undefined): Promise<void> => {
  const deadline = Date.now() + 20_000
  for (;;) {
    invariant()
    if (condition()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Reads `count` replies from `s`, checking that each is exactly reply number i of `client`. */
const readAll = (s: net.Socket, client: number, count: number): Promise<number> =>
  new Promise((resolve, reject) => {
    let chunks: Buffer[] = []
    let have = 0
    let received = 0
    s.on('data', (d: Buffer) => {
      chunks.push(d)
      have += d.length
      while (have >= REPLY_FRAME && received < count) {
        const all = Buffer.concat(chunks)
        const frame = all.subarray(0, REPLY_FRAME)
        if (!frame.equals(replyBytes(client, received))) {
          reject(new Error(`client ${client}: reply ${received} is not the expected one: ${JSON.stringify(frame.subarray(0, 24).toString('latin1'))}`))
          return
        }
        received++
        chunks = [all.subarray(REPLY_FRAME)]
        have -= REPLY_FRAME
      }
      if (received === count) resolve(have)
    })
    s.resume()
  })

describe('the server-wide output budget (bug P5)', () => {
  it('pauses clients that do not read, and they get every reply in order once they read', async () => {
    const { tcp, port, peers } = await startServer()
    const clients = 8
    const requests = 1200 // 37.5 MiB of replies per client: far more than the kernel buffers hold
    const socks: net.Socket[] = []
    for (let i = 0; i < clients; i++) socks.push(await pipelineWithoutReading(port, requests))

    // Unsent output never exceeds budget + one reply + every client's floor and last reply (a
    // client under the floor may run one more command), nor any client its high water + one reply.
    const bound = LIMITS.budget + REPLY_FRAME + clients * (LIMITS.floor + REPLY_FRAME)
    let peakUnsent = 0
    const invariant = (): void => {
      peakUnsent = Math.max(peakUnsent, tcp.unsentOutputBytes)
      expect(tcp.unsentOutputBytes).toBeLessThanOrEqual(bound)
      for (const p of peers) expect(p.control.outputBufferBytes()).toBeLessThanOrEqual(LIMITS.clientHighWater + REPLY_FRAME)
    }
    // The budget is exceeded and clients wait for it: every client has filled its kernel buffers
    // and holds more than the floor, which only a paused client can.
    await waitFor(
      'clients paused by the budget',
      () => peers.length === clients && peers.every((p) => p.control.outputBufferBytes() > LIMITS.floor) && tcp.budgetWaiterCount > 0,
      invariant,
    )
    expect(tcp.stats.outputBudgetPauses).toBeGreaterThan(0)
    expect(tcp.unsentOutputBytes).toBeGreaterThan(LIMITS.budget - LIMITS.budget / 8)
    console.log(
      `outputBudget: unsent ${tcp.unsentOutputBytes} B (budget ${LIMITS.budget}), ${tcp.budgetWaiterCount} waiting, ` +
        `${tcp.stats.outputBudgetPauses} budget pauses; executed ${peers.map((p) => p.executed).join(' ')} of ${requests} each`,
    )
    // Nothing like all of the requests ran: their replies would not fit anywhere.
    for (const p of peers) expect(p.executed).toBeLessThan(requests)

    // One client stopped by the budget (under its own high water) stays unread; everyone else
    // reads everything. The output they free resumes the unread one through the budget (its own
    // socket never drains): it runs more requests, up to its own high water.
    const byPending = [...peers].sort((a, b) => a.control.outputBufferBytes() - b.control.outputBufferBytes())
    const stuck = byPending[0]!
    expect(stuck.control.outputBufferBytes()).toBeGreaterThan(LIMITS.floor)
    expect(stuck.control.outputBufferBytes()).toBeLessThanOrEqual(LIMITS.clientHighWater)
    const rest = peers.filter((p) => p !== stuck)
    const executedBefore = stuck.executed
    const readers = rest.map((p) => readAll(socks[p.id]!, p.id, requests))
    const leftovers = await Promise.all(readers)
    expect(leftovers.every((n) => n === 0)).toBe(true) // nothing after the last reply
    for (const p of rest) expect(p.executed).toBe(requests)
    await waitFor('the unread client resumed by others draining', () => stuck.control.outputBufferBytes() > LIMITS.clientHighWater, invariant)
    expect(stuck.executed).toBeGreaterThan(executedBefore)
    expect(stuck.executed).toBeLessThan(requests)

    // Now it reads too: all its replies, in order, then everything is drained.
    expect(await readAll(socks[stuck.id]!, stuck.id, requests)).toBe(0)
    expect(stuck.executed).toBe(requests)
    await waitFor('all output sent', () => tcp.unsentOutputBytes === 0 && tcp.budgetWaiterCount === 0, invariant)
    console.log(`outputBudget: peak unsent ${peakUnsent} B (bound ${bound})`)
  }, 60_000)

  it('leaves a client that reads alone while others hold the budget', async () => {
    const { tcp, port, peers } = await startServer()
    const hogs = 8
    for (let i = 0; i < hogs; i++) await pipelineWithoutReading(port, 1200)
    await waitFor('clients paused by the budget', () => peers.length === hogs && tcp.stats.outputBudgetPauses > 0 && tcp.budgetWaiterCount > 0)
    // A client that reads its replies as they come is under the floor whenever it is checked.
    const s = net.connect({ port, host: '127.0.0.1' })
    sockets.push(s)
    s.on('error', () => undefined)
    await new Promise((resolve) => s.once('connect', resolve))
    const id = hogs
    const reading = readAll(s, id, 200)
    for (let i = 0; i < 200; i++) s.write('*1\r\n$3\r\nGET\r\n')
    expect(await reading).toBe(0)
    expect(peers[id]!.executed).toBe(200)
    expect(tcp.unsentOutputBytes).toBeGreaterThan(LIMITS.budget * 0.75) // the others still hold it
  }, 60_000)
})

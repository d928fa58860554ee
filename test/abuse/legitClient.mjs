// A legitimate client in its own process (so the abusers in the test process cannot slow its
// event loop): SET then GET on one connection, one command in flight, ~1 ms apart, recording each
// round trip. Reads lines from stdin: "phase <name>" tags the following samples, "stop" prints
// {phase: {count, p50, p99, p999, max}} as one JSON line and exits.
// Usage: node legitClient.mjs <port> [password]
import net from 'node:net'
import readline from 'node:readline'

const port = Number(process.argv[2])
const password = process.argv[3]
const samples = new Map()
let phase = 'warmup'
let stopped = false

const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
let buf = ''
let waiting = null
socket.on('data', (d) => {
  buf += d.toString('latin1')
  tryResolve()
})
socket.on('error', (e) => {
  process.stderr.write(`legit client error: ${e.message}\n`)
  process.exit(2)
})
const tryResolve = () => {
  if (waiting === null) return
  const i = buf.indexOf('\r\n')
  if (i === -1) return
  if (buf[0] === '$') {
    const n = Number(buf.slice(1, i))
    if (n >= 0 && buf.length < i + 2 + n + 2) return
    const end = n < 0 ? i + 2 : i + 2 + n + 2
    const reply = buf.slice(0, end)
    buf = buf.slice(end)
    const w = waiting
    waiting = null
    w(reply)
    return
  }
  const reply = buf.slice(0, i + 2)
  buf = buf.slice(i + 2)
  const w = waiting
  waiting = null
  w(reply)
}
const call = (...args) =>
  new Promise((resolve) => {
    waiting = resolve
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
    tryResolve()
  })

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.startsWith('phase ')) phase = line.slice(6)
  if (line === 'stop') stopped = true
})

socket.on('connect', async () => {
  if (password !== undefined) await call('AUTH', password)
  process.stdout.write('ready\n')
  let i = 0
  while (!stopped) {
    const key = `legit:${i % 100}`
    const value = `v${i}`
    const t0 = performance.now()
    const r1 = await call('SET', key, value)
    const t1 = performance.now()
    const r2 = await call('GET', key)
    const t2 = performance.now()
    if (r1 !== '+OK\r\n' || r2 !== `$${value.length}\r\n${value}\r\n`) {
      process.stderr.write(`legit client: unexpected reply ${JSON.stringify(r1)} ${JSON.stringify(r2)}\n`)
      process.exit(3)
    }
    if (!samples.has(phase)) samples.set(phase, [])
    samples.get(phase).push(t1 - t0, t2 - t1)
    i++
    await new Promise((r) => setTimeout(r, 1))
  }
  const out = {}
  for (const [p, s] of samples) {
    s.sort((a, b) => a - b)
    out[p] = { count: s.length, p50: pct(s, 0.5), p99: pct(s, 0.99), p999: pct(s, 0.999), max: s[s.length - 1] ?? 0 }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
  socket.destroy()
  process.exit(0)
})

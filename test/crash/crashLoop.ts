/**
 * The real-process crash loop (issue 7; DURABILITY.md §9 tests 1, 2 and 7).
 *
 * A supervisor (this test process) runs `redust serve --appendfsync <policy>` as a child process
 * on one data directory and drives it with many concurrent connections; at a seeded random moment
 * it SIGKILLs the server, restarts it on the same directory and checks what was recovered
 * against what each client sent and what was acknowledged ("acknowledged" = the success reply was
 * received by this process before the kill).
 *
 * Workload, per cycle:
 * - `writers` connections, one command in flight each, choosing by seeded weights:
 *   - `INCR c:<w>` — after recovery, the counter is ≥ the last acknowledged value and ≤ the
 *     number of INCRs ever sent on it;
 *   - `SET s:<w>:<i> <unique value>` — every acknowledged one is present with its value; one
 *     not acknowledged is either absent or has its value; nothing else exists (no phantom);
 *   - `MULTI; INCR t:<w>; SET ta:<w>:<j> v; SET tb:<w>:<j> v; EXEC` — ta and tb are both present
 *     or both absent, t:<w> equals the number of transactions present, acknowledged ones present.
 * - `bankers` connections doing `MULTI; DECRBY acct:a x; INCRBY acct:b x; SET xfer:<id> "a b x";
 *   INCR bank:n; EXEC` between 100 accounts. After recovery, every balance equals the initial
 *   balance plus exactly the transfers whose xfer:<id> is present (so no transfer is partly
 *   applied), the total never changes, bank:n counts them, acknowledged transfers are present.
 *   An auditor MGETs all accounts while the server runs: the total is constant at every read.
 * - sometimes a `BGREWRITEAOF` (a checkpoint), so kills also land in the middle of one.
 *
 * After each restart the exact set of keys is known again (uncertain writes are resolved by
 * reading them), so DBSIZE must match exactly: this catches phantom keys without a full scan.
 * Older cycles' keys are re-read by sampling, and fully at the end.
 */
import { rmSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { ConnectionClosed, connectRetry, mulberry32, randInt, RespConn, RespError, sleep, startRedust, type Reply, type Rng, type ServerProcess } from './support.js'

export interface CrashLoopOptions {
  readonly policy: 'always' | 'everysec'
  readonly cycles: number
  readonly seed: number
  readonly writers: number
  readonly bankers: number
  /** The kill lands uniformly in [minKillMs, maxKillMs] after the workload starts. */
  readonly minKillMs: number
  readonly maxKillMs: number
  /** Probability, per cycle, of a BGREWRITEAOF during the cycle. */
  readonly checkpointChance: number
  readonly log?: (line: string) => void
}

export interface CrashLoopFigures {
  policy: string
  seed: number
  cycles: number
  restarts: number
  writesSent: number
  writesAcked: number
  incrAcked: number
  setAcked: number
  txAcked: number
  transfersAcked: number
  transfersApplied: number
  unackedResolvedPresent: number
  unackedResolvedAbsent: number
  audits: number
  checkpoints: number
  lost: number
  phantoms: number
  partialTx: number
  bankViolations: number
  /** Human-readable descriptions of the first violations. */
  violations: string[]
}

const ACCOUNTS = 100
const INITIAL = 1000

const isErr = (r: Reply): r is RespError => r instanceof RespError

interface Counter {
  sent: number
  acked: number
  /** The value read at the last recovery (a lower bound from now on). */
  floor: number
}

interface Tx {
  readonly w: number
  readonly j: number
  readonly value: string
  acked: boolean
}

interface Xfer {
  readonly id: number
  readonly a: number
  readonly b: number
  readonly x: number
  acked: boolean
}

/** Runs the loop; returns the figures (the caller asserts lost = 0 etc.). */
export const runCrashLoop = async (o: CrashLoopOptions): Promise<CrashLoopFigures> => {
  const log = o.log ?? ((line: string) => console.log(line))
  const rng: Rng = mulberry32(o.seed)
  const dir = mkdtempSync(path.join(tmpdir(), `redust-crash-${o.policy}-`))
  const f: CrashLoopFigures = {
    policy: o.policy,
    seed: o.seed,
    cycles: 0,
    restarts: 0,
    writesSent: 0,
    writesAcked: 0,
    incrAcked: 0,
    setAcked: 0,
    txAcked: 0,
    transfersAcked: 0,
    transfersApplied: 0,
    unackedResolvedPresent: 0,
    unackedResolvedAbsent: 0,
    audits: 0,
    checkpoints: 0,
    lost: 0,
    phantoms: 0,
    partialTx: 0,
    bankViolations: 0,
    violations: [],
  }
  const violation = (kind: 'lost' | 'phantoms' | 'partialTx' | 'bankViolations', msg: string): void => {
    f[kind]++
    if (f.violations.length < 30) f.violations.push(`[cycle ${f.cycles}] ${msg}`)
  }

  // Model. Everything known present after the last verification:
  const counters: Counter[] = Array.from({ length: o.writers }, () => ({ sent: 0, acked: 0, floor: 0 }))
  const setsPresent = new Map<string, string>() // key → value, verified present
  const txCount: number[] = Array.from({ length: o.writers }, () => 0) // verified t:<w> value
  const txPresent: Tx[] = []
  let xferPresentCount = 0
  let bankInitialised = false
  const balances: number[] = Array.from({ length: ACCOUNTS }, () => INITIAL)
  let setSeq = 0
  let txSeq = 0
  let xferSeq = 0

  const args = ['--dir', dir, '--appendfsync', o.policy, '--loglevel', 'notice']
  let server: ServerProcess = await startRedust(args)
  try {
    {
      const c = await connectRetry(server.port)
      const mset: string[] = ['MSET']
      for (let i = 0; i < ACCOUNTS; i++) mset.push(`acct:${i}`, String(INITIAL))
      const r = await c.call(...mset)
      if (r !== 'OK') throw new Error(`initial MSET: ${JSON.stringify(r)}`)
      bankInitialised = true
      c.close()
    }

    for (let cycle = 1; cycle <= o.cycles; cycle++) {
      f.cycles = cycle
      // --- this cycle's in-flight model
      const cycleSets = new Map<string, { value: string; acked: boolean }>()
      const cycleTx: Tx[] = []
      const cycleXfers: Xfer[] = []
      let stop = false
      const killAt = randInt(rng, o.minKillMs, o.maxKillMs)
      const checkpointAt = rng() < o.checkpointChance ? randInt(rng, 0, killAt) : -1

      const writer = async (w: number, wrng: Rng): Promise<void> => {
        const c = await RespConn.connect(server.port).catch((err: unknown) => {
          if (stop) return undefined
          throw err
        })
        if (c === undefined) return
        try {
          while (!stop) {
            const p = wrng()
            if (p < 0.4) {
              const ctr = counters[w]!
              ctr.sent++
              f.writesSent++
              const r = await c.call('INCR', `c:${w}`)
              if (typeof r === 'number') {
                if (r > ctr.acked) ctr.acked = r
                f.writesAcked++
                f.incrAcked++
              } else throw new Error(`INCR: ${JSON.stringify(r)}`)
            } else if (p < 0.8) {
              const key = `s:${w}:${setSeq++}`
              const value = `v${o.seed}:${cycle}:${Math.floor(wrng() * 1e9)}${wrng() < 0.1 ? 'x'.repeat(randInt(wrng, 100, 3000)) : ''}`
              const e = { value, acked: false }
              cycleSets.set(key, e)
              f.writesSent++
              const r = await c.call('SET', key, value)
              if (r === 'OK') {
                e.acked = true
                f.writesAcked++
                f.setAcked++
              } else throw new Error(`SET: ${JSON.stringify(r)}`)
            } else {
              const j = txSeq++
              const tx: Tx = { w, j, value: `tx${cycle}:${Math.floor(wrng() * 1e9)}`, acked: false }
              cycleTx.push(tx)
              f.writesSent++
              const rs = await c.pipeline([['MULTI'], ['INCR', `t:${w}`], ['SET', `ta:${w}:${j}`, tx.value], ['SET', `tb:${w}:${j}`, tx.value], ['EXEC']])
              const exec = rs[4]
              if (Array.isArray(exec) && exec.length === 3 && typeof exec[0] === 'number' && exec[1] === 'OK' && exec[2] === 'OK') {
                tx.acked = true
                f.writesAcked++
                f.txAcked++
              } else throw new Error(`EXEC: ${JSON.stringify(rs)}`)
            }
          }
        } catch (err) {
          if (!(err instanceof ConnectionClosed)) throw err
        } finally {
          c.close()
        }
      }

      const banker = async (brng: Rng): Promise<void> => {
        const c = await RespConn.connect(server.port).catch((err: unknown) => {
          if (stop) return undefined
          throw err
        })
        if (c === undefined) return
        try {
          while (!stop) {
            const a = randInt(brng, 0, ACCOUNTS - 1)
            let b = randInt(brng, 0, ACCOUNTS - 2)
            if (b >= a) b++
            const x = randInt(brng, 1, 50)
            const t: Xfer = { id: xferSeq++, a, b, x, acked: false }
            cycleXfers.push(t)
            f.writesSent++
            const rs = await c.pipeline([
              ['MULTI'],
              ['DECRBY', `acct:${a}`, String(x)],
              ['INCRBY', `acct:${b}`, String(x)],
              ['SET', `xfer:${t.id}`, `${a} ${b} ${x}`],
              ['INCR', 'bank:n'],
              ['EXEC'],
            ])
            const exec = rs[5]
            if (Array.isArray(exec) && exec.length === 4 && !exec.some(isErr)) {
              t.acked = true
              f.writesAcked++
              f.transfersAcked++
            } else throw new Error(`bank EXEC: ${JSON.stringify(rs)}`)
          }
        } catch (err) {
          if (!(err instanceof ConnectionClosed)) throw err
        } finally {
          c.close()
        }
      }

      const auditor = async (): Promise<void> => {
        const c = await RespConn.connect(server.port).catch((err: unknown) => {
          if (stop) return undefined
          throw err
        })
        if (c === undefined) return
        const keys = Array.from({ length: ACCOUNTS }, (_, i) => `acct:${i}`)
        try {
          while (!stop) {
            const r = await c.call('MGET', ...keys)
            if (!Array.isArray(r)) throw new Error(`MGET: ${JSON.stringify(r)}`)
            const total = r.reduce<number>((s, v) => s + Number(v), 0)
            f.audits++
            if (total !== ACCOUNTS * INITIAL) violation('bankViolations', `live audit: total ${total} ≠ ${ACCOUNTS * INITIAL}`)
            await sleep(5)
          }
        } catch (err) {
          if (!(err instanceof ConnectionClosed)) throw err
        } finally {
          c.close()
        }
      }

      const checkpointer = async (): Promise<void> => {
        if (checkpointAt < 0) return
        await sleep(checkpointAt)
        if (stop) return
        try {
          const c = await RespConn.connect(server.port)
          const r = await c.call('BGREWRITEAOF').catch(() => undefined)
          if (typeof r === 'string') f.checkpoints++
          c.close()
        } catch {
          /* killed meanwhile */
        }
      }

      const tasks: Array<Promise<void>> = []
      for (let w = 0; w < o.writers; w++) tasks.push(writer(w, mulberry32((o.seed ^ (cycle * 7919) ^ (w * 104729)) >>> 0)))
      for (let b = 0; b < o.bankers; b++) tasks.push(banker(mulberry32((o.seed ^ (cycle * 15485863) ^ ((b + 1) * 32452843)) >>> 0)))
      tasks.push(auditor(), checkpointer())
      const all = Promise.all(tasks)
      all.catch(() => undefined)

      await sleep(killAt)
      // SIGKILL at a random moment while every connection has a command in flight.
      await server.kill()
      stop = true
      await all

      server = await startRedust(args)
      f.restarts++

      // --- verify
      const c = await connectRetry(server.port)
      try {
        // counters
        const cr = await c.call('MGET', ...counters.map((_, w) => `c:${w}`))
        if (!Array.isArray(cr)) throw new Error(`MGET counters: ${JSON.stringify(cr)}`)
        counters.forEach((ctr, w) => {
          const v = cr[w] === null ? 0 : Number(cr[w])
          if (v < ctr.acked) violation('lost', `c:${w} = ${v} < last acknowledged ${ctr.acked}`)
          if (v < ctr.floor) violation('lost', `c:${w} = ${v} < value recovered earlier ${ctr.floor}`)
          if (v > ctr.sent) violation('phantoms', `c:${w} = ${v} > INCRs sent ${ctr.sent}`)
          ctr.floor = v
          ctr.acked = Math.max(ctr.acked, v) // recovered = the new baseline
          ctr.sent = Math.max(ctr.sent, v)
        })

        // this cycle's SETs
        const keys = [...cycleSets.keys()]
        for (let i = 0; i < keys.length; i += 500) {
          const batch = keys.slice(i, i + 500)
          const r = await c.call('MGET', ...batch)
          if (!Array.isArray(r)) throw new Error(`MGET sets: ${JSON.stringify(r)}`)
          batch.forEach((k, n) => {
            const e = cycleSets.get(k)!
            const v = r[n]
            if (v === null) {
              if (e.acked) violation('lost', `acknowledged SET ${k} missing`)
              else f.unackedResolvedAbsent++
            } else if (v !== e.value) {
              violation('phantoms', `${k} = ${JSON.stringify(String(v).slice(0, 60))}, sent ${JSON.stringify(e.value.slice(0, 60))}`)
            } else {
              if (!e.acked) f.unackedResolvedPresent++
              setsPresent.set(k, e.value)
            }
          })
        }

        // this cycle's transactions
        for (let i = 0; i < cycleTx.length; i += 250) {
          const batch = cycleTx.slice(i, i + 250)
          const r = await c.call('MGET', ...batch.flatMap((t) => [`ta:${t.w}:${t.j}`, `tb:${t.w}:${t.j}`]))
          if (!Array.isArray(r)) throw new Error(`MGET tx: ${JSON.stringify(r)}`)
          batch.forEach((t, n) => {
            const a = r[2 * n]
            const b = r[2 * n + 1]
            if ((a === null) !== (b === null)) violation('partialTx', `transaction ${t.w}:${t.j} partly applied (ta ${a === null ? 'absent' : 'present'}, tb ${b === null ? 'absent' : 'present'})`)
            if (a === null && b === null) {
              if (t.acked) violation('lost', `acknowledged transaction ${t.w}:${t.j} missing`)
              else f.unackedResolvedAbsent++
              return
            }
            if (a !== t.value || b !== t.value) violation('phantoms', `transaction ${t.w}:${t.j} values ${JSON.stringify([a, b])} ≠ ${t.value}`)
            if (!t.acked) f.unackedResolvedPresent++
            txPresent.push(t)
            txCount[t.w]!++
          })
        }
        const tr = await c.call('MGET', ...txCount.map((_, w) => `t:${w}`))
        if (!Array.isArray(tr)) throw new Error(`MGET t: ${JSON.stringify(tr)}`)
        txCount.forEach((n, w) => {
          const v = tr[w] === null ? 0 : Number(tr[w])
          if (v !== n) violation('partialTx', `t:${w} = ${v} but ${n} transactions of writer ${w} are present`)
          txCount[w] = v
        })

        // bank: balances must be exactly the initial ones plus the transfers present
        const xr = cycleXfers.length === 0 ? [] : await c.call('MGET', ...cycleXfers.map((t) => `xfer:${t.id}`))
        if (!Array.isArray(xr)) throw new Error(`MGET xfer: ${JSON.stringify(xr)}`)
        cycleXfers.forEach((t, n) => {
          const v = xr[n]
          if (v === null) {
            if (t.acked) violation('lost', `acknowledged transfer ${t.id} missing`)
            else f.unackedResolvedAbsent++
            return
          }
          if (v !== `${t.a} ${t.b} ${t.x}`) violation('phantoms', `xfer:${t.id} = ${JSON.stringify(v)}`)
          if (!t.acked) f.unackedResolvedPresent++
          balances[t.a]! -= t.x
          balances[t.b]! += t.x
          xferPresentCount++
          f.transfersApplied++
        })
        const br = await c.call('MGET', 'bank:n', ...balances.map((_, i) => `acct:${i}`))
        if (!Array.isArray(br)) throw new Error(`MGET bank: ${JSON.stringify(br)}`)
        const bankN = br[0] === null ? 0 : Number(br[0])
        if (bankN !== xferPresentCount) violation('bankViolations', `bank:n = ${bankN} but ${xferPresentCount} transfers are present`)
        let total = 0
        balances.forEach((expected, i) => {
          const v = Number(br[i + 1])
          total += v
          if (br[i + 1] === null && bankInitialised) violation('bankViolations', `acct:${i} missing`)
          else if (v !== expected) violation('bankViolations', `acct:${i} = ${v}, expected ${expected} from the transfers present`)
        })
        if (total !== ACCOUNTS * INITIAL) violation('bankViolations', `total after recovery ${total} ≠ ${ACCOUNTS * INITIAL}`)

        // older keys: a sample, and the exact key count (no phantom keys)
        const old = [...setsPresent.keys()]
        const sample: string[] = []
        for (let i = 0; i < Math.min(200, old.length); i++) sample.push(old[randInt(rng, 0, old.length - 1)]!)
        if (sample.length > 0) {
          const r = await c.call('MGET', ...sample)
          if (!Array.isArray(r)) throw new Error(`MGET sample: ${JSON.stringify(r)}`)
          sample.forEach((k, n) => {
            if (r[n] !== setsPresent.get(k)) violation('lost', `earlier SET ${k} = ${JSON.stringify(r[n])}, expected ${setsPresent.get(k)}`)
          })
        }
        const expectedKeys =
          ACCOUNTS +
          (xferPresentCount > 0 ? 1 : 0) +
          xferPresentCount +
          counters.filter((ctr) => ctr.floor > 0).length +
          setsPresent.size +
          txCount.filter((n) => n > 0).length +
          2 * txPresent.length
        const dbsize = await c.call('DBSIZE')
        if (dbsize !== expectedKeys) violation('phantoms', `DBSIZE ${JSON.stringify(dbsize)} ≠ ${expectedKeys} keys written and recovered`)
      } finally {
        c.close()
      }
      if (cycle % Math.max(1, Math.floor(o.cycles / 10)) === 0 || cycle === o.cycles) {
        log(
          `crash[${o.policy} seed=${o.seed}] cycle ${cycle}/${o.cycles}: acked ${f.writesAcked}/${f.writesSent} sent, lost ${f.lost}, phantoms ${f.phantoms}, partial tx ${f.partialTx}, bank violations ${f.bankViolations}`,
        )
      }
    }

    // final full check of every key ever verified present, after a clean restart
    const code = await server.stop()
    if (code.code !== 0) violation('lost', `clean shutdown exited with ${JSON.stringify(code)}`)
    server = await startRedust(args)
    const c = await connectRetry(server.port)
    const old = [...setsPresent.keys()]
    for (let i = 0; i < old.length; i += 1000) {
      const batch = old.slice(i, i + 1000)
      const r = await c.call('MGET', ...batch)
      if (!Array.isArray(r)) throw new Error('MGET')
      batch.forEach((k, n) => {
        if (r[n] !== setsPresent.get(k)) violation('lost', `after clean restart SET ${k} = ${JSON.stringify(r[n])}`)
      })
    }
    c.close()
  } catch (err) {
    log(`crash[${o.policy} seed=${o.seed}] aborted at cycle ${f.cycles}: ${(err as Error).message}\nserver output:\n${server.output().slice(-3000)}`)
    throw err
  } finally {
    await server.kill()
    rmSync(dir, { recursive: true, force: true })
  }
  return f
}

export const formatFigures = (f: CrashLoopFigures): string =>
  [
    `crash loop (${f.policy}), seed ${f.seed} — replay with CRASH_SEED=${f.seed}`,
    `  cycles ${f.cycles}, restarts ${f.restarts}, checkpoints started ${f.checkpoints}`,
    `  writes sent ${f.writesSent}, acknowledged ${f.writesAcked} (INCR ${f.incrAcked}, SET ${f.setAcked}, MULTI/EXEC ${f.txAcked}, bank transfers ${f.transfersAcked})`,
    `  unacknowledged writes found applied ${f.unackedResolvedPresent}, absent ${f.unackedResolvedAbsent}`,
    `  bank transfers applied ${f.transfersApplied}, live audits ${f.audits}`,
    `  LOST ${f.lost}, phantoms ${f.phantoms}, partial transactions ${f.partialTx}, bank violations ${f.bankViolations}`,
    ...f.violations.map((v) => `  ! ${v}`),
  ].join('\n')

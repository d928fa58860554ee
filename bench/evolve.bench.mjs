// Micro-benchmark guarding the state-representation decision (ARCHITECTURE.md, "State
// representation"): cost per write of the engine's `evolve` over the persistent keyspace, against
// a native Map updated in place and a native Map copied per write (the trap).
// Run after `npm run build`:  node bench/evolve.bench.mjs [keys]
import { Map as IMap } from 'immutable'
import { evolve } from '../dist/domain/evolve.js'
import { emptyState, batch } from '../dist/domain/keyspace.js'

const KEYS = Number(process.argv[2] ?? 100_000)
const WRITES = 200_000
const key = (i) => `key:${i}`

const time = (label, n, fn) => {
  const t0 = process.hrtime.bigint()
  fn()
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n
  console.log(`${label.padEnd(52)} ${us.toFixed(3).padStart(10)} µs/op`)
  return us
}

// Prefill KEYS keys through the transient batch path (like snapshot loading).
let state = batch(emptyState, (m) => {
  for (let i = 0; i < KEYS; i++) m.values[0] = m.values[0].set(key(i), 'x'.repeat(16))
})

console.log(`keyspace: ${KEYS} keys, node ${process.version}`)
time('evolve(ValueSet) on the persistent HAMT', WRITES, () => {
  for (let i = 0; i < WRITES; i++) {
    state = evolve(state, { type: 'ValueSet', db: 0, key: key((i * 7919) % KEYS), value: 'y'.repeat(16), expireAt: null })
  }
})
time('evolve(ValueSet with deadline)', WRITES, () => {
  for (let i = 0; i < WRITES; i++) {
    state = evolve(state, { type: 'ValueSet', db: 0, key: key((i * 7919) % KEYS), value: 'z', expireAt: 1e12 + i })
  }
})
time('batch replay (transient maps), ValueSet', WRITES, () => {
  state = batch(state, (m) => {
    for (let i = 0; i < WRITES; i++) m.values[0] = m.values[0].set(key((i * 7919) % KEYS), 'w')
  })
})
const native = new Map()
for (let i = 0; i < KEYS; i++) native.set(key(i), 'x')
time('native Map.set in place (reference)', WRITES, () => {
  for (let i = 0; i < WRITES; i++) native.set(key((i * 7919) % KEYS), 'y')
})
let copied = native
time('new Map(old).set per write (the trap; 50 writes)', 50, () => {
  for (let i = 0; i < 50; i++) copied = new Map(copied).set(key(i), 'y')
})
let im = IMap(native)
time('immutable Map.set (reference)', WRITES, () => {
  for (let i = 0; i < WRITES; i++) im = im.set(key((i * 7919) % KEYS), 'y')
})

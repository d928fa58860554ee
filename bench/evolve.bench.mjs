// Micro-benchmark guarding the state-representation decision (ARCHITECTURE.md, "State
// representation"): cost per write of the engine's `evolve` over the persistent keyspace
// (native Maps + rerooting), against a native Map updated in place and a native Map copied per
// write (the trap), plus the cost of going back to an old version (a reroot).
// Run after `npm run build`:  node bench/evolve.bench.mjs [keys]
import { evolve } from '../dist/domain/evolve.js'
import { emptyState, getValue, update } from '../dist/domain/keyspace.js'

const KEYS = Number(process.argv[2] ?? 100_000)
const WRITES = 1_000_000
// Flat strings, as the RESP decoder produces them (template literals leave cons strings).
const flat = (s) => Buffer.from(s, 'latin1').toString('latin1')
const keys = Array.from({ length: KEYS }, (_, i) => flat(`key:${i}`))
const key = (i) => keys[(i * 7919) % KEYS]

const time = (label, n, fn) => {
  const t0 = process.hrtime.bigint()
  fn()
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n
  console.log(`${label.padEnd(56)} ${us.toFixed(3).padStart(10)} µs/op`)
  return us
}

let state = update(emptyState, (w) => {
  for (let i = 0; i < KEYS; i++) w.put(0, keys[i], 'x'.repeat(16), null)
})

console.log(`keyspace: ${KEYS} keys, node ${process.version}`)
for (let round = 0; round < 2; round++) {
  time('evolve(ValueSet) on the keyspace (undo recorded)', WRITES, () => {
    for (let i = 0; i < WRITES; i++) state = evolve(state, { type: 'ValueSet', db: 0, key: key(i), value: 'y'.repeat(16), expireAt: null })
  })
  time('evolve(ValueSet with deadline)', WRITES, () => {
    for (let i = 0; i < WRITES; i++) state = evolve(state, { type: 'ValueSet', db: 0, key: key(i), value: 'z', expireAt: 1e12 + i })
  })
  time('getValue on the current version', WRITES, () => {
    let n = 0
    for (let i = 0; i < WRITES; i++) if (getValue(state, 0, key(i)) !== undefined) n++
    if (n !== WRITES) throw new Error('missing keys')
  })
  const old = state
  for (let i = 0; i < 1000; i++) state = evolve(state, { type: 'ValueSet', db: 0, key: key(i), value: 'w', expireAt: null })
  time('read an old version 1,000 writes back, then current (2 reroots)', 1, () => {
    getValue(old, 0, key(0))
    getValue(state, 0, key(0))
  })
}
const native = new Map()
for (let i = 0; i < KEYS; i++) native.set(keys[i], 'x')
time('native Map.set in place (reference)', WRITES, () => {
  for (let i = 0; i < WRITES; i++) native.set(key(i), 'y')
})
let copied = native
time('new Map(old).set per write (the trap; 50 writes)', 50, () => {
  for (let i = 0; i < 50; i++) copied = new Map(copied).set(key(i), 'y')
})

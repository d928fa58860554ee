/**
 * The long protocol fuzzing tier (`npm run test:fuzz`, vitest.fuzz.config.ts):
 * - 1,000,000 generated streams through the decoder in process, fragmented parse = one-piece
 *   parse, only protocol errors;
 * - 50,000 streams against a real server process in random chunks, with a watchdog PING on its
 *   own connection: the server never exits, closes every connection once its input ended, and
 *   never takes more than 1 s to answer the watchdog (issue 7's acceptance figure).
 * FUZZ_SEED replays a run; FUZZ_DECODER_RUNS / FUZZ_SERVER_INPUTS resize it.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { envInt, envSeed, startRedust, type ServerProcess } from '../crash/support.js'
import { decoderProperty } from './decoderFuzz.js'
import { formatServerFuzz, runServerFuzz } from './serverFuzz.js'

const SEED = envSeed('FUZZ_SEED')
let redust: ServerProcess

beforeAll(async () => {
  redust = await startRedust(['--appendonly', 'no', '--save', ''])
})
afterAll(async () => {
  await redust?.kill()
})

describe('protocol fuzzing (long)', () => {
  it('decoder: 1M inputs, fragmented = one piece, only protocol errors', () => {
    const numRuns = envInt('FUZZ_DECODER_RUNS', 1_000_000)
    console.log(`fuzz[decoder] seed ${SEED} (FUZZ_SEED=${SEED}), ${numRuns} inputs`)
    const t = performance.now()
    fc.assert(decoderProperty(), { numRuns, seed: SEED })
    console.log(`fuzz[decoder] ${numRuns} inputs passed in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  })

  it('real server: never exits, never hangs, watchdog answered within 1 s', async () => {
    const f = await runServerFuzz(redust, {
      inputs: envInt('FUZZ_SERVER_INPUTS', 50_000),
      seed: SEED,
      concurrency: 32,
      closeTimeoutMs: 5_000,
      log: (s) => console.log(s),
    })
    console.log(formatServerFuzz(SEED, f))
    expect(f.serverAlive).toBe(true)
    expect(f.stuck).toBe(0)
    expect(f.watchdogMaxMs).toBeLessThan(1000)
  })
})

/**
 * fast-check settings shared by every property test, so that any failure replays exactly.
 *
 * - `FC_SEED`: the seed to use (default: a fresh random seed per property).
 * - `FC_NUM_RUNS`: cases per property (default 1000, the acceptance minimum for `npm test`).
 * - `FC_PATH`: the shrink path fast-check prints with a failure; with `FC_SEED` it replays the
 *   minimal counterexample directly.
 *
 * Every property prints its name, seed and run count (console.log) before it runs, so a red CI
 * log always carries the line needed to replay it:
 *
 *     FC_SEED=123456789 npx vitest run test/app/replay.prop.spec.ts
 *
 * @category test support
 */
import fc from 'fast-check'

const envInt = (name: string): number | undefined => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`)
  return n
}

/** Cases per property: FC_NUM_RUNS, else 1000. */
export const NUM_RUNS: number = envInt('FC_NUM_RUNS') ?? 1000

const FIXED_SEED: number | undefined = envInt('FC_SEED')
const PATH: string | undefined = process.env['FC_PATH']?.trim() || undefined

/** A seed for one property: FC_SEED when given, else a fresh random 31-bit seed. */
export const seedFor = (): number => FIXED_SEED ?? Math.floor(Math.random() * 0x7fffffff)

/**
 * The parameters for one property run, after printing the replay line.
 * `extra` may override anything except the seed (e.g. `endOnFailure`, `examples`).
 */
export const settings = <Ts>(name: string, extra: fc.Parameters<Ts> = {}): fc.Parameters<Ts> => {
  const seed = seedFor()
  const numRuns = extra.numRuns ?? NUM_RUNS
  console.log(
    `[fast-check] ${name}: seed=${seed} numRuns=${numRuns}${PATH !== undefined ? ` path=${PATH}` : ''}` +
      ` (replay: FC_SEED=${seed}${PATH !== undefined ? ` FC_PATH=${PATH}` : ''})`,
  )
  return { ...extra, seed, numRuns, ...(PATH !== undefined ? { path: PATH } : {}) }
}

/** `fc.assert` for a synchronous property, with the shared settings and a printed seed. */
export const assertProperty = <Ts>(name: string, property: fc.IProperty<Ts>, extra: fc.Parameters<Ts> = {}): void => {
  fc.assert(property, settings(name, extra))
}

/** `fc.assert` for an asynchronous property, with the shared settings and a printed seed. */
export const assertAsyncProperty = <Ts>(
  name: string,
  property: fc.IAsyncProperty<Ts>,
  extra: fc.Parameters<Ts> = {},
): Promise<void> => fc.assert(property, settings(name, extra))

/**
 * P4: model-based test (`fc.commands` / `fc.modelRun`) of the engine against the deliberately
 * naive model of Redis 7.0 in test/support/model.ts.
 *
 * Each fast-check command is one generated step: a command from one of three clients, a time
 * advance, an active-expiry pass, or a scripted transaction (WATCH …, other clients' commands and
 * time advances, MULTI, queued commands, EXEC/DISCARD) — so WATCH conflicts caused by another
 * session and by expiry happen in most runs. After every command:
 * - the engine's reply must meet the model's expectation (exact, or a set for KEYS/SCAN, a member
 *   for RANDOMKEY, a range for DBSIZE while expired keys may linger);
 * - the engine's live keyspace (keys not past their deadline, with values and deadlines) must
 *   equal the model's, in every database.
 *
 * Replay a failure with the seed printed above it: `FC_SEED=<seed> npx vitest run <this file>`.
 */
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { Engine, PendingReply, type Session } from '../../src/app/engine.js'
import { MemoryLog } from '../../src/app/eventLog.js'
import * as Keyspace from '../../src/domain/keyspace.js'
import { DATABASE_COUNT } from '../../src/domain/primitives.js'
import type { Reply } from '../../src/domain/reply.js'
import { CLIENTS, renderArgv, showBytes, showOps, stepArb, type Op, type Step } from '../support/arbitraries.js'
import { DEFAULT_EPOCH, FakeClock } from '../support/fakeClock.js'
import { assertProperty } from '../support/fc.js'
import { mismatch, Model, normalize } from '../support/model.js'

/** The system under test: an engine with a fake clock, an in-memory log and one session per client. */
class Real {
  readonly clock = new FakeClock(DEFAULT_EPOCH)
  readonly log = new MemoryLog()
  readonly engine: Engine
  readonly sessions: Session[]
  /** The ops run so far, with replies, for failure messages. */
  readonly history: string[] = []

  constructor() {
    let seed = 7
    this.engine = new Engine({ clock: this.clock, log: this.log, random: () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) })
    this.sessions = Array.from({ length: CLIENTS }, () => this.engine.newSession())
  }

  execute(client: number, argv: ReadonlyArray<string>): Reply {
    const r = this.engine.execute(this.sessions[client]!, argv)
    return r instanceof PendingReply ? r.reply : r
  }
}

const show = (r: Reply): string => JSON.stringify(normalize(r))

/** The live entries (value and deadline of each key not past its deadline) of one database. */
const liveEntries = (real: Real, db: number) =>
  Keyspace.entriesSorted(real.engine.state, db)
    .filter(([, e]) => !(e.expireAt !== null && real.clock.now() > e.expireAt))
    .map(([k, e]) => [k, { value: e.value, expireAt: e.expireAt }])

const fail = (real: Real, message: string): never => {
  throw new Error(`${message}\n  history (oldest first):\n    ${real.history.join('\n    ')}`)
}

/** Runs one op on both sides and compares. */
const runOp = (model: Model, real: Real, op: Op): void => {
  switch (op.kind) {
    case 'advance':
      model.advance(op.ms)
      real.clock.advance(op.ms)
      real.history.push(`+${op.ms}ms`)
      return
    case 'activeExpiry':
      model.activeExpiry()
      real.engine.runActiveExpiry()
      real.history.push('active-expiry')
      break
    case 'command': {
      if (model.now !== real.clock.now()) fail(real, `clocks diverged: model ${model.now}, engine ${real.clock.now()}`)
      const argv = renderArgv(op.argv, real.clock.now())
      const expected = model.execute(op.client, argv)
      const actual = real.execute(op.client, argv)
      real.history.push(`c${op.client}> ${argv.map(showBytes).join(' ')}  →  ${show(actual)}`)
      const why = mismatch(expected, actual)
      if (why !== undefined) fail(real, `c${op.client}> ${argv.map(showBytes).join(' ')}: ${why}`)
      break
    }
  }
  for (let db = 0; db < DATABASE_COUNT; db++) {
    const want = JSON.stringify(model.liveEntries(db))
    const got = JSON.stringify(liveEntries(real, db))
    if (want !== got) fail(real, `after the last op, db ${db} holds\n    ${got}\n  but the model holds\n    ${want}`)
  }
}

/** One generated step as a fast-check command. */
class StepCommand implements fc.Command<Model, Real> {
  constructor(readonly step: Step) {}
  check(): boolean {
    return true
  }
  run(model: Model, real: Real): void {
    for (const op of this.step) runOp(model, real, op)
  }
  toString(): string {
    return showOps(this.step)
  }
}

describe('the engine against a naive model of Redis 7.0 (P4)', () => {
  it('P4: every reply and the live keyspace match the model, across clients, databases, time, expiry and MULTI/EXEC/WATCH', () => {
    assertProperty(
      'P4 engine ≡ model',
      fc.property(fc.commands([stepArb.map((s) => new StepCommand(s))], { maxCommands: 28, size: 'max' }), (cmds) => {
        fc.modelRun(() => ({ model: new Model(DEFAULT_EPOCH), real: new Real() }), cmds)
      }),
    )
  })
})

/**
 * Given / when / then for the Decider (emmett's DeciderSpecification, for Redust):
 *
 *     given([valueSet(0, 'k', 'v', null)])
 *       .when(['GET', 'k'], { now: T0 })
 *       .then([], bulk('v'))
 *
 * `given` folds its events into a state with `fold` (from the empty state unless another is
 * given), `when` parses an argv through the command table (`lookupCommand(name).parse`, after
 * Redis's arity check) and decides it at `now` in database `db`, and `then` asserts the decided
 * events and the reply. Domain tests never touch the engine or a log.
 *
 * Arity and parse errors come back as the reply with no events, as the engine would send them;
 * an unknown command name is a mistake in the test and throws.
 *
 * @category test support
 */
import { expect } from 'vitest'
import { arityOk, type Decision } from '../../src/domain/command.js'
import { fold, initialState, lookupCommand } from '../../src/domain/decide.js'
import type { Event } from '../../src/domain/event.js'
import type { State } from '../../src/domain/keyspace.js'
import type { Bytes, EpochMs } from '../../src/domain/primitives.js'
import { Errors, type Reply } from '../../src/domain/reply.js'
import { DEFAULT_EPOCH } from './fakeClock.js'

/** The execution-unit context of a `when`: `now` is required, db defaults to 0, seed to 0. */
export interface When {
  readonly now?: EpochMs
  readonly db?: number
  readonly seed?: number
}

export interface Outcome {
  /** The state the command was decided against. */
  readonly before: State
  /** The raw decision (events, reply, selectDb). */
  readonly decision: Decision
  /** `before` with the decided events folded in. */
  readonly after: State
}

export class Then {
  constructor(readonly outcome: Outcome) {}

  /** Asserts the decided events (in order) and the reply; returns the state after them. */
  then(events: ReadonlyArray<Event>, reply: Reply): State {
    expect(this.outcome.decision.reply).toEqual(reply)
    expect(this.outcome.decision.events).toEqual(events)
    return this.outcome.after
  }

  /** Asserts that nothing happened (no events) and the reply. */
  thenNothingHappened(reply: Reply): State {
    return this.then([], reply)
  }

  /** Asserts the reply only; returns the decided events for further checks. */
  thenReply(reply: Reply): ReadonlyArray<Event> {
    expect(this.outcome.decision.reply).toEqual(reply)
    return this.outcome.decision.events
  }

  /** Asserts an error reply with exactly this text (code prefix included) and no events. */
  thenError(message: string): void {
    this.then([], { type: 'error', message })
  }
}

export class Given {
  constructor(readonly state: State) {}

  /** Decides `argv` (command name first, any case) at `now` in database `db`. */
  when(argv: ReadonlyArray<Bytes>, ctx: When = {}): Then {
    return new Then(decideArgv(this.state, argv, ctx))
  }
}

/** Starts a specification from the events that happened so far (folded from the empty state). */
export const given = (events: ReadonlyArray<Event> = [], from: State = initialState): Given =>
  new Given(fold(from, events))

/** Starts a specification from an existing state. */
export const givenState = (state: State): Given => new Given(state)

/** Parses and decides one argv against a state, as the engine does outside a transaction. */
export const decideArgv = (state: State, argv: ReadonlyArray<Bytes>, ctx: When = {}): Outcome => {
  const name = argv[0]
  if (name === undefined) throw new Error('decideArgv: empty argv')
  const spec = lookupCommand(name)
  if (spec === undefined) throw new Error(`decideArgv: no data command named ${JSON.stringify(name)}`)
  const nothing = (reply: Reply): Outcome => ({ before: state, decision: { events: [], reply }, after: state })
  if (!arityOk(spec.arity, argv.length)) return nothing(Errors.wrongArity(spec.name))
  const parsed = spec.parse(argv.slice(1)) as { readonly type: string } | Extract<Reply, { type: 'error' }>
  if (parsed.type === 'error') return nothing(parsed as Reply)
  const decision = spec.decide(parsed, state, { now: ctx.now ?? DEFAULT_EPOCH, db: ctx.db ?? 0, seed: ctx.seed ?? 0 })
  return { before: state, decision, after: fold(state, decision.events) }
}

#!/usr/bin/env node
/**
 * The `redust` binary. Each subcommand lives in its own module under app/cli/ and registers
 * itself on the program here, so adding one (`log`, `replay`, `history`, `diff`, `dump`) is one
 * import and one line in {@link SUBCOMMANDS}.
 *
 * @category cli
 */
import { randomInt } from 'node:crypto'
import { Command } from 'commander'
import { saltTableSeeds } from '../domain/keyTable.js'
import { registerServe } from './cli/serve.js'
import { registerInspectCommands } from './cli/inspect/index.js'
import { REDUST_VERSION } from './server/server.js'

/** Every subcommand's registration, in `redust --help` order. */
const SUBCOMMANDS: ReadonlyArray<(program: Command) => void> = [registerServe, registerInspectCommands]

// Every hash table of this process gets a seed no other process shares, so a snapshot written by
// one process never arrives in the slot order of the table loading it (domain/keyTable.ts).
saltTableSeeds(randomInt(2 ** 31))

const program = new Command('redust')
  .description('Redust: a Redis-compatible, event-sourced in-memory database')
  .version(REDUST_VERSION, '-v, --version')
  .showHelpAfterError()

for (const register of SUBCOMMANDS) register(program)

await program.parseAsync(process.argv)

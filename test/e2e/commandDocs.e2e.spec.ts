/**
 * COMMAND DOCS over the wire is complete enough for redis-cli: rendering each command's argument
 * tree the way redis-cli 7 does (`cliAddArgument`) gives back the command's synopsis, for every
 * command Redust has — data, transaction, connection and server commands and subcommands.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RedustServer } from '../../src/app/server/server.js'
import { isContainer } from '../../src/app/server/commandDocs.js'
import { startTestServer } from './support.js'

let server: RedustServer
let client: Redis
beforeAll(async () => {
  server = await startTestServer()
  client = new Redis({ port: server.port, host: '127.0.0.1', protocol: 2 })
})
afterAll(async () => {
  client.disconnect()
  await server.close()
})

type Flat = ReadonlyArray<unknown>
const field = (flat: Flat, name: string): unknown => {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1]
  return undefined
}

/** redis-cli 7's `cliAddArgument`, over a RESP2 (flat key/value) argument map. */
const renderArgument = (arg: Flat): string => {
  const name = field(arg, 'name') as string
  const type = field(arg, 'type') as string
  const token = field(arg, 'token') as string | undefined
  const flags = (field(arg, 'flags') as string[] | undefined) ?? []
  const nested = (field(arg, 'arguments') as Flat[] | undefined) ?? []
  let repeat = ''
  if (['key', 'string', 'integer', 'double', 'pattern', 'unix-time', 'token'].includes(type)) repeat = name
  else if (type === 'oneof') repeat = nested.map(renderArgument).join('|')
  else if (type === 'block') repeat = nested.map(renderArgument).join(' ')
  else expect(type).toBe('pure-token')
  let tokenPart = token ?? ''
  if (tokenPart !== '' && type !== 'pure-token') tokenPart += ' '
  let out = tokenPart + repeat
  if (flags.includes('multiple')) out += ` [${flags.includes('multiple_token') ? tokenPart : ''}${repeat} ...]`
  return flags.includes('optional') ? `[${out}]` : out
}

const normalize = (syntax: string): string => syntax.replace(/\s*\|\s*/g, '|').replace(/\s+/g, ' ').trim()

describe('COMMAND DOCS', () => {
  it('gives every command a summary, since, group and complexity', async () => {
    const docs = (await client.call('COMMAND', 'DOCS')) as Flat
    const names = new Set<string>()
    for (let i = 0; i < docs.length; i += 2) {
      const doc = docs[i + 1] as Flat
      names.add(docs[i] as string)
      for (const f of ['summary', 'since', 'group', 'complexity']) expect(typeof field(doc, f), `${String(docs[i])} ${f}`).toBe('string')
    }
    for (const meta of server.engine.commands()) expect(names.has(meta.name)).toBe(true)
  })

  it("renders back to each command's synopsis the way redis-cli does", async () => {
    const metas = server.engine.commands().flatMap((m) => (isContainer(m) ? [m, ...m.subcommands] : [m]))
    const reply = (await client.call('COMMAND', 'DOCS', ...metas.map((m) => m.name))) as Flat
    const byName = new Map<string, Flat>()
    for (let i = 0; i < reply.length; i += 2) byName.set(reply[i] as string, reply[i + 1] as Flat)
    for (const meta of metas) {
      const doc = byName.get(meta.name)
      expect(doc, meta.name).toBeDefined()
      const args = (field(doc!, 'arguments') as Flat[] | undefined) ?? []
      expect(args.map(renderArgument).join(' '), meta.name).toBe(normalize(meta.syntax))
    }
  })

  it('answers COMMAND INFO for a subcommand and nil for an unknown command', async () => {
    const info = (await client.call('COMMAND', 'INFO', 'client|setname', 'nosuch')) as Flat
    expect((info[0] as Flat)[0]).toBe('client|setname')
    expect((info[0] as Flat)[1]).toBe(3)
    expect(info[1]).toBeNull()
  })

  it('finds the keys of a command with COMMAND GETKEYS', async () => {
    expect(await client.call('COMMAND', 'GETKEYS', 'MSET', 'a', '1', 'b', '2')).toEqual(['a', 'b'])
    await expect(client.call('COMMAND', 'GETKEYS', 'PING', 'x')).rejects.toThrow('ERR The command has no key arguments')
    // Redis 7.0.15: COMMAND GETKEYS has arity -4.
    await expect(client.call('COMMAND', 'GETKEYS', 'PING')).rejects.toThrow("ERR wrong number of arguments for 'command|getkeys' command")
  })
})

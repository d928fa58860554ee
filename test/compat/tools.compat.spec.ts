/**
 * redis-cli and redis-benchmark (7.0.15) against Redust, as users run them (CLIENTS.md §8):
 * one-shot commands, `-3`, `--pipe` mass insert, the interactive prompt in a real terminal
 * (tmux) with help generated from COMMAND DOCS, and the benchmark suite Redust supports.
 */
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RedustServer } from '../../src/app/server/server.js'
import { startTestServer } from '../e2e/support.js'
import { run } from './support.js'

let server: RedustServer
const cli = (...args: string[]) => run('redis-cli', ['-p', String(server.port), ...args])

beforeAll(async () => {
  server = await startTestServer()
})
afterAll(async () => {
  await server.close()
})

describe('redis-cli one-shot', () => {
  it('runs commands and prints replies like against Redis', async () => {
    expect((await cli('set', 'a', '1')).stdout).toBe('OK\n')
    expect((await cli('incr', 'a')).stdout).toBe('2\n')
    expect((await cli('get', 'nokey')).stdout).toBe('\n')
    expect((await cli('--no-raw', 'get', 'nokey')).stdout).toBe('(nil)\n')
    // redis-cli prints an error reply followed by an empty line when stdout is not a terminal.
    expect((await cli('foo', 'bar')).stdout).toBe("ERR unknown command 'foo', with args beginning with: 'bar' \n\n")
    expect((await cli('ping')).stdout).toBe('PONG\n')
  })

  it('switches to RESP3 with -3 without a HELLO failure', async () => {
    const result = await cli('-3', 'get', 'a')
    expect(result.stderr).not.toContain('HELLO 3 failed')
    expect(result.stdout).toBe('2\n')
  })

  it('prints INFO raw', async () => {
    const result = await cli('info', 'server')
    expect(result.stdout).toContain('# Server\r\nredis_version:7.0.15\r\n')
  })
})

describe('redis-cli --pipe', () => {
  it('mass-inserts 100k keys mixing inline and multibulk commands with no errors', async () => {
    const parts: string[] = []
    for (let i = 0; i < 100_000; i++) {
      const k = `pipe:${i}`
      const v = `value:${i}`
      parts.push(i % 2 === 0 ? `SET ${k} ${v}\r\n` : `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`)
    }
    const result = await run('redis-cli', ['-p', String(server.port), '--pipe'], parts.join(''))
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('errors: 0, replies: 100000')
    expect((await cli('get', 'pipe:99999')).stdout).toBe('value:99999\n')
    expect((await cli('exists', 'pipe:0', 'pipe:50000')).stdout).toBe('2\n')
  })
})

describe('redis-cli interactive (in tmux)', () => {
  const socket = `redust-compat-${process.pid}`
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' })
  const screen = (): string => tmux('capture-pane', '-p', '-t', 'cli')
  const waitFor = async (text: string): Promise<string> => {
    const deadline = Date.now() + 20_000
    for (;;) {
      const s = screen()
      if (s.includes(text)) return s
      if (Date.now() > deadline) throw new Error(`"${text}" never appeared; screen:\n${s}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const type = (line: string): void => {
    tmux('send-keys', '-t', 'cli', '-l', line)
    tmux('send-keys', '-t', 'cli', 'Enter')
  }

  beforeAll(() => {
    tmux('new-session', '-d', '-s', 'cli', '-x', '200', '-y', '60', `redis-cli -p ${server.port}`)
  })
  afterAll(() => {
    tmux('kill-server')
  })

  it('shows help built from COMMAND DOCS, without an error at start-up', async () => {
    await waitFor(`127.0.0.1:${server.port}>`)
    type('help set')
    const s = await waitFor('group: string')
    expect(s).toContain('SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]')
    expect(s).not.toMatch(/ERR|error/i)
    type('help client setname')
    expect(await waitFor('CLIENT SETNAME connection-name')).toContain('group: connection')
  })

  it('runs a transaction with the (TX) prompt', async () => {
    await waitFor(`127.0.0.1:${server.port}>`)
    type('multi')
    await waitFor(`127.0.0.1:${server.port}(TX)>`)
    type('set tx 1')
    await waitFor('(TX)> set tx 1\nQUEUED')
    type('incr tx')
    await waitFor('(TX)> incr tx\nQUEUED')
    type('exec')
    const s = await waitFor('2) (integer) 2')
    expect(s).toContain('1) OK')
  })
})

describe('redis-benchmark', () => {
  it('finishes -t ping,set,get,incr,mset -n 100000 -P 16 with no error', async () => {
    const result = await run('redis-benchmark', ['-p', String(server.port), '-q', '-t', 'ping,set,get,incr,mset', '-n', '100000', '-P', '16'])
    expect(result.code).toBe(0)
    const output = `${result.stdout}\n${result.stderr}`
    expect(output).not.toContain('Error from server')
    expect(output).not.toContain('Could not fetch server CONFIG')
    for (const test of ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'MSET (10 keys)']) {
      expect(output).toMatch(new RegExp(`${test.replace(/[()]/g, '\\$&')}: [\\d.]+ requests per second`))
    }
  })
})

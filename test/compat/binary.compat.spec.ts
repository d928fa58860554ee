/**
 * The built `redust` binary as users start it: `redust serve` with options or a redis.conf-style
 * file, answering redis-cli, keeping data across a SIGTERM restart, shutting down with exit code
 * 0, and refusing invalid configuration with a message and a non-zero exit.
 */
import { writeFileSync } from 'node:fs'
import * as path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BINARY, RedustProcess, run, tempDir } from './support.js'

const cleanups: Array<() => void | Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const serve = async (args: ReadonlyArray<string>): Promise<RedustProcess> => {
  const p = await RedustProcess.start(args)
  cleanups.push(() => p.stop('SIGKILL'))
  return p
}
const workDir = (): string => {
  const t = tempDir()
  cleanups.push(() => t.cleanup())
  return t.dir
}
const cli = (port: number, ...args: string[]) => run('redis-cli', ['-p', String(port), ...args])

describe('redust serve', () => {
  it('serves redis-cli, logs a start-up line, and exits 0 on SIGTERM', async () => {
    const dir = workDir()
    const p = await serve(['--port', '0', '--dir', dir])
    expect((await cli(p.port, 'ping')).stdout).toBe('PONG\n')
    const ready = p.output.text.split('\n').find((l) => l.includes('Ready to accept connections'))!
    const line = JSON.parse(ready) as Record<string, unknown>
    expect(line).toMatchObject({ version: expect.any(String), dir, keysLoaded: 0, appendonly: true })
    expect(line.replayMs).toEqual(expect.any(Number))
    expect(await p.stop('SIGTERM')).toBe(0)
  })

  it('keeps acknowledged writes across a restart, and replays them before listening', async () => {
    const dir = workDir()
    const first = await serve(['--port', '0', '--dir', dir, '--save', ''])
    expect((await cli(first.port, 'set', 'durable', 'yes')).stdout).toBe('OK\n')
    expect((await cli(first.port, 'set', 'ttl', 'x', 'EX', '1000')).stdout).toBe('OK\n')
    expect(await first.stop('SIGTERM')).toBe(0)
    const second = await serve(['--port', '0', '--dir', dir])
    expect((await cli(second.port, 'get', 'durable')).stdout).toBe('yes\n')
    expect(Number((await cli(second.port, 'ttl', 'ttl')).stdout)).toBeGreaterThan(900)
    expect((await cli(second.port, 'info', 'persistence')).stdout).toContain('loading:0')
  })

  it('shuts down with SHUTDOWN, snapshotting first, with exit code 0', async () => {
    const dir = workDir()
    const p = await serve(['--port', '0', '--dir', dir])
    await cli(p.port, 'set', 'k', 'v')
    await cli(p.port, 'shutdown')
    expect(await p.exited).toBe(0)
    expect(p.output.text).toContain('Snapshot saved on disk')
  })

  it('answers SAVE, BGSAVE, BGREWRITEAOF and LASTSAVE, and exits 0 on SIGTERM during a BGSAVE', async () => {
    const dir = workDir()
    const p = await serve(['--port', '0', '--dir', dir])
    const before = Math.floor(Date.now() / 1000) - 1
    await cli(p.port, 'set', 'k', 'v')
    expect((await cli(p.port, 'save')).stdout).toBe('OK\n')
    expect(Number((await cli(p.port, 'lastsave')).stdout)).toBeGreaterThanOrEqual(before)
    expect((await cli(p.port, 'info', 'persistence')).stdout).toContain('rdb_changes_since_last_save:0')
    expect((await cli(p.port, 'bgrewriteaof')).stdout).toMatch(/^(Background append only file rewriting started|ERR Background append only file rewriting already in progress)\n/)
    await cli(p.port, 'set', 'k2', 'v2')
    expect((await cli(p.port, 'bgsave')).stdout).toMatch(/^(Background saving started|ERR Background save already in progress)\n/)
    expect(await p.stop('SIGTERM')).toBe(0)
    expect(p.output.text).toContain('Snapshot saved on disk')
    const again = await serve(['--port', '0', '--dir', dir])
    expect((await cli(again.port, 'mget', 'k', 'k2')).stdout).toBe('v\nv2\n')
  })

  it('reads a redis.conf-style file, with command-line options taking precedence', async () => {
    const dir = workDir()
    const conf = path.join(dir, 'redust.conf')
    writeFileSync(conf, `# Redust test config\nport 0\ndir "${dir}"\nrequirepass "s3cret"\nappendfsync always\nsave 900 1\nsave 300 10\n`)
    const p = await serve([conf, '--maxclients', '77'])
    expect((await cli(p.port, 'ping')).stdout).toContain('NOAUTH Authentication required.')
    const auth = ['-a', 's3cret', '--no-auth-warning']
    expect((await cli(p.port, ...auth, 'config', 'get', 'maxclients')).stdout).toBe('maxclients\n77\n')
    expect((await cli(p.port, ...auth, 'config', 'get', 'save')).stdout).toBe('save\n900 1 300 10\n')
    expect((await cli(p.port, ...auth, 'config', 'get', 'appendfsync')).stdout).toBe('appendfsync\nalways\n')
  })

  it('refuses invalid options and config files with a clear message and exit code 1', async () => {
    const dir = workDir()
    const bad = path.join(dir, 'bad.conf')
    writeFileSync(bad, 'port 7000\nno-such-directive yes\n')
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [['--port', 'abc'], "argument couldn't be parsed into an integer"],
      [['--maxclients', '0'], 'argument must be between 1 and 4294967295 inclusive'],
      [['--appendfsync', 'sometimes'], 'argument(s) must be one of the following: everysec, always, no'],
      [['--nosuch', '1'], 'Bad directive or wrong number of arguments'],
      [[bad], 'at line 2'],
      [[path.join(dir, 'missing.conf')], "can't open config file"],
    ]
    for (const [args, message] of cases) {
      const result = await run(process.execPath, [BINARY, 'serve', ...args])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(message)
    }
  })

  it('reports a port already in use and exits 1', async () => {
    const dir = workDir()
    const p = await serve(['--port', '0', '--appendonly', 'no'])
    const result = await run(process.execPath, [BINARY, 'serve', '--port', String(p.port), '--dir', dir])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('Could not create server TCP listening socket')
  })
})

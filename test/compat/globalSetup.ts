/**
 * Compat-tier setup: builds dist/ (the tests run the real `redust` binary) and checks that
 * redis-cli, redis-benchmark and tmux (for the interactive redis-cli test) are installed,
 * failing early with a clear message when they are not.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  for (const [tool, pkg] of [
    ['redis-cli', 'redis-tools'],
    ['redis-benchmark', 'redis-tools'],
    ['tmux', 'tmux'],
  ] as const) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`${tool} is not installed: the compat tier needs it (apt-get install -y ${pkg})`)
      }
    }
  }
}

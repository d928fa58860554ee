/**
 * Compat-tier setup: builds dist/ (the tests run the real `redust` binary) and checks that the
 * Redis tools are installed, failing early with a clear message when they are not.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  for (const tool of ['redis-cli', 'redis-benchmark']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' })
    } catch {
      throw new Error(`${tool} is not installed: the compat tier needs redis-tools (apt-get install -y redis-tools)`)
    }
  }
}

/**
 * The domain is pure (invariant I2): it imports nothing from Node, infra or app, and reads no
 * clock or random source. Checked on the source text so a violation fails the build early.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const DOMAIN = join(import.meta.dirname, '../../src/domain')

const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : []
  })

describe('src/domain purity', () => {
  const files = sources(DOMAIN)

  it('has source files to check', () => expect(files.length).toBeGreaterThan(5))

  it.each(files.map((f) => [f.slice(DOMAIN.length + 1), f]))('%s imports only domain modules and npm libraries', (_, file) => {
    const text = readFileSync(file, 'utf8')
    const imports = [...text.matchAll(/^import\s.*?from\s+'([^']+)'/gms)].map((m) => m[1]!)
    for (const spec of imports) {
      expect(spec.startsWith('node:') || ['fs', 'net', 'path', 'os', 'crypto', 'child_process'].includes(spec), spec).toBe(false)
      expect(/(^|\/)(infra|app)\//.test(spec) || spec.startsWith('../../'), spec).toBe(false)
    }
  })

  it.each(files.map((f) => [f.slice(DOMAIN.length + 1), f]))('%s reads no clock and no random source', (_, file) => {
    const text = readFileSync(file, 'utf8')
    expect(text).not.toMatch(/Date\.now\(|new Date\(\)|Math\.random\(|performance\.now\(|process\./)
  })
})

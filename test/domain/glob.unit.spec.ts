/**
 * Redis glob matching (KEYS, SCAN MATCH). The explicit cases were each checked against
 * redis-server 7.0.15 with KEYS over binary keys; the property compares the iterative matcher with
 * a line-by-line port of Redis 7.0.15's recursive `stringmatchlen_impl` (util.c), NUL terminator
 * and signed `char` included.
 *
 * Replay a failure with FC_SEED=<seed> (and FC_NUM_RUNS); the seed is printed on every run.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { globMatch } from '../../src/domain/glob.js'

const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : Date.now() ^ (Math.random() * 0x7fffffff)
const numRuns = Math.max(1000, process.env.FC_NUM_RUNS !== undefined ? Number(process.env.FC_NUM_RUNS) : 5000)
console.log(`glob.unit: FC_SEED=${seed} FC_NUM_RUNS=${numRuns}`)

// ---------------------------------------------------------------------------------------------
// the oracle: Redis 7.0.15 stringmatchlen_impl, transliterated (nocase = 0)
// ---------------------------------------------------------------------------------------------

const redisStringMatchLen = (pattern: string, subject: string): boolean => {
  // C strings: reading one past the end yields the NUL terminator.
  const P = (i: number): number => (i < pattern.length ? pattern.charCodeAt(i) : 0)
  const S = (i: number): number => (i < subject.length ? subject.charCodeAt(i) : 0)
  const signedChar = (c: number): number => (c << 24) >> 24
  let skipLongerMatches = false
  const impl = (p: number, plen: number, s: number, slen: number): boolean => {
    while (plen > 0 && slen > 0) {
      const c = P(p)
      if (c === 0x2a /* '*' */) {
        while (plen > 0 && P(p + 1) === 0x2a) {
          p++
          plen--
        }
        if (plen === 1) return true
        while (slen > 0) {
          if (impl(p + 1, plen - 1, s, slen)) return true
          if (skipLongerMatches) return false
          s++
          slen--
        }
        skipLongerMatches = true
        return false
      } else if (c === 0x3f /* '?' */) {
        s++
        slen--
      } else if (c === 0x5b /* '[' */) {
        p++
        plen--
        const not = P(p) === 0x5e
        if (not) {
          p++
          plen--
        }
        let match = false
        for (;;) {
          if (P(p) === 0x5c && plen >= 2) {
            p++
            plen--
            if (P(p) === S(s)) match = true
          } else if (P(p) === 0x5d) {
            break
          } else if (plen === 0) {
            p--
            plen++
            break
          } else if (plen >= 3 && P(p + 1) === 0x2d) {
            let start = signedChar(P(p))
            let end = signedChar(P(p + 2))
            const ch = signedChar(S(s))
            if (start > end) [start, end] = [end, start]
            p += 2
            plen -= 2
            if (ch >= start && ch <= end) match = true
          } else if (P(p) === S(s)) {
            match = true
          }
          p++
          plen--
        }
        if (not) match = !match
        if (!match) return false
        s++
        slen--
      } else {
        if (c === 0x5c /* '\\' */ && plen >= 2) {
          p++
          plen--
        }
        if (P(p) !== S(s)) return false
        s++
        slen--
      }
      p++
      plen--
      if (slen === 0) {
        while (P(p) === 0x2a) {
          p++
          plen--
        }
        break
      }
    }
    return plen === 0 && slen === 0
  }
  return impl(0, pattern.length, 0, subject.length)
}

// ---------------------------------------------------------------------------------------------
// cases checked against redis-server 7.0.15
// ---------------------------------------------------------------------------------------------

const matches = (pattern: string, subject: string, expected: boolean) => {
  expect(globMatch(pattern, subject)).toBe(expected)
  expect(redisStringMatchLen(pattern, subject)).toBe(expected)
}

describe('globMatch', () => {
  it('a literal pattern matches only the same bytes', () => {
    matches('hello', 'hello', true)
    matches('hello', 'hell', false)
    matches('hello', 'helloo', false)
    matches('', '', true)
    matches('', 'a', false)
  })

  it('* matches any run of bytes, including none', () => {
    matches('h*llo', 'hllo', true)
    matches('h*llo', 'heeeello', true)
    matches('*', 'anything', true)
    matches('a*', 'a', true)
    matches('*a', 'aa', true)
    matches('*a*b', 'xaxxb', true)
    matches('*a*b', 'xaxxbc', false)
    matches('a**b', 'ab', true)
  })

  it('no non-empty pattern matches the empty key, not even * (KEYS short-cuts a lone *)', () => {
    matches('*', '', false)
    matches('**', '', false)
    matches('?', '', false)
  })

  it('? matches exactly one byte', () => {
    matches('h?llo', 'hallo', true)
    matches('h?llo', 'hllo', false)
    matches('?', '\x00', true)
    matches('??', '\xff', false)
  })

  it('[...] matches one byte of a set, with ranges, reversed ranges and ^ negation', () => {
    matches('h[ae]llo', 'hello', true)
    matches('h[ae]llo', 'hillo', false)
    matches('h[^e]llo', 'hallo', true)
    matches('h[^e]llo', 'hello', false)
    matches('h[a-b]llo', 'hbllo', true)
    matches('h[b-a]llo', 'hallo', true)
    matches('[a-c-e]', '-', true) // a-c, then the literals - and e
    matches('[a-c-e]', 'e', true)
    matches('[a-c-e]', 'd', false)
    matches('[]]', ']', false) // [] is an empty set: it never matches
    matches('[]]', ']]', false)
    matches('[]', 'a', false)
    matches('[\\]]', ']', true)
  })

  it('\\ escapes the next byte, in and out of sets; a trailing \\ is literal', () => {
    matches('h\\*llo', 'h*llo', true)
    matches('h\\*llo', 'hello', false)
    matches('\\?', '?', true)
    matches('\\?', 'a', false)
    matches('[\\^a]', '^', true)
    matches('a\\', 'a\\', true)
    matches('\\', '\\', true)
    matches('[\\', '\\', true)
    matches('[a\\', '\\', true)
  })

  it('an unterminated [ closes at the end of the pattern', () => {
    matches('a[bc', 'ab', true)
    matches('a[bc', 'ac', true)
    matches('a[bc', 'ad', false)
    matches('[^', 'x', true)
    matches('[', '[', false)
    matches('[', '', false)
  })

  it('a - just before ] still makes a range when two pattern bytes follow it', () => {
    for (const c of [']', '^', '_', '`', 'a']) matches('[a-]', c, true)
    matches('[a-]', '-', false)
    matches('[a-]', 'b', false)
  })

  it('ranges compare bytes as signed C chars, so 0x80-0xFF sort below 0x00', () => {
    matches('[\x00-\xff]', '\x00', true)
    matches('[\x00-\xff]', '\xff', true)
    matches('[\x00-\xff]', '\x7f', false)
    matches('[\x00-\xff]', '\x80', false)
    matches('[a-\xff]', '\\', true)
    matches('[a-\xff]', '\x00', true)
    matches('[a-\xff]', 'b', false)
    matches('[a-\xff]', '\xfe', false)
    matches('[\x80-\xff]', '\x90', true)
  })

  it('binary bytes match themselves, NUL included', () => {
    matches('a\x00b', 'a\x00b', true)
    matches('a?b', 'a\x00b', true)
    matches('*\xff', '\x00\x80\xff', true)
  })

  it('a hostile pattern with many stars is answered quickly and without deep recursion', () => {
    const pattern = 'a*'.repeat(20_000) + 'b'
    const subject = 'a'.repeat(30_000)
    const started = performance.now()
    expect(globMatch(pattern, subject)).toBe(false)
    expect(globMatch('*a'.repeat(20_000), 'a'.repeat(20_000))).toBe(true)
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it('agrees with a port of Redis 7.0.15 stringmatchlen on random patterns and subjects', () => {
    const patternChar = fc.constantFrom('a', 'b', '-', '*', '*', '?', '[', ']', '^', '\\', '\x00', '\x80', '\xff')
    const subjectChar = fc.constantFrom('a', 'b', 'c', '-', ']', '^', '\\', '*', '[', '\x00', '\x80', '\xff')
    fc.assert(
      fc.property(
        fc.array(patternChar, { maxLength: 10 }).map((cs) => cs.join('')),
        fc.array(subjectChar, { maxLength: 10 }).map((cs) => cs.join('')),
        (pattern, subject) => globMatch(pattern, subject) === redisStringMatchLen(pattern, subject),
      ),
      { seed, numRuns },
    )
  })

  it('every subject matches itself once its special bytes are escaped', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 12 }), (s) => {
        const escaped = s.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
        return globMatch(escaped, s) && (s.length === 0 || globMatch('*', s))
      }),
      { seed, numRuns },
    )
  })
})

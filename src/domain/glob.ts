/**
 * Glob-style pattern matching over byte strings, exactly as Redis 7.0's `stringmatchlen`
 * (util.c) with `nocase = 0`: the matcher behind KEYS and SCAN … MATCH.
 *
 * Syntax:
 * - `*` matches any run of bytes (also none); `?` matches exactly one byte;
 * - `[abc]` matches one byte of the set, `[a-z]` a range (reversed ranges such as `[z-a]` are
 *   swapped), `[^…]` negates the set, and `\x` inside a set is a literal `x`;
 * - `\x` outside a set is a literal `x`; every other byte matches itself.
 *
 * Redis's edge cases, reproduced on purpose (each checked against redis-server 7.0.15):
 * - **Unterminated `[`** closes at the end of the pattern: `a[bc` behaves as `a[bc]`; `[^` matches
 *   any single byte; a lone `[` (empty set) matches nothing.
 * - **A trailing `\`** matches a literal backslash, both outside a set (`a\`) and inside one
 *   (`[a\`).
 * - **`-` at a set's end** still makes a range when two pattern bytes follow it, so `[a-]` is the
 *   range from `]` to `a` (swapped), i.e. one of `]^_\`a`.
 * - **Ranges compare bytes as C `char`, which is signed** on the platforms Redis ships for: bytes
 *   0x80–0xFF sort *below* 0x00. So `[\x00-\xff]` is the range −1..0 (only 0xFF and 0x00), and
 *   `[a-\xff]` is −1..97. Plain byte equality is unaffected.
 * - **An empty subject** never matches a non-empty pattern, not even `*` (KEYS and SCAN short-cut a
 *   lone `*` before calling the matcher, so `KEYS *` still lists the empty key).
 * - The matcher never looks at the byte after the pattern or the subject (C's NUL terminator is
 *   only ever compared against `*`, `]`, `^`, `\` and `-`, which it never equals).
 *
 * Redis matches recursively on `*` and, since 7.0.9 (CVE-2022-36021), gives up as soon as the rest
 * of the pattern fails to match at every later position (`skipLongerMatches`). That is the same
 * answer as remembering only the most recent `*` and retrying from it, which is what this
 * implementation does: iterative, O(|pattern| × |subject|) at worst, with no recursion a hostile
 * pattern could use to overflow the stack.
 *
 * @category utils
 */
import type { Bytes } from './primitives.js'

const STAR = 0x2a // '*'
const QUESTION = 0x3f // '?'
const OPEN = 0x5b // '['
const CLOSE = 0x5d // ']'
const CARET = 0x5e // '^'
const BACKSLASH = 0x5c // '\\'
const DASH = 0x2d // '-'

/** A byte as C's signed `char` (0x80..0xFF become −128..−1), as Redis's range test sees it. */
const signed = (byte: number): number => (byte << 24) >> 24

/**
 * Does `subject` match the glob `pattern`? Both are byte strings (one char per byte).
 * Pure and total: every pattern is valid, as in Redis.
 */
export const globMatch = (pattern: Bytes, subject: Bytes): boolean => {
  const plen = pattern.length
  const slen = subject.length
  // Redis's loop runs `while (patternLen && stringLen)`: with either side empty it never starts.
  if (plen === 0 || slen === 0) return plen === 0 && slen === 0

  let p = 0
  let s = 0
  // The most recent `*` (its index) and where in the subject its current attempt starts.
  let starP = -1
  let starS = -1

  for (;;) {
    const c = pattern.charCodeAt(p)
    if (c === STAR) {
      while (p + 1 < plen && pattern.charCodeAt(p + 1) === STAR) p++
      if (p === plen - 1) return true // a trailing `*` matches whatever is left
      starP = p
      starS = s
      p++
      continue
    }

    // One single-byte token: `?`, a set, an escape or a literal. `next` is the index after it.
    const byte = subject.charCodeAt(s)
    let matched: boolean
    let next: number
    if (c === QUESTION) {
      matched = true
      next = p + 1
    } else if (c === OPEN) {
      const set = matchSet(pattern, p, byte)
      matched = set.matched
      next = set.next
    } else if (c === BACKSLASH && p + 1 < plen) {
      matched = pattern.charCodeAt(p + 1) === byte
      next = p + 2
    } else {
      matched = c === byte
      next = p + 1
    }

    if (matched) {
      p = next
      s++
      if (s === slen) {
        // The subject is used up: only `*`s may remain in the pattern.
        while (p < plen && pattern.charCodeAt(p) === STAR) p++
        if (p === plen) return true
      } else if (p < plen) {
        continue
      }
    }

    // This attempt failed: let the most recent `*` swallow one more byte and retry after it.
    // Redis's star loop only tries non-empty rests of the subject.
    if (starP < 0) return false
    starS++
    if (starS >= slen) return false
    s = starS
    p = starP + 1
  }
}

/**
 * Matches one byte against the set starting at `pattern[open] === '['`. Returns whether it matched
 * and the index just after the set (the pattern's end when the set is unterminated).
 */
const matchSet = (pattern: Bytes, open: number, byte: number): { matched: boolean; next: number } => {
  const plen = pattern.length
  let p = open + 1
  const negate = p < plen && pattern.charCodeAt(p) === CARET
  if (negate) p++
  let matched = false
  for (;;) {
    const rem = plen - p
    if (rem === 0) {
      // Unterminated: the set ends with the pattern (Redis steps back one byte so that its
      // shared `pattern++` lands exactly on the end).
      p = plen
      break
    }
    const c = pattern.charCodeAt(p)
    if (c === BACKSLASH && rem >= 2) {
      p++
      if (pattern.charCodeAt(p) === byte) matched = true
    } else if (c === CLOSE) {
      p++
      break
    } else if (rem >= 3 && pattern.charCodeAt(p + 1) === DASH) {
      let start = signed(c)
      let end = signed(pattern.charCodeAt(p + 2))
      if (start > end) [start, end] = [end, start]
      const b = signed(byte)
      if (b >= start && b <= end) matched = true
      p += 2
    } else if (c === byte) {
      matched = true
    }
    p++
  }
  return { matched: negate ? !matched : matched, next: p }
}

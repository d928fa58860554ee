/**
 * CRC32C: the published check values (RFC 3720 appendix B.4 and the "123456789" convention), the
 * chaining law the segment-uid seed relies on, and agreement of the slicing-by-8 routine with a
 * plain bit-by-bit definition on random inputs at every alignment.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crc32c, crc32cOfText, crcHex } from '../../../src/infra/log/crc32c.js'
import { assertProperty } from '../../support/fc.js'

/** The definition: reflected CRC-32 with polynomial 0x82F63B78, one bit at a time. */
const reference = (bytes: Uint8Array): number => {
  let crc = 0xffffffff
  for (const b of bytes) {
    crc ^= b
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

describe('crc32c', () => {
  it('gives the check value e3069283 for "123456789"', () => {
    expect(crcHex(crc32cOfText('123456789'))).toBe('e3069283')
  })

  it('matches the RFC 3720 iSCSI test vectors', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c)
  })

  it('is 0 for no bytes', () => {
    expect(crc32c(new Uint8Array(0))).toBe(0)
  })

  it('agrees with the bit-by-bit definition on any bytes and any sub-range', () => {
    assertProperty(
      'crc32c = reference',
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1)
        const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1))
        expect(crc32c(bytes, 0, start, end)).toBe(reference(bytes.subarray(start, end)))
      }),
    )
  })

  it('chains: the CRC of a ‖ b continues from the CRC of a', () => {
    assertProperty(
      'crc32c chaining',
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        const ab = new Uint8Array(a.length + b.length)
        ab.set(a)
        ab.set(b, a.length)
        expect(crc32c(b, crc32c(a))).toBe(crc32c(ab))
      }),
    )
  })
})

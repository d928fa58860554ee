/**
 * The synchronous write of the file-system port (the log's group-commit flush): `writeSync` on
 * node:fs and under fault injection, and `writeFullySync`, which loops on short writes.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FaultyFileSystem } from '../../../src/infra/log/faultyFileSystem.js'
import { nodeFileSystem, writeFullySync, type FileSystem } from '../../../src/infra/log/fileSystem.js'
import { cleanup, tempDir } from '../support/logFixtures.js'

let dir: string
beforeEach(() => {
  dir = tempDir('redust-fs-')
})
afterEach(() => cleanup(dir))

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')

/** A file opened read-write through `fsys`, holding `initial`. */
const openFile = async (fsys: FileSystem, initial = ''): Promise<{ file: string; fd: number }> => {
  const file = path.join(dir, 'seg.aof')
  fs.writeFileSync(file, bytes(initial))
  return { file, fd: await fsys.open(file, 'r+') }
}

describe('writeSync', () => {
  it('node:fs: writes at the given position and returns the count, before returning', async () => {
    const { file, fd } = await openFile(nodeFileSystem, 'head|')
    try {
      expect(nodeFileSystem.writeSync(fd, bytes('xxabcxx'), 2, 3, 5)).toBe(3)
      expect(fs.readFileSync(file, 'latin1')).toBe('head|abc')
      const readOnly = await nodeFileSystem.open(file, 'r')
      try {
        expect(() => nodeFileSystem.writeSync(readOnly, bytes('a'), 0, 1, 0)).toThrow(expect.objectContaining({ code: 'EBADF' }))
      } finally {
        await nodeFileSystem.close(readOnly)
      }
    } finally {
      await nodeFileSystem.close(fd)
    }
  })

  it('fault injection: counted with write, fails the N-th with its code, leaves the partial bytes behind', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem).fail({ op: 'write', nth: 3, code: 'ENOSPC', partialBytes: 2 })
    const { file, fd } = await openFile(faulty)
    try {
      await faulty.write(fd, bytes('a'), 0, 1, 0) // write #1 (asynchronous)
      expect(faulty.writeSync(fd, bytes('b'), 0, 1, 1)).toBe(1) // write #2
      expect(() => faulty.writeSync(fd, bytes('cdef'), 0, 4, 2)).toThrow(expect.objectContaining({ code: 'ENOSPC', syscall: 'write' }))
      expect(faulty.counts.write).toBe(3)
      expect(faulty.trace).toEqual(['open', 'write', 'write', 'write'])
      expect(fs.readFileSync(file, 'latin1')).toBe('abcd') // the torn write took 2 bytes
      faulty.fail({ op: 'write', nth: 4, code: 'EIO' })
      expect(() => faulty.writeSync(fd, bytes('g'), 0, 1, 4)).toThrow(/^EIO: i\/o error, write/)
    } finally {
      await faulty.close(fd)
    }
  })
})

describe('writeFullySync', () => {
  /** node:fs, but every write takes at most `max` bytes. */
  const shortWrites = (max: number, calls: number[]): FileSystem => ({
    ...nodeFileSystem,
    writeSync: (fd, buffer, offset, length, position) => {
      calls.push(length)
      return nodeFileSystem.writeSync(fd, buffer, offset, Math.min(length, max), position)
    },
  })

  it('loops on short writes until every byte is written, at consecutive positions', async () => {
    const calls: number[] = []
    const fsys = shortWrites(3, calls)
    const { file, fd } = await openFile(fsys, '0123')
    try {
      writeFullySync(fsys, fd, bytes('..abcdefgh..'), 2, 8, 4)
      expect(fs.readFileSync(file, 'latin1')).toBe('0123abcdefgh')
      expect(calls).toEqual([8, 5, 2])
    } finally {
      await fsys.close(fd)
    }
  })

  it('throws EIO when a write makes no progress, and propagates a failed write', async () => {
    const stuck: FileSystem = { ...nodeFileSystem, writeSync: () => 0 }
    expect(() => writeFullySync(stuck, 0, bytes('abc'), 0, 3, 0)).toThrow(expect.objectContaining({ code: 'EIO', message: 'short write: wrote 0 of 3 bytes' }))
    const faulty = new FaultyFileSystem(nodeFileSystem).fail({ op: 'write', nth: 1, code: 'EIO' })
    const { fd } = await openFile(faulty)
    try {
      expect(() => writeFullySync(faulty, fd, bytes('abc'), 0, 3, 0)).toThrow(expect.objectContaining({ code: 'EIO' }))
    } finally {
      await faulty.close(fd)
    }
  })
})

describe('fdatasyncSync', () => {
  it('node:fs: returns once the data is synced, throws the ErrnoException on a bad descriptor', async () => {
    const { fd } = await openFile(nodeFileSystem, 'data')
    const sync = nodeFileSystem.fdatasyncSync
    if (sync === undefined) throw new Error('nodeFileSystem must offer fdatasyncSync')
    nodeFileSystem.writeSync(fd, bytes('more'), 0, 4, 4)
    expect(sync(fd)).toBeUndefined()
    await nodeFileSystem.close(fd)
    expect(() => sync(fd)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'fdatasync' }))
  })

  it('fault injection: absent until asked for, then counted, traced and failed like fdatasync', async () => {
    const faulty = new FaultyFileSystem(nodeFileSystem)
    expect(faulty.fdatasyncSync).toBeUndefined()
    const before: number[] = []
    faulty.withBlockingFdatasync((n) => before.push(n)).fail({ op: 'fdatasync', nth: 3, code: 'EIO' })
    const { fd } = await openFile(faulty)
    try {
      faulty.fdatasyncSync!(fd) // fdatasync #1
      await faulty.fdatasync(fd) // #2 (asynchronous)
      expect(() => faulty.fdatasyncSync!(fd)).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'fdatasync' }))
      expect(faulty.counts.fdatasync).toBe(3)
      expect(before).toEqual([1, 3])
      expect(faulty.trace).toEqual(['open', 'fdatasync', 'fdatasync', 'fdatasync'])
    } finally {
      await faulty.close(fd)
    }
  })
})

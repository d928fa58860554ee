/**
 * Reads from an accepted socket into one static buffer instead of a fresh allocation per read.
 *
 * A plain `net.Socket` allocates an ArrayBuffer for every read (malloc, then a shrinking realloc),
 * wraps it in a Buffer and pushes it through the Readable stream machinery ('data' event,
 * `maybeReadMore` tick). At one read per request that was ~1.5–2 µs of CPU per command, about a
 * third of the server's user time on GET at `-P 1` (ARCHITECTURE.md, "Reads into one static
 * buffer"; bench/RESULTS.md, 2026-11-26).
 * Node's `onread` option makes libuv read straight into a caller's buffer and calls back with the
 * byte count, skipping all of it — but `net.Server` does not offer it for the sockets it accepts.
 *
 * So the listener accepts with `pauseOnConnect` (nothing read yet) and the accepted socket's
 * handle is given to a new `net.Socket` built with `onread`: the `handle` option Node's own
 * `net.Server`, `tls` and `http2` construct sockets with. The server's connection count moves
 * to the new socket (`_server`), so `server.close()` still waits for it. Verified on Node 20, 22
 * and 24; where the runtime does not expose these (no `_handle` or `useUserBuffer`), the socket is
 * returned unchanged and the caller reads 'data' events as before.
 *
 * **Contract:** the bytes passed to `onBytes` are only valid during the call — the next read on
 * any socket sharing the buffer overwrites them. Consumers copy what they keep (the RESP decoder's
 * `release`).
 *
 * @category infra
 */
import net from 'node:net'

/** What Node keeps on a socket that this module relies on (all present in Node 20–24). */
interface SocketInternals {
  _handle?: { useUserBuffer?: unknown } | null
  _server?: unknown
}

/**
 * Re-wraps `accepted` (from a server created with `pauseOnConnect: true`) so reads land in
 * `buffer` and go to `onBytes(buffer, length)`, the bytes being `buffer[0, length)`. Returns the
 * socket to use from now on, or `undefined` when the runtime does not support it (then
 * `accepted` is still paused and untouched).
 */
export const adoptWithStaticReads = (
  accepted: net.Socket,
  buffer: Buffer,
  onBytes: (buffer: Buffer, length: number) => void,
): net.Socket | undefined => {
  const internals = accepted as unknown as SocketInternals
  const handle = internals._handle
  if (handle == null || typeof handle.useUserBuffer !== 'function' || !('_server' in internals)) return undefined
  const socket = new net.Socket({
    handle,
    allowHalfOpen: accepted.allowHalfOpen,
    readable: true,
    writable: true,
    onread: {
      buffer,
      callback: (bytesRead: number): boolean => {
        onBytes(buffer, bytesRead)
        return true // pausing is the caller's business (socket.pause())
      },
    },
  } as net.SocketConstructorOpts)
  // The server counts connections through the socket's `_server` (decremented on its 'close').
  const adopted = socket as unknown as SocketInternals
  adopted._server = internals._server
  internals._server = null
  return socket
}

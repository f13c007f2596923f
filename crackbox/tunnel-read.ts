// The download direction of a CONNECT tunnel (target -> tenant), read straight into buffers we hand on to the client
// socket, instead of stream.pipe()'s fixed 64 KiB reads. The buffer size adapts per read: it doubles while reads fill
// it (a bulk download gets few, large reads and few event-loop turns per MiB) and halves when reads are small (an
// idle or chatty tunnel — SSE, websockets — holds only a small buffer). A buffer handed to the client socket is
// reused only after that write has completed (its callback), so queued bytes are never overwritten; reusing them
// keeps a bulk transfer from allocating (and page-faulting in) a fresh large buffer for every read. Backpressure
// pauses reading until the client drains; the target's end is passed on as a half-close, like pipe() does.
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';

export const MIN_READ = 16 * 1024;
export const MAX_READ = 512 * 1024;

/** The next read size after a read of `n` bytes into a buffer of `size`. PURE. */
export function nextReadSize(size: number, n: number, min = MIN_READ, max = MAX_READ): number {
  if (n >= size) return Math.min(max, size * 2);
  if (n < size / 4) return Math.max(min, size / 2);
  return size;
}

/**
 * `onread` options for net.connect that forward everything read into `dest`; call attach() with the socket
 * net.connect returned.
 */
export function readInto(dest: Writable): {
  onread: { buffer: () => Buffer; callback: (n: number, buf: Buffer) => boolean };
  attach(source: Socket): void;
} {
  let size = MIN_READ;
  let source: Socket | null = null;
  /** Buffers whose writes have completed, ready for the next read (only ones of the current size are kept). */
  const free: Buffer[] = [];
  const release = (buf: Buffer) => (error?: Error | null) => {
    if (!error && buf.length === size && free.length < 4) free.push(buf);
  };
  return {
    onread: {
      buffer: () => free.pop() ?? Buffer.allocUnsafeSlow(size),
      callback: (n, buf) => {
        const next = nextReadSize(buf.length, n);
        if (next !== size) {
          size = next;
          free.length = 0;
        }
        if (dest.destroyed) return false;
        if (dest.write(buf.subarray(0, n), release(buf))) return true;
        dest.once('drain', () => source?.resume());
        return false;
      },
    },
    attach(s) {
      source = s;
      s.once('end', () => dest.end());
    },
  };
}

// The download direction of a CONNECT tunnel (target -> tenant), read straight into buffers we hand on to the client
// socket, instead of stream.pipe()'s fixed 64 KiB reads. The buffer size adapts per read: it doubles while reads fill
// it (a bulk download gets few, large reads and few event-loop turns per MiB) and halves when reads are small (an
// idle or chatty tunnel — SSE, websockets — holds only a small buffer). Each read gets a fresh buffer, so a chunk
// still queued in the client socket is never overwritten. Backpressure pauses reading until the client drains; the
// target's end is passed on as a half-close, like pipe() does.
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
  return {
    onread: {
      buffer: () => Buffer.allocUnsafe(size),
      callback: (n, buf) => {
        size = nextReadSize(buf.length, n);
        if (dest.destroyed) return false;
        if (dest.write(buf.subarray(0, n))) return true;
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

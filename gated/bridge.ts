// The stdio <-> socket bridge MCP clients launch (`warren connect`). It moves bytes, not messages: gated does all
// framing and validation, so the bridge adds no parsing cost and cannot disagree with the server about a frame.
// End-of-stream passes both ways: stdin EOF half-closes the socket; the socket closing ends stdout and the bridge.
import { connect } from 'node:net';
import type { Readable, Writable } from 'node:stream';

export interface BridgeIo {
  stdin: Readable;
  stdout: Writable;
}

/** Resolves with an exit code once the socket has closed and stdout is flushed. */
export function bridge(socketPath: string, io: BridgeIo): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath, allowHalfOpen: true });
    let connected = false;
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      io.stdin.unpipe(socket);
      io.stdin.pause();
      io.stdout.end(() => resolve(code));
    };
    socket.on('connect', () => {
      connected = true;
      io.stdin.pipe(socket); // pipe() calls socket.end() on stdin EOF: the half-close gated waits for
      socket.pipe(io.stdout, { end: false });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected) {
        const hint =
          error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
            ? ' (is `warren gated` or `warren up` running, and does the tenant exist with a valid configuration?)'
            : '';
        process.stderr.write(`warren connect: cannot connect to ${socketPath}: ${error.code ?? error.message}${hint}\n`);
        finish(1);
      }
    });
    socket.on('close', () => finish(connected ? 0 : 1));
    io.stdout.on('error', () => socket.destroy()); // the client went away: stop
  });
}

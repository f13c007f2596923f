import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_READ, MIN_READ, nextReadSize, readInto } from '../../crackbox/tunnel-read.js';

describe('nextReadSize', () => {
  it.each([
    [MIN_READ, MIN_READ, MIN_READ * 2], // full: grow
    [MAX_READ, MAX_READ, MAX_READ], // full at the cap: stay
    [64 * 1024, 20 * 1024, 64 * 1024], // a fair share: stay
    [64 * 1024, 100, 32 * 1024], // small: shrink
    [MIN_READ, 1, MIN_READ], // small at the floor: stay
  ])('size %i after a read of %i -> %i', (size, n, want) => {
    expect(nextReadSize(size, n)).toBe(want);
  });
});

describe('readInto', () => {
  const servers: Server[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  function source(data: Buffer): Promise<number> {
    const server = createServer({ allowHalfOpen: true }, (s) => s.end(data));
    servers.push(server);
    return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  }

  it('delivers a bulk transfer intact to a slow reader (backpressure), then passes the end on', async () => {
    const data = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
    const port = await source(data);
    const hash = createHash('sha256');
    let received = 0;
    let stalls = 0;
    // A sink that accepts one chunk per tick, with a small buffer: writes return false and reading must pause.
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        received += chunk.length;
        setImmediate(done);
      },
    });
    sink.on('drain', () => stalls++);
    const finished = new Promise<void>((r) => sink.on('finish', () => r()));
    const forward = readInto(sink);
    const socket: Socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true, onread: forward.onread });
    forward.attach(socket);
    await finished;
    socket.destroy();
    expect(received).toBe(data.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(stalls).toBeGreaterThan(0);
  });

  it('a small, chatty stream arrives chunk by chunk without waiting for a buffer to fill', async () => {
    const server = createServer((s) => {
      s.write('one\n');
      s.once('data', () => s.end('two\n'));
    });
    servers.push(server);
    const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
    const out = new PassThrough();
    const forward = readInto(out);
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true, onread: forward.onread });
    forward.attach(socket);
    const first = await new Promise<string>((r) => out.once('data', (d: Buffer) => r(d.toString())));
    expect(first).toBe('one\n');
    socket.write('go');
    let rest = '';
    out.on('data', (d: Buffer) => (rest += d.toString()));
    await new Promise((r) => out.on('end', r));
    expect(rest).toBe('two\n');
    socket.destroy();
  });
});

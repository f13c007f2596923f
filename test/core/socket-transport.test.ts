// Framing of the MCP socket transport: frames split across reads, several per read, CRLF, oversized frames.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SocketTransport } from '../../core/socket-transport.js';

function wire(maxFrameBytes = 64) {
  const written: string[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk, _enc, done) {
      written.push(String(chunk));
      done();
    },
  });
  const received: unknown[] = [];
  const transport = new SocketTransport(stream, { maxFrameBytes });
  transport.onmessage = (m) => received.push(m);
  return { stream, transport, received, written };
}

const ping = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' });
const flush = () => new Promise((r) => setImmediate(r));

describe('SocketTransport framing', () => {
  it('joins a frame split across reads and splits several frames in one read', async () => {
    const { stream, transport, received } = wire();
    await transport.start();
    const two = `${ping(1)}\n${ping(2)}\r\n`;
    stream.push(Buffer.from(two.slice(0, 10)));
    stream.push(Buffer.from(two.slice(10) + ping(3).slice(0, 5)));
    stream.push(Buffer.from(ping(3).slice(5) + '\n\n'));
    await flush();
    expect(received.map((m) => (m as { id: number }).id)).toEqual([1, 2, 3]);
  });

  it('answers an oversized frame with an error and goes on with the next one', async () => {
    const { stream, transport, received, written } = wire(64);
    await transport.start();
    stream.push(Buffer.from('{"jsonrpc":"2.0","id":9,"method":"ping","params":{"pad":"' + 'x'.repeat(40)));
    stream.push(Buffer.from('x'.repeat(40) + '"}}\n' + ping(4) + '\n'));
    await flush();
    expect(received.map((m) => (m as { id: number }).id)).toEqual([4]);
    expect(JSON.parse(written[0]!)).toMatchObject({ id: null, error: { code: -32600 } });
  });

  it('closes when the peer ends the stream', async () => {
    const { stream, transport } = wire();
    let closed = false;
    transport.onclose = () => (closed = true);
    await transport.start();
    stream.push(null);
    stream.resume();
    await flush();
    await flush();
    expect(closed).toBe(true);
  });
});

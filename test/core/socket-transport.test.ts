// Framing of the MCP socket transport: frames split across reads, several per read, CRLF, oversized frames; and
// the bounds of a server-side connection: backpressure, requests in flight, unfinished frames, untaken replies.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { SocketTransport, type ConnectionBounds } from '../../core/socket-transport.js';

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

/** A stream whose peer takes written bytes only while `taking` (like a socket whose reader stopped reading). */
function slowPeer(bounds?: Partial<ConnectionBounds>) {
  const held: (() => void)[] = [];
  let taking = true;
  const stream = new Duplex({
    writableHighWaterMark: 16,
    read() {},
    write(_chunk, _enc, done) {
      if (taking) done();
      else held.push(done);
    },
  });
  const received: number[] = [];
  const drops: string[] = [];
  let closed = false;
  const transport = new SocketTransport(stream, {
    bounds: bounds && { maxInFlight: 100, partialFrameTimeoutMs: 60_000, replyBacklogTimeoutMs: 60_000, ...bounds },
    onDrop: (reason) => drops.push(reason),
  });
  transport.onmessage = (m) => received.push((m as { id: number }).id);
  transport.onclose = () => (closed = true);
  return {
    stream,
    transport,
    received,
    drops,
    closed: () => closed,
    stopTaking: () => (taking = false),
    takeAll() {
      taking = true;
      for (const done of held.splice(0)) done();
    },
  };
}

const answer = (id: number) => ({ jsonrpc: '2.0', id, result: { pad: 'x'.repeat(64) } }) as unknown as JSONRPCMessage;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SocketTransport bounds', () => {
  it('reads nothing while its replies are not taken, with one drain listener however many replies wait', async () => {
    const peer = slowPeer({});
    await peer.transport.start();
    peer.stopTaking();
    const sends = Array.from({ length: 50 }, (_, i) => peer.transport.send(answer(i)));
    expect(peer.stream.listenerCount('drain')).toBe(1);
    peer.stream.push(Buffer.from(ping(1) + '\n'));
    await flush();
    expect(peer.received).toEqual([]);
    peer.takeAll();
    await Promise.all(sends);
    await flush();
    expect(peer.received).toEqual([1]);
  });

  it('without bounds (the client side) it keeps reading while its writes wait', async () => {
    const peer = slowPeer();
    await peer.transport.start();
    peer.stopTaking();
    const sends = [1, 2, 3].map((i) => peer.transport.send(answer(i)));
    expect(peer.stream.listenerCount('drain')).toBe(1);
    peer.stream.push(Buffer.from(ping(1) + '\n'));
    await flush();
    expect(peer.received).toEqual([1]);
    peer.takeAll();
    await Promise.all(sends);
  });

  it('holds back requests past maxInFlight until one is answered or released', async () => {
    const peer = slowPeer({ maxInFlight: 2 });
    await peer.transport.start();
    peer.stream.push(Buffer.from([1, 2, 3, 4].map((id) => ping(id) + '\n').join('')));
    await flush();
    expect(peer.received).toEqual([1, 2]);
    await peer.transport.send(answer(1));
    await flush();
    expect(peer.received).toEqual([1, 2, 3]);
    peer.transport.release(2);
    await flush();
    expect(peer.received).toEqual([1, 2, 3, 4]);
  });

  it('closes a connection that leaves a frame unfinished past the timeout, and not one that finishes it', async () => {
    const finishing = slowPeer({ partialFrameTimeoutMs: 100 });
    await finishing.transport.start();
    finishing.stream.push(Buffer.from(ping(1).slice(0, 10)));
    await sleep(20);
    finishing.stream.push(Buffer.from(ping(1).slice(10) + '\n'));
    const idle = slowPeer({ partialFrameTimeoutMs: 100 });
    await idle.transport.start();
    idle.stream.push(Buffer.from(ping(1).slice(0, 10)));
    await sleep(300);
    expect(idle.closed()).toBe(true);
    expect(idle.drops).toEqual(['frame left unfinished for 100 ms']);
    expect(finishing.closed()).toBe(false);
    expect(finishing.received).toEqual([1]);
    await finishing.transport.close();
  });

  it('closes a connection whose replies stay untaken past the timeout, and its waiting senders return', async () => {
    const peer = slowPeer({ replyBacklogTimeoutMs: 100 });
    await peer.transport.start();
    peer.stopTaking();
    const sent = peer.transport.send(answer(1));
    await sleep(300);
    expect(peer.closed()).toBe(true);
    expect(peer.drops).toEqual(['replies not taken for 100 ms']);
    await sent;
  });
});

// Framing of the MCP socket transport: frames split across reads, several per read, CRLF, oversized frames; and
// the bounds of a server-side connection: backpressure, requests in flight, unfinished frames, untaken replies.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { FrameBudget, MAX_REQUEST_ID_CHARS, SocketTransport, type ConnectionBounds } from '../../core/socket-transport.js';

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
function slowPeer(bounds?: Partial<ConnectionBounds>, frameBudget?: FrameBudget) {
  const held: (() => void)[] = [];
  let taking = true;
  const written: string[] = [];
  const stream = new Duplex({
    writableHighWaterMark: 16,
    read() {},
    write(chunk, _enc, done) {
      written.push(String(chunk));
      if (taking) done();
      else held.push(done);
    },
  });
  const received: number[] = [];
  const drops: string[] = [];
  let closed = false;
  const transport = new SocketTransport(stream, {
    bounds: bounds && { maxInFlight: 100, partialFrameTimeoutMs: 60_000, replyBacklogTimeoutMs: 60_000, ...bounds },
    frameBudget,
    onDrop: (reason) => drops.push(reason),
  });
  transport.onmessage = (m) => received.push((m as { id: number }).id);
  transport.onclose = () => (closed = true);
  return {
    stream,
    transport,
    received,
    written,
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

  it("shares one budget for unfinished frames among a socket's connections, and closes the one that would exceed it", async () => {
    // Each connection alone stays under its frame cap; together they would hold one nearly full frame each.
    const budget = new FrameBudget(100);
    const first = slowPeer({}, budget);
    const second = slowPeer({}, budget);
    await first.transport.start();
    await second.transport.start();
    first.stream.push(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + 'x'.repeat(30)));
    await flush();
    expect(budget.heldBytes).toBeGreaterThan(60);
    second.stream.push(Buffer.from('{"jsonrpc":"2.0","id":2,"method":"ping","params":{"pad":"' + 'x'.repeat(30)));
    await flush();
    expect(second.closed()).toBe(true);
    expect(second.drops).toEqual(['unfinished frames on this socket would exceed 100 bytes']);
    // The first finishes its frame and gives its bytes back; a closed connection gives back what it held.
    first.stream.push(Buffer.from('"}}\n'));
    await flush();
    expect(first.received).toEqual([1]);
    expect(budget.heldBytes).toBe(0);
    first.stream.push(Buffer.from(ping(3).slice(0, 20)));
    await flush();
    expect(budget.heldBytes).toBe(20);
    await first.transport.close();
    expect(budget.heldBytes).toBe(0);
  });

  it('refuses a request whose id is too long to echo, answering with id null', async () => {
    const peer = slowPeer({});
    await peer.transport.start();
    const long = 'i'.repeat(MAX_REQUEST_ID_CHARS + 1);
    const ok = 'i'.repeat(MAX_REQUEST_ID_CHARS);
    peer.stream.push(Buffer.from([long, ok].map((id) => JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }) + '\n').join('')));
    await flush();
    expect(peer.received).toEqual([ok]);
    expect(peer.written.map((w) => JSON.parse(w))).toEqual([
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: `request id is longer than ${MAX_REQUEST_ID_CHARS} characters` } },
    ]);
  });
});

// Bad input never crashes gated and never costs other clients their service.
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectClient, textOf } from '../helpers/mcp.js';
import { useGated } from '../helpers/gated.js';
import { refusalOf } from '../../gated/session.js';

/** A raw socket that collects newline-delimited JSON frames. */
async function raw(path: string): Promise<{ socket: Socket; frames: unknown[]; next(): Promise<any> }> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const frames: unknown[] = [];
  let buf = '';
  let waiter: (() => void) | null = null;
  socket.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      frames.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      waiter?.();
    }
  });
  let read = 0;
  return {
    socket,
    frames,
    async next() {
      while (frames.length <= read) await new Promise<void>((r) => (waiter = r));
      return frames[read++];
    },
  };
}

const call = (id: number | string, name: string, args: unknown) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }) + '\n';

const init = (id: number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }) + '\n';

describe('bad input', () => {
  const f = useGated({ gated: { maxConnectionsPerSocket: 4 } });

  it('answers a 10 MB frame with a JSON-RPC error and keeps the connection usable', async () => {
    const c = await raw(f.gated.socketPath('acme'));
    c.socket.write('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"' + 'a'.repeat(10 * 1024 * 1024) + '"}}\n');
    const error = await c.next();
    expect(error.error.code).toBe(-32600);
    expect(error.error.message).toMatch(/exceeds/);
    c.socket.write(init(2));
    const ok = await c.next();
    expect(ok.id).toBe(2);
    expect(ok.result.serverInfo.name).toBe('warren-gated');
    c.socket.destroy();
  });

  it('answers malformed JSON and non-JSON-RPC frames with errors', async () => {
    const c = await raw(f.gated.socketPath('acme'));
    c.socket.write('{not json\n');
    expect((await c.next()).error.code).toBe(-32700);
    c.socket.write('{"hello":"world"}\n');
    expect((await c.next()).error.code).toBe(-32600);
    c.socket.destroy();
  });

  it('answers unknown methods with method-not-found', async () => {
    const c = await raw(f.gated.socketPath('acme'));
    c.socket.write(init(1));
    await c.next();
    c.socket.write(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'nope/nothing' }) + '\n');
    const r = await c.next();
    expect(r.id).toBe(7);
    expect(r.error.code).toBe(-32601);
    c.socket.destroy();
  });

  it('refuses unknown tools and invalid arguments with readable errors', async () => {
    const client = await connectClient(f.gated.socketPath('acme'));
    const unknown = await client.callTool({ name: 'rm_rf', arguments: {} });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/unknown tool "rm_rf"/);
    const invalid = await client.callTool({ name: 'send_message', arguments: { chat: 5, text: '' } });
    expect(invalid.isError).toBe(true);
    expect(textOf(invalid)).toMatch(/invalid arguments for send_message: chat: /);
    const extra = await client.callTool({ name: 'whoami', arguments: { as: 'root' } });
    expect(textOf(extra)).toMatch(/invalid arguments/);
    await client.close();
  });

  it('survives a client that disconnects mid-call and keeps serving others', async () => {
    const c = await raw(f.gated.socketPath('acme'));
    c.socket.write(init(1));
    await c.next();
    c.socket.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
    c.socket.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_groups', arguments: {} } }) + '\n');
    c.socket.destroy();
    const client = await connectClient(f.gated.socketPath('acme'));
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toMatch(/"tenant":"acme"/);
    await client.close();
  });

  it('caps connections per socket with a JSON-RPC error, and frees slots when clients leave', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => connectClient(f.gated.socketPath('globex'))));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await raw(f.gated.socketPath('globex'));
    const refusal = await extra.next();
    expect(refusal.error.message).toMatch(/too many connections/);
    await held[0]!.close();
    await new Promise((r) => setTimeout(r, 100));
    const again = await connectClient(f.gated.socketPath('globex'));
    expect(textOf(await again.callTool({ name: 'whoami', arguments: {} }))).toMatch(/globex/);
    for (const c of [...held.slice(1), again]) await c.close();
  });

  it('identity is the socket: arguments cannot claim another tenant', async () => {
    const client = await connectClient(f.gated.socketPath('acme/support'));
    const r = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse(textOf(r)).tenant).toBe('acme/support');
    await client.close();
  });
});

describe('protocol strictness', () => {
  const f = useGated();
  const auditRows = async (tenant: string) => {
    await f.gated.audit.flush();
    return (f.gated.audit.db.prepare('SELECT COUNT(*) AS n FROM audit WHERE tenant = ?').get(tenant) as { n: number }).n;
  };

  it.each([
    { method: 'tools/call', initializeSeen: false, inFlight: [], refused: /before "initialize"/ },
    { method: 'tools/list', initializeSeen: false, inFlight: [], refused: /before "initialize"/ },
    { method: 'initialize', initializeSeen: false, inFlight: [], refused: null },
    { method: 'ping', initializeSeen: false, inFlight: [], refused: null },
    { method: 'tools/call', initializeSeen: true, inFlight: [], refused: null },
    { method: 'tools/call', initializeSeen: true, inFlight: [7], refused: /already in flight/ },
    { method: 'tools/call', initializeSeen: true, inFlight: ['7'], refused: null },
    { method: 'initialize', initializeSeen: false, inFlight: [7], refused: /already in flight/ },
  ])('$method (initialize seen: $initializeSeen, in flight: $inFlight) → $refused', ({ method, initializeSeen, inFlight, refused }) => {
    const refusal = refusalOf({ id: 7, method }, { initializeSeen, inFlight: new Set<string | number>(inFlight) });
    if (refused === null) expect(refusal).toBeNull();
    else expect(refusal).toMatch(refused);
  });

  it('refuses a tool call before initialize without running it, and answers pings', async () => {
    const before = await auditRows('acme');
    const c = await raw(f.gated.socketPath('acme'));
    c.socket.write(call(1, 'send_message', { chat: 'local:ops', text: 'sent before initialize' }));
    const refusal = await c.next();
    expect(refusal).toMatchObject({ id: 1, error: { code: -32600 } });
    expect(refusal.error.message).toMatch(/"tools\/call" before "initialize"/);
    c.socket.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }) + '\n');
    expect(await c.next()).toMatchObject({ id: 2, result: {} });
    c.socket.write(init(3));
    expect((await c.next()).id).toBe(3);
    c.socket.write(call(4, 'whoami', {}));
    expect((await c.next()).result.content[0].text).toMatch(/"tenant":"acme"/);
    expect((await auditRows('acme')) - before).toBe(1); // the whoami, not the refused send_message
    const sent = f.gated.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE text = 'sent before initialize'").get() as { n: number };
    expect(sent.n).toBe(0);
    c.socket.destroy();
  });

  it('a malformed initialize does not count as one', async () => {
    const c = await raw(f.gated.socketPath('acme'));
    c.socket.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 5 } }) + '\n');
    expect((await c.next()).error).toBeDefined();
    c.socket.write(call(2, 'whoami', {}));
    expect((await c.next()).error.message).toMatch(/before "initialize"/);
    c.socket.destroy();
  });

  it('a cancelled request (which the SDK never answers) frees its id when its handler ends', async () => {
    const c = await raw(f.gated.socketPath('acme'));
    c.socket.write(init(1));
    await c.next();
    const cancel = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5, reason: 'test' } });
    c.socket.write(call(5, 'whoami', {}) + cancel + '\n' + call(6, 'whoami', {}));
    expect((await c.next()).id).toBe(6); // 5 gets no answer; its handler ended with 6's, in the same audit commit
    c.socket.write(call(5, 'whoami', {}));
    const again = await c.next();
    expect(again.id).toBe(5);
    expect(again.result.content[0].text).toMatch(/"tenant":"acme"/);
    c.socket.destroy();
  });

  it('refuses a request whose id is already in flight on the connection, and runs the first one', async () => {
    const c = await raw(f.gated.socketPath('globex'));
    c.socket.write(init(1));
    await c.next();
    const before = await auditRows('globex');
    c.socket.write(call(5, 'whoami', {}) + call(5, 'whoami', {}));
    const first = await c.next();
    const second = await c.next();
    expect(first).toMatchObject({ id: 5, error: { code: -32600 } });
    expect(first.error.message).toMatch(/request id 5 is already in flight/);
    expect(second.id).toBe(5);
    expect(second.result.content[0].text).toMatch(/"tenant":"globex"/);
    expect((await auditRows('globex')) - before).toBe(1);
    c.socket.write(call(5, 'whoami', {})); // answered, so its id is free again
    expect((await c.next()).result.content[0].text).toMatch(/globex/);
    c.socket.destroy();
  });
});

describe('connection bounds', () => {
  const f = useGated({ gated: { maxConnectionsPerSocket: 2, connectionBounds: { partialFrameTimeoutMs: 300 } } });

  it('closes connections that leave a frame unfinished and frees their slots', async () => {
    const holders = await Promise.all([1, 2].map(() => raw(f.gated.socketPath('acme'))));
    for (const h of holders) h.socket.write(init(1).slice(0, 20));
    const closed = holders.map((h) => new Promise<void>((r) => h.socket.once('close', () => r())));
    await Promise.all(closed); // gated ends them after 300 ms; without the bound they would hang the test
    const client = await connectClient(f.gated.socketPath('acme'));
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toMatch(/"tenant":"acme"/);
    await client.close();
  });
});

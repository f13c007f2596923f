// Run endpoints: gated's MCP over Streamable HTTPS, where the run's bearer token is the whole identity and the call
// path is the run socket's.
import { rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { NEXT_TURN_METHOD, NextTurnResultSchema, SUBMIT_TURN_METHOD, type TurnResult } from '../../../core/turn.js';
import type { ToolCallEvent } from '../../../gated/call.js';
import { useGated } from '../../helpers/gated.js';
import { textOf } from '../../helpers/mcp.js';
import { connectHttp, INITIALIZE, raw } from './client.js';

const run = (id: string) => ({ id, topic: 'main', chat: 'local:ann', depth: 0 });

describe('run endpoints over HTTPS', () => {
  const calls: ToolCallEvent[] = [];
  const f = useGated({ gated: { http: { listen: '127.0.0.1:0' }, onRunCall: (c) => calls.push(c) } });

  it('carry the run in whoami, take submit_turn, and refuse calls after the report, as a run socket does', async () => {
    const submitted: TurnResult[] = [];
    const ep = await f.gated.openRunEndpoint('acme/support', run('h1'), { onSubmit: (r) => submitted.push(r) });
    expect(ep.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const c = await connectHttp(ep);
    const who = JSON.parse(textOf(await c.client.callTool({ name: 'whoami', arguments: {} })));
    expect(who).toMatchObject({ tenant: 'acme/support', run: 'h1' });
    expect(calls.filter((e) => e.run === 'h1').map((e) => [e.tool, e.decision])).toEqual([['whoami', 'allow']]);
    await c.client.request({ method: SUBMIT_TURN_METHOD, params: { status: 'ok', result: 'done' } }, EmptyResultSchema);
    expect(submitted).toEqual([{ status: 'ok', result: 'done' }]);
    const late = await c.client.callTool({ name: 'whoami', arguments: {} });
    expect(textOf(late)).toMatch(/^denied: this turn has already reported its result/);
    await c.close();
    await ep.close();
  });

  it("a coordinator's endpoint answers next_turn and moves to the next turn", async () => {
    const ep = await f.gated.openRunEndpoint('acme', run('hc1'), {
      onSubmit: () => undefined,
      onNextTurn: async () => {
        ep.beginTurn({ id: 'hc2', topic: 'ops', chat: null, depth: 0 });
        return { stop: true };
      },
    });
    const c = await connectHttp(ep);
    await c.client.request({ method: SUBMIT_TURN_METHOD, params: { status: 'ok', result: 'one' } }, EmptyResultSchema);
    expect(await c.client.request({ method: NEXT_TURN_METHOD, params: {} }, NextTurnResultSchema)).toEqual({ stop: true });
    expect(JSON.parse(textOf(await c.client.callTool({ name: 'whoami', arguments: {} })))).toMatchObject({ tenant: 'acme', run: 'hc2' });
    await c.close();
    await ep.close();
  });

  it('refuses a missing, malformed or unknown token with 401 and runs nothing', async () => {
    const ep = await f.gated.openRunEndpoint('acme', run('h2'));
    const before = calls.length;
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    for (const token of [undefined, 'nonsense', `wgr_${'A'.repeat(43)}`, ep.token.slice(0, -1) + (ep.token.endsWith('A') ? 'B' : 'A')]) {
      for (const body of [INITIALIZE, call]) {
        const res = await raw(ep, { token, body });
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    }
    expect(calls.length).toBe(before);
    await ep.close();
  });

  it('revokes the token when the run ends: its open session is closed and the token gets 401', async () => {
    const ep = await f.gated.openRunEndpoint('acme', run('h3'));
    const c = await connectHttp(ep);
    const sessionId = c.transport.sessionId!;
    expect(sessionId).toBeTruthy();
    await ep.close();
    expect(f.gated.httpListener!.sessionCount).toBe(0);
    const res = await raw(ep, { token: ep.token, sessionId, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } });
    expect(res.status).toBe(401);
    await expect(c.client.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow();
    await c.close();
  });

  it("a token cannot reach another run's session: the session is not found for it", async () => {
    const a = await f.gated.openRunEndpoint('acme/support', run('ha'));
    const b = await f.gated.openRunEndpoint('acme', run('hb'));
    const ca = await connectHttp(a);
    const before = calls.length;
    const res = await raw(b, {
      token: b.token,
      sessionId: ca.transport.sessionId!,
      headers: { 'mcp-protocol-version': '2025-06-18' },
      body: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
    });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text).error.message).toBe('Session not found');
    expect(calls.length).toBe(before);
    // The session itself is untouched, and still its own run's.
    expect(JSON.parse(textOf(await ca.client.callTool({ name: 'whoami', arguments: {} })))).toMatchObject({ run: 'ha' });
    await ca.close();
    await a.close();
    await b.close();
  });

  it('refuses every request but initialize before a session exists, and opens nothing for it', async () => {
    const ep = await f.gated.openRunEndpoint('acme', run('h4'));
    const before = calls.length;
    for (const body of [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { nonsense: true } },
      [INITIALIZE, { jsonrpc: '2.0', id: 2, method: 'tools/list' }],
    ]) {
      const res = await raw(ep, { token: ep.token, body });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.message).toMatch(/send one "initialize" request first/);
    }
    expect(calls.length).toBe(before);
    expect(f.gated.httpListener!.sessionCount).toBe(0);
    await ep.close();
  });

  it('refuses a request id already in flight on the session', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ep = await f.gated.openRunEndpoint('acme', run('h5'), {
      onNextTurn: async () => {
        await held;
        return { stop: true };
      },
    });
    const c = await connectHttp(ep);
    const sessionId = c.transport.sessionId!;
    const headers = { 'mcp-protocol-version': '2025-06-18' };
    const first = raw(ep, { token: ep.token, sessionId, headers, body: { jsonrpc: '2.0', id: 'x', method: NEXT_TURN_METHOD, params: {} } });
    await waitFor(() => f.gated.httpListener!.requestsInFlight === 1);
    const second = await raw(ep, { token: ep.token, sessionId, headers, body: { jsonrpc: '2.0', id: 'x', method: 'tools/list' } });
    expect(second.status).toBe(400);
    expect(JSON.parse(second.text).error.message).toMatch(/already in flight/);
    release();
    expect((await first).text).toContain('"stop":true');
    await c.close();
    await ep.close();
  });

  it('refuses a request body over the cap with 413', async () => {
    const ep = await f.gated.openRunEndpoint('acme', run('h6'));
    const big = 'x'.repeat(4 * 1024 * 1024 + 1);
    const res = await raw(ep, { token: ep.token, rawBody: JSON.stringify({ ...INITIALIZE, pad: big }) });
    expect(res.status).toBe(413);
    expect(f.gated.httpListener!.sessionCount).toBe(0);
    await ep.close();
  });
});

describe('run endpoints: the bounds of a token', () => {
  const f = useGated({ gated: { http: { listen: '127.0.0.1:0', bounds: { maxSessionsPerToken: 2, idleSessionMs: 300, maxBodyBytes: 2048, maxInFlight: 2 } } } });

  it('refuses a request past maxInFlight unanswered requests of its session', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ep = await f.gated.openRunEndpoint('acme', run('b0'), {
      onNextTurn: async () => {
        await held;
        return { stop: true };
      },
    });
    const c = await connectHttp(ep);
    const waiting = [1, 2].map(() => c.client.request({ method: NEXT_TURN_METHOD, params: {} }, NextTurnResultSchema));
    await waitFor(() => f.gated.httpListener!.requestsInFlight === 2);
    await expect(c.client.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow(/more than 2 requests in flight/);
    release();
    expect(await Promise.all(waiting)).toEqual([{ stop: true }, { stop: true }]);
    expect(JSON.parse(textOf(await c.client.callTool({ name: 'whoami', arguments: {} })))).toMatchObject({ run: 'b0' });
    await c.close();
    await ep.close();
  });

  it('holds at most maxSessionsPerToken sessions per token; other tokens are not affected', async () => {
    const ep = await f.gated.openRunEndpoint('acme', run('b1'));
    const other = await f.gated.openRunEndpoint('acme', run('b2'));
    const one = await connectHttp(ep);
    const two = await connectHttp(ep);
    const res = await raw(ep, { token: ep.token, body: INITIALIZE });
    expect(res.status).toBe(429);
    const three = await connectHttp(other);
    await Promise.all([one.close(), two.close(), three.close()]);
    await ep.close();
    await other.close();
  });

  it('closes a session left idle, and the body cap is the configured one', async () => {
    const ep = await f.gated.openRunEndpoint('acme', run('b3'));
    const c = await connectHttp(ep);
    expect(f.gated.httpListener!.sessionCount).toBe(1);
    await waitFor(() => f.gated.httpListener!.sessionCount === 0);
    await expect(c.client.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow(/404|Session not found/);
    const res = await raw(ep, { token: ep.token, rawBody: JSON.stringify({ ...INITIALIZE, pad: 'x'.repeat(2048) }) });
    expect(res.status).toBe(413);
    await c.close();
    await ep.close();
  });

  it('does not reap a session whose request is still being answered (a held next_turn)', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const ep = await f.gated.openRunEndpoint('acme', run('b4'), {
      onNextTurn: async () => {
        await held;
        return { stop: true };
      },
    });
    const c = await connectHttp(ep);
    const answer = c.client.request({ method: NEXT_TURN_METHOD, params: {} }, NextTurnResultSchema);
    await waitFor(() => f.gated.httpListener!.requestsInFlight === 1);
    await new Promise((r) => setTimeout(r, 900)); // three idle periods
    expect(f.gated.httpListener!.sessionCount).toBe(1);
    release();
    expect(await answer).toEqual({ stop: true });
    await c.close();
    await ep.close();
  });

  it('frees everything of a client that goes away in the middle of a call', async () => {
    let started = 0;
    const ep = await f.gated.openRunEndpoint('acme', run('b5'), {
      onNextTurn: () => {
        started++;
        return new Promise(() => undefined); // never answered
      },
    });
    const c = await connectHttp(ep);
    const sessionId = c.transport.sessionId!;
    const { request } = await import('node:https');
    const req = request(new URL(ep.url), {
      method: 'POST',
      ca: [ep.caPem],
      agent: false,
      headers: {
        authorization: `Bearer ${ep.token}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-06-18',
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
      },
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 9, method: NEXT_TURN_METHOD, params: {} }));
    await waitFor(() => started === 1 && f.gated.httpListener!.requestsInFlight === 1);
    req.destroy(); // the client vanishes with its call open
    await waitFor(() => f.gated.httpListener!.sessionCount === 0 && f.gated.httpListener!.requestsInFlight === 0);
    await c.close();
    await ep.close();
  });
});

describe('run endpoints: connections before any request', () => {
  const f = useGated({ gated: { http: { listen: '127.0.0.1:0', bounds: { maxConnections: 2, firstRequestMs: 300 } } } });

  it('are closed when no request arrives in time, so idle ones cannot hold every connection slot', async () => {
    const ep = await f.gated.openRunEndpoint('acme', run('c1'));
    const { hostname, port } = new URL(ep.url);
    // Anyone who reaches the port (any tenant's task, through crackbox): no token needed to hold a slot.
    let closed = 0;
    const bare = tcpConnect(Number(port), hostname); // never starts TLS
    const idle = tlsConnect({ host: hostname, port: Number(port), ca: ep.caPem }); // TLS, then nothing
    await new Promise<void>((r) => idle.once('secureConnect', () => r()));
    for (const s of [bare, idle]) {
      s.on('error', () => undefined);
      s.once('close', () => closed++);
    }
    await waitFor(() => closed === 2);
    const c = await connectHttp(ep);
    expect(JSON.parse(textOf(await c.client.callTool({ name: 'whoami', arguments: {} })))).toMatchObject({ run: 'c1' });
    await c.close();
    await ep.close();
  });
});

describe('run endpoints of a tenant that leaves the tree', () => {
  const f = useGated({ gated: { http: { listen: '127.0.0.1:0' } } });
  it('are revoked with its sockets: the token gets 401 and its session is gone', async () => {
    const ep = await f.gated.openRunEndpoint('acme/support', run('t1'));
    const c = await connectHttp(ep);
    rmSync(join(f.tree.tenants, 'acme/support'), { recursive: true });
    f.gated.registry.refresh('acme/support');
    await f.gated.settled();
    expect(f.gated.httpListener!.sessionCount).toBe(0);
    expect((await raw(ep, { token: ep.token, body: INITIALIZE })).status).toBe(401);
    await c.close();
    await ep.close();
  });
});

describe('run endpoints without the listener', () => {
  const f = useGated({ gated: { http: null } });
  it('openRunEndpoint says how to turn the listener on', async () => {
    await expect(f.gated.openRunEndpoint('acme', run('x1'))).rejects.toThrow(/WARREN_GATED_HTTP=host:port/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

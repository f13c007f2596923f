// Run sockets: bound to (tenant, run), carry the run's identity, accept the runner's turn report, and vanish on close.
import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { NEXT_TURN_METHOD, NextTurnResultSchema, SUBMIT_TURN_METHOD, type TurnResult } from '../../core/turn.js';
import type { ToolCallEvent } from '../../gated/call.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { useGated } from '../helpers/gated.js';

describe('run sockets', () => {
  const f = useGated();

  it('reports the run in whoami, receives submit_turn, and is removed on close', async () => {
    const submitted: TurnResult[] = [];
    const run = { id: 'r1', topic: 'main', chat: 'local:ann', depth: 0 };
    const sock = await f.gated.openRunSocket('acme/support', run, { onSubmit: (r) => submitted.push(r) });
    expect(statSync(sock.socketPath).mode & 0o777).toBe(0o660);
    const client = await connectClient(sock.socketPath);
    const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(who).toMatchObject({ tenant: 'acme/support', run: 'r1' });
    await client.request({ method: SUBMIT_TURN_METHOD, params: { status: 'ok', result: 'done', session: 's1' } }, EmptyResultSchema);
    expect(submitted).toEqual([{ status: 'ok', result: 'done', session: 's1' }]);
    // The turn is over: a call after the report is refused, and audited as such.
    const late = await client.callTool({ name: 'send_message', arguments: { chat: 'tg:1', text: 'one more thing' } });
    expect(textOf(late)).toMatch(/^denied: this turn has already reported its result/);
    await expect(
      client.request({ method: SUBMIT_TURN_METHOD, params: { status: 'maybe', result: 1 } }, EmptyResultSchema),
    ).rejects.toThrow();
    await client.close();
    await sock.close();
    expect(existsSync(sock.socketPath)).toBe(false);
  });

  it("a coordinator's socket moves from turn to turn: a reported turn is closed, the next one is open and is who calls", async () => {
    const sock = await f.gated.openRunSocket('acme', { id: 'c1', topic: 'main', chat: 'local:ann', depth: 0 }, {
      onSubmit: () => undefined,
      onNextTurn: async () => {
        sock.beginTurn({ id: 'c2', topic: 'ops', chat: 'tg:9', depth: 1 });
        return { stop: true };
      },
    });
    const client = await connectClient(sock.socketPath);
    await client.request({ method: SUBMIT_TURN_METHOD, params: { status: 'ok', result: 'one' } }, EmptyResultSchema);
    const late = await client.callTool({ name: 'whoami', arguments: {} });
    expect(textOf(late)).toMatch(/^denied: this turn has already reported its result/);
    expect(await client.request({ method: NEXT_TURN_METHOD, params: {} }, NextTurnResultSchema)).toEqual({ stop: true });
    const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(who).toMatchObject({ tenant: 'acme', run: 'c2' });
    await client.close();
    await sock.close();
  });

  it('a run socket that is not a coordinator has no next_turn method', async () => {
    const sock = await f.gated.openRunSocket('acme', { id: 'n1', topic: 'main', chat: null, depth: 0 }, { onSubmit: () => undefined });
    const client = await connectClient(sock.socketPath);
    await expect(client.request({ method: NEXT_TURN_METHOD, params: {} }, NextTurnResultSchema)).rejects.toThrow(/not found/i);
    await client.close();
    await sock.close();
  });

  it('the tenant socket has no submit_turn method and does not list it as a tool', async () => {
    const client = await connectClient(f.gated.socketPath('acme'));
    await expect(
      client.request({ method: SUBMIT_TURN_METHOD, params: { status: 'ok', result: 'x' } }, EmptyResultSchema),
    ).rejects.toThrow(/Method not found/);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('submit_turn');
    await client.close();
  });

  it('a run socket can be owned by the container user and kept 0600', async () => {
    const sock = await f.gated.openRunSocket('acme', { id: 'r2', topic: 'main', chat: null, depth: 0 }, { owner: { uid: 1000, gid: 1000 } });
    const st = statSync(sock.socketPath);
    expect(st.uid).toBe(1000);
    expect(st.mode & 0o777).toBe(0o600);
    await sock.close();
  });
});

describe('run sockets: the per-run call report', () => {
  const calls: ToolCallEvent[] = [];
  const f = useGated({
    gated: {
      onRunCall: (call) => {
        calls.push(call);
        if (call.tool === 'send_message') throw new Error('a broken listener');
      },
    },
  });

  it('tells the listener of each run call once audited, without its arguments; tenant-socket calls are not reported', async () => {
    const sock = await f.gated.openRunSocket('acme/support', { id: 'r9', topic: 'main', chat: null, depth: 0 });
    const client = await connectClient(sock.socketPath);
    await client.callTool({ name: 'whoami', arguments: {} });
    await client.callTool({ name: 'create_group', arguments: { name: 'secret-plan-name' } });
    // A listener that throws changes nothing about the call.
    const sent = await client.callTool({ name: 'send_message', arguments: { chat: 'tg:1', text: 'hello' } });
    expect(textOf(sent)).not.toMatch(/internal error/);
    const tenantClient = await connectClient(f.gated.socketPath('acme'));
    await tenantClient.callTool({ name: 'whoami', arguments: {} });
    await tenantClient.close();
    await client.close();
    await sock.close();
    expect(calls.map((c) => [c.run, c.tool, c.decision])).toEqual([
      ['r9', 'whoami', 'allow'],
      ['r9', 'create_group', 'deny'],
      ['r9', 'send_message', expect.any(String)],
    ]);
    expect(Object.keys(calls[1]!).sort()).toEqual(['decision', 'durationUs', 'outcome', 'rule', 'run', 'tenant', 'tool']);
    expect(JSON.stringify(calls)).not.toContain('secret-plan-name');
  });
});

// The bundled runner reaching gated over HTTPS, as a task on another node does: the turn names the endpoint, the run's
// token and the CA to pin; there is no socket. Real gated, real listener, the runner as a child process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TurnResult } from '../../core/turn.js';
import { ensureTls, parseSans } from '../../gated/tls.js';
import { useGated } from '../helpers/gated.js';
import { logRecords, message, runRunner, turnInput, useBuiltRunner } from './helpers.js';

describe('runner: gated over HTTPS', () => {
  const f = useGated({ gated: { http: { listen: '127.0.0.1:0' } } });
  const r = useBuiltRunner();
  const noSocket = { WARREN_GATED_SOCKET: '/nonexistent/gated.sock' };
  const otherData = mkdtempSync(join(tmpdir(), 'warren-other-ca-'));
  afterAll(() => rmSync(otherData, { recursive: true, force: true }));

  it('makes its tool calls and reports its turn over the endpoint the turn names', async () => {
    const submitted: TurnResult[] = [];
    const ep = await f.gated.openRunEndpoint('acme/support', { id: 'rh1', topic: 'main', chat: 'local:ann', depth: 0 }, {
      onSubmit: (result) => submitted.push(result),
    });
    const script = [{ match: '.*', calls: [{ tool: 'whoami', args: {} }], reply: '{{result}}' }];
    const input = turnInput({ tenant: 'acme/support', run: 'rh1', script, messages: [message('who?')], gated: { url: ep.url, token: ep.token, ca: ep.caPem } });
    const out = await runRunner(r.runner.main, JSON.stringify(input), { env: noSocket });
    await ep.close();
    expect(out.code).toBe(0);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]!.status).toBe('ok');
    expect(JSON.parse(submitted[0]!.result)).toMatchObject({ tenant: 'acme/support', run: 'rh1' });
    expect(out.stderr).not.toContain(ep.token);
  });

  it('trusts only the CA the turn names: a server certificate of another CA is refused and nothing is reported', async () => {
    const submitted: TurnResult[] = [];
    const ep = await f.gated.openRunEndpoint('acme', { id: 'rh2', topic: 'main', chat: null, depth: 0 }, { onSubmit: (x) => submitted.push(x) });
    const foreign = ensureTls(otherData, parseSans('127.0.0.1')).caPem;
    const input = turnInput({ messages: [message('hi')], gated: { url: ep.url, token: ep.token, ca: foreign } });
    // The right CA in the process's extra trust store changes nothing: the pinned CA is the whole trust store.
    const out = await runRunner(r.runner.main, JSON.stringify(input), { env: { ...noSocket, NODE_EXTRA_CA_CERTS: join(f.tree.data, 'tls', 'ca.crt') } });
    await ep.close();
    expect(out.code).toBe(1);
    expect(submitted).toEqual([]);
    expect(logRecords(out.stderr).map((x) => JSON.stringify(x)).join('\n')).toMatch(/MCP handshake with gated at https:\/\/127\.0\.0\.1:\d+\/mcp failed: .*(certificate|verify)/i);
    expect(out.stderr).not.toContain(ep.token);
  });

  it('is refused with a revoked token (the run has ended) and reports nothing', async () => {
    const ep = await f.gated.openRunEndpoint('acme', { id: 'rh3', topic: 'main', chat: null, depth: 0 }, { onSubmit: () => undefined });
    await ep.close();
    const input = turnInput({ messages: [message('hi')], gated: { url: ep.url, token: ep.token, ca: ep.caPem } });
    const out = await runRunner(r.runner.main, JSON.stringify(input), { env: noSocket });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/a live run token is required/);
    expect(out.stderr).not.toContain(ep.token);
  });
});

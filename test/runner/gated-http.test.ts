// The runner reaching gated over HTTPS, as a task on another node does: the turn names the endpoint, the run's token
// and the CA to pin; there is no socket to mount, so the runner serves one itself and relays it (gated-relay.ts).
// Real gated, real listener; the bundled runner as a child process, and the relay in-process.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TurnResult } from '../../core/turn.js';
import { ensureTls, parseSans } from '../../gated/tls.js';
import { useGated } from '../helpers/gated.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { startRelay } from '../../images/agent/runner/gated-relay.js';
import { runnerLog } from '../../images/agent/runner/log.js';
import { installFakeClaude } from './fake-claude.js';
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

  it("gives the claude-code harness's bridge the relayed socket: Claude Code's MCP calls reach gated over HTTPS as the run", async () => {
    const submitted: TurnResult[] = [];
    const root = mkdtempSync(join(tmpdir(), 'warren-claude-http-'));
    try {
      const bin = installFakeClaude(join(root, 'bin'));
      const tmp = join(root, 'tmp');
      mkdirSync(tmp);
      const persona = join(root, 'PERSONA.md');
      writeFileSync(persona, '---\nharness: claude-code\n---\n\nYou answer.\n');
      const ep = await f.gated.openRunEndpoint('acme/support', { id: 'rhc', topic: 'main', chat: null, depth: 0 }, { onSubmit: (x) => submitted.push(x) });
      const input = turnInput({ tenant: 'acme/support', harness: 'claude-code', messages: [message('hi')], gated: { url: ep.url, token: ep.token, ca: ep.caPem } });
      const out = await runRunner(r.runner.main, JSON.stringify(input), { env: { ...noSocket, WARREN_PERSONA_FILE: persona, TMPDIR: tmp, PATH: bin } });
      await ep.close();
      expect(out.code).toBe(0);
      expect(submitted).toHaveLength(1);
      const report = JSON.parse(submitted[0]!.result);
      expect(report.whoami).toMatchObject({ tenant: 'acme/support', run: 'rhc' });
      expect(report.denied).toMatch(/^denied: /);
      expect(report.bridgeExit).toBe(0);
      // The token is in no file Claude Code reads and in no log; the relay's folder is gone with the turn.
      expect(report.configText).not.toContain(ep.token);
      expect(out.stdout + out.stderr).not.toContain(ep.token);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
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
    expect(logRecords(out.stderr).map((x) => JSON.stringify(x)).join('\n')).toMatch(/gated at https:\/\/127\.0\.0\.1:\d+\/mcp: unable to verify the first certificate/);
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

describe('runner: the relay to gated over HTTPS', () => {
  const f = useGated({ gated: { http: { listen: '127.0.0.1:0', bounds: { idleSessionMs: 300 } } } });
  const log = runnerLog('test');

  it("keeps a quiet session alive with pings, carries the run's identity, and ends the session when the client leaves", async () => {
    const ep = await f.gated.openRunEndpoint('acme/support', { id: 'rl1', topic: 'main', chat: null, depth: 0 });
    const relay = await startRelay({ url: ep.url, token: ep.token, ca: ep.caPem }, log, 100);
    const client = await connectClient(relay.socketPath);
    expect(f.gated.httpListener!.sessionCount).toBe(1);
    await new Promise((r) => setTimeout(r, 1000)); // three idle timeouts with nothing but the relay's pings
    expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })))).toMatchObject({ tenant: 'acme/support', run: 'rl1' });
    await client.close();
    await waitFor(() => f.gated.httpListener!.sessionCount === 0);
    await relay.close();
    await ep.close();
  });

  it("answers a client's request itself when gated cannot be reached, instead of leaving it waiting", async () => {
    const ep = await f.gated.openRunEndpoint('acme', { id: 'rl2', topic: 'main', chat: null, depth: 0 });
    await ep.close(); // revoked: every request is refused
    const relay = await startRelay({ url: ep.url, token: ep.token, ca: ep.caPem }, log);
    await expect(connectClient(relay.socketPath)).rejects.toThrow(/gated at https:\/\/127\.0\.0\.1:\d+\/mcp: .*a live run token is required/);
    await relay.close();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

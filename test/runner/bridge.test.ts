// `main.js bridge`: the MCP server Claude Code launches inside the container, a byte pump to the gated socket.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { textOf } from '../helpers/mcp.js';
import { useGated } from '../helpers/gated.js';
import { runRunner, useBuiltRunner } from './helpers.js';

describe('runner: bridge mode', () => {

  const f = useGated();
  const r = useBuiltRunner();

  it('carries the SDK stdio client to gated and exits 0 when the client closes', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [r.runner.main, 'bridge'],
      env: { ...getDefaultEnvironment(), WARREN_GATED_SOCKET: f.gated.socketPath('acme/support') },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'bridge-test', version: '0' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('escalate_group');
    expect(tools.map((t) => t.name)).not.toContain('delegate_group'); // tier 2 does not see it
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse(textOf(who)).tenant).toBe('acme/support');
    const denied = await client.callTool({ name: 'delegate_group', arguments: { group: 'acme/support/triage', prompt: 'x' } });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toMatch(/^denied: /);
    const exited = new Promise<number | null>((resolve) => transport['_process']!.once('exit', (code: number | null) => resolve(code)));
    await client.close();
    expect(await exited).toBe(0);
  });

  it('passes end-of-stream both ways: stdin EOF reaches gated, gated closing ends stdout, exit 0', async () => {
    const child = spawn(process.execPath, [r.runner.main, 'bridge'], {
      env: { PATH: process.env.PATH, WARREN_GATED_SOCKET: f.gated.socketPath('acme') },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let stdoutEnded = false;
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stdout.on('end', () => (stdoutEnded = true));
    const init = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } };
    child.stdin.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: init }) + '\n');
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect(stdoutEnded).toBe(true);
    expect(JSON.parse(out.split('\n')[0]!).result.serverInfo.name).toBe('warren-gated');
  });

  it('exits 1 with a message when the socket is not there', async () => {
    const out = await runRunner(r.runner.main, '', { args: ['bridge'], env: { WARREN_GATED_SOCKET: `${f.tree.root}/nope/gated.sock` } });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/cannot connect to .*nope.gated\.sock: ENOENT/);
    expect(out.stdout).toBe('');
  });
});

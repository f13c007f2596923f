// `warren connect` is what MCP clients launch: the SDK's own stdio client spawns it and talks through it.
import { spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { requireBuilt, warren } from '../helpers/cli.js';
import { textOf } from '../helpers/mcp.js';
import { useGated } from '../helpers/gated.js';

describe('warren connect', () => {
  const f = useGated();

  it('bridges the SDK stdio client to the tenant socket and exits cleanly when the client closes', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [requireBuilt(), 'connect', 'acme/support', '--data', f.tree.data],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'connect-test', version: '0' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('escalate_group');
    expect(tools.map((t) => t.name)).not.toContain('create_group');
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse(textOf(who)).tenant).toBe('acme/support');
    const exited = new Promise<number | null>((resolve) => transport['_process']!.once('exit', (code: number | null) => resolve(code)));
    await client.close();
    expect(await exited).toBe(0);
  });

  it('passes end-of-stream both ways: stdin EOF makes gated close, and the bridge exits 0', async () => {
    const child = spawn(process.execPath, [requireBuilt(), 'connect', 'acme', '--data', f.tree.data], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.end(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } } }) + '\n',
    );
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(out.split('\n')[0]!).result.serverInfo.name).toBe('warren-gated');
  });

  it('explains a missing socket and exits 1', () => {
    const r = warren(['connect', 'acme/nobody', '--data', f.tree.data]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot connect to .*acme.nobody.*gated\.sock/);
  });

  it('rejects an invalid tenant name as a usage problem', () => {
    const r = warren(['connect', 'Acme/../x', '--data', f.tree.data]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid tenant/);
  });

  it('--print-config prints an mcpServers config by absolute paths that works from outside the checkout', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'warren-client-'));
    try {
      // A relative --data is made absolute: the client launches it from wherever it runs.
      const r = warren(['connect', '--print-config', 'acme/support', '--data', relative(outside, f.tree.data)], { cwd: outside });
      expect(r.status).toBe(0);
      const config = JSON.parse(r.stdout);
      const server = config.mcpServers['warren-acme.support'];
      expect(server).toEqual({
        command: process.execPath,
        args: [realpathSync(requireBuilt()), 'connect', 'acme/support', '--data', f.tree.data],
      });
      expect(r.stdout).not.toMatch(/npx/);
      const transport = new StdioClientTransport({ command: server.command, args: server.args, cwd: outside, stderr: 'pipe' });
      const client = new Client({ name: 'print-config-test', version: '0' });
      await client.connect(transport);
      const who = await client.callTool({ name: 'whoami', arguments: {} });
      expect(JSON.parse(textOf(who)).tenant).toBe('acme/support');
      await client.close();
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('its usage never suggests npx (which would look "warren" up in the package registry)', () => {
    const r = warren(['connect', '--help']);
    expect(r.stdout).toMatch(/--print-config/);
    expect(r.stdout).not.toMatch(/"command": "npx"/);
  });
});

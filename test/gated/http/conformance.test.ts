// The MCP conformance tool (@modelcontextprotocol/conformance, server mode) against a run endpoint: the initialize,
// ping and tools-list scenarios, over HTTPS with gated's CA as the tool's extra trust (NODE_EXTRA_CA_CERTS).
// The tool sends no headers of its own, so a loopback proxy in this test adds the run's token to every request it
// forwards: the endpoint it reaches is the real one, token check included. The proxy serves TLS with gated's own
// server certificate, so the tool checks gated's certificate chain as a run would.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useGated } from '../../helpers/gated.js';

const REPO = join(import.meta.dirname, '..', '..', '..');
const TOOL = join(REPO, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const NODE20_SHIM = join(import.meta.dirname, 'node20-fs', 'register.mjs');

/** Forwards every request to `target`, with the run's token added; answers stream back as they come. */
function tokenProxy(target: URL, token: string, caPem: string, tls: { key: string; cert: string }): Promise<Server> {
  const server = createServer(tls, (req, res) => {
    const headers = { ...req.headers, host: target.host, authorization: `Bearer ${token}` };
    const upstream = request(new URL(req.url ?? '/', target), { method: req.method, headers, ca: [caPem], agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function runTool(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const major = Number(process.versions.node.split('.')[0]);
  const nodeArgs = major < 22 ? ['--import', NODE20_SHIM] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, TOOL, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('MCP conformance of a run endpoint', () => {
  const f = useGated({ gated: { http: { listen: '127.0.0.1:0' } } });
  let proxy: Server | undefined;
  afterAll(() => new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve())));

  it.each(['server-initialize', 'ping', 'tools-list'])('passes %s', async (scenario) => {
    const ep = await f.gated.openRunEndpoint('acme', { id: `conf-${scenario}`, topic: 'main', chat: null, depth: 0 });
    const tlsDir = join(f.tree.data, 'tls');
    proxy = await tokenProxy(new URL(ep.url), ep.token, ep.caPem, {
      key: readFileSync(join(tlsDir, 'server.key'), 'utf8'),
      cert: readFileSync(join(tlsDir, 'server.crt'), 'utf8'),
    });
    const url = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp`;
    try {
      const { code, out } = await runTool(['server', '--url', url, '--scenario', scenario], { NODE_EXTRA_CA_CERTS: join(tlsDir, 'ca.crt') });
      expect(out).toMatch(/Passed: [1-9]\d*\/\d+, 0 failed/);
      expect(code).toBe(0);
    } finally {
      await new Promise<void>((resolve) => proxy!.close(() => resolve()));
      proxy = undefined;
      await ep.close();
    }
  });
});

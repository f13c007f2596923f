// `npm run bench:gated`: gated's overhead against a bare MCP SDK server, measured in one run.
//  1. p50/p99 round trip through `warren connect` of an allowed and a denied call, and of an echo tool on a bare SDK
//     server behind the same bridge (the baseline), interleaved call by call; prints the ratio.
//  2. calls/s with 100 tenant sockets in use (clients in a separate process), against the bare server under the same
//     load, alternated (2 x 3 s each); prints the ratio.
//  3. heap per idle connection.
//  4. grant decision time at 10/100/1000 rules (bench/grants.ts).
// Run with --expose-gc (the npm script does) so heap figures are taken after a full collection.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { SocketTransport } from '../core/socket-transport.js';
import { silentLogger } from '../core/log.js';
import { GRANTS_FILE } from '../core/tree/layout.js';
import { Gated } from '../gated/broker.js';
import { runGrantsBench } from './grants.js';

const WARREN = fileURLToPath(new URL('../cli/warren.js', import.meta.url));
const LOAD = fileURLToPath(new URL('./gated-load.js', import.meta.url));
const ROUND_TRIPS = Number(process.env.BENCH_CALLS ?? 3000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Latency {
  p50: number;
  p99: number;
}

/**
 * Round trips of several clients, interleaved call by call so that each sees the same machine (on a shared machine
 * the load changes by the second; measuring one client after the other would compare different moments).
 */
async function roundTrips(targets: { client: Client; name: string; args: Record<string, unknown> }[]): Promise<Latency[]> {
  for (let i = 0; i < 200; i++) for (const t of targets) await t.client.callTool({ name: t.name, arguments: t.args }); // warm-up
  const times: number[][] = targets.map(() => []);
  for (let i = 0; i < ROUND_TRIPS; i++) {
    for (const [k, t] of targets.entries()) {
      const t0 = process.hrtime.bigint();
      await t.client.callTool({ name: t.name, arguments: t.args });
      times[k]!.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  }
  return times.map((ts) => {
    ts.sort((a, b) => a - b);
    return { p50: percentile(ts, 50), p99: percentile(ts, 99) };
  });
}

async function viaBridge(args: string[]): Promise<Client> {
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [WARREN, 'connect', ...args], stderr: 'inherit' }));
  return client;
}

/** The baseline: the SDK's own Server with one echo tool, on a unix socket with the same framing. */
async function bareEchoServer(socketPath: string): Promise<() => Promise<void>> {
  const net = createServer((socket) => {
    const server = new Server({ name: 'echo', version: '0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [{ name: 'echo', description: 'echo', inputSchema: { type: 'object' } }],
    }));
    server.setRequestHandler(CallToolRequestSchema, (r) => ({
      content: [{ type: 'text', text: JSON.stringify(r.params.arguments ?? {}) }],
    }));
    void server.connect(new SocketTransport(socket));
  });
  await new Promise<void>((resolve) => net.listen(socketPath, resolve));
  return () => new Promise<void>((resolve) => net.close(() => resolve()));
}

function runChild(mode: string, config: unknown): Promise<{ calls: number; errors: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD, mode, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`${mode} exited ${code}`))));
  });
}

function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

async function heapPerIdleConnection(gated: Gated, count: number): Promise<number> {
  const socket = gated.socketPath('world-000');
  const before = heapAfterGc();
  const child = spawn(process.execPath, [LOAD, 'idle', JSON.stringify({ socket, count })], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  await new Promise((r) => setTimeout(r, 200));
  const after = heapAfterGc();
  child.stdin.end();
  await new Promise((resolve) => child.once('exit', resolve));
  return (after - before) / count;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const tenants = join(dir, 'tenants');
  const data = join(dir, 'data');
  for (let i = 0; i < 100; i++) mkdirSync(join(tenants, `world-${String(i).padStart(3, '0')}`), { recursive: true });
  mkdirSync(join(tenants, 'world-000', 'team'));
  writeFileSync(join(tenants, 'world-000', GRANTS_FILE), '# benchmark\n!fork_topic(parent=secret*)\n');
  const gated = await Gated.start({ tenantsDir: tenants, dataDir: data, log: silentLogger(), watch: false, maxConnectionsPerSocket: 2000 });
  const echoSocket = join(dir, 'echo.sock');
  const stopEcho = await bareEchoServer(echoSocket);
  try {
    process.stderr.write(`round trips (${ROUND_TRIPS} calls each, through warren connect)...\n`);
    const world = await viaBridge(['world-000', '--data', data]);
    const team = await viaBridge(['world-000/team', '--data', data]);
    const echo = await viaBridge(['--socket', echoSocket]);
    const [allowed, denied, bare] = (await roundTrips([
      { client: world, name: 'whoami', args: {} },
      { client: team, name: 'create_group', args: { name: 'x' } },
      { client: echo, name: 'echo', args: {} },
    ])) as [Latency, Latency, Latency];
    for (const c of [world, team, echo]) await c.close();

    process.stderr.write('throughput with 100 tenant sockets (and 100 bare echo sockets as the baseline)...\n');
    const sockets = [...gated.sockets().values()].slice(0, 100);
    // Alternated, gated then bare twice over, so that both see the same moods of a shared machine.
    const load = { calls: 0, errors: 0, seconds: 0 };
    const echoLoad = { calls: 0, errors: 0, seconds: 0 };
    for (let round = 0; round < 2; round++) {
      for (const [total, part] of [
        [load, await runChild('load', { sockets, seconds: 3, inflight: 4, tool: 'read_observed', args: {} })],
        [echoLoad, await runChild('load', { sockets: Array(100).fill(echoSocket), seconds: 3, inflight: 4, tool: 'echo', args: {} })],
      ] as const) {
        total.calls += part.calls;
        total.errors += part.errors;
        total.seconds += part.seconds;
      }
    }

    process.stderr.write('heap per idle connection...\n');
    const heap = await heapPerIdleConnection(gated, 1000);

    process.stderr.write('grant decisions...\n');
    const grants = await runGrantsBench();

    const us = (n: number) => `${n.toFixed(0)} us`;
    const gatedRate = load.calls / load.seconds;
    const bareRate = echoLoad.calls / echoLoad.seconds;
    const lines = [
      '## gated benchmark',
      '',
      '| measure | p50 | p99 |',
      '| --- | --- | --- |',
      `| bare SDK echo server via warren connect (baseline) | ${us(bare.p50)} | ${us(bare.p99)} |`,
      `| gated allowed call (whoami) | ${us(allowed.p50)} | ${us(allowed.p99)} |`,
      `| gated denied call (tier 2 create_group) | ${us(denied.p50)} | ${us(denied.p99)} |`,
      `| ratio allowed / baseline | ${(allowed.p50 / bare.p50).toFixed(2)}x | ${(allowed.p99 / bare.p99).toFixed(2)}x |`,
      `| ratio denied / baseline | ${(denied.p50 / bare.p50).toFixed(2)}x | ${(denied.p99 / bare.p99).toFixed(2)}x |`,
      '',
      `throughput: gated ${gatedRate.toFixed(0)} calls/s over ${sockets.length} tenant sockets ` +
        `(read_observed; ${load.calls} calls in ${load.seconds.toFixed(1)} s, ${load.errors} errors; target >= 15000); ` +
        `bare echo server, same load: ${bareRate.toFixed(0)} calls/s`,
      '',
      `RATIO round trip p50, gated allowed / bare: ${(allowed.p50 / bare.p50).toFixed(2)}x (target <= 1.25x)`,
      `RATIO throughput, gated / bare: ${(gatedRate / bareRate).toFixed(2)}x (target >= 0.70x)`,
      '',
      `heap per idle connection: ${(heap / 1024).toFixed(1)} KB (target <= 25 KB)`,
      '',
      grants.table,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await stopEcho();
    await gated.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

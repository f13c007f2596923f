// `npm run bench:hostile`: other tenants' round trips through a real `warren gated` process, idle and while one
// tenant attacks it (issue 8: one client that writes tools/call frames as fast as it can and never reads a reply,
// and 60 clients that each hold half a frame). Prints p50/p99 idle and under attack, their ratio (target <= 2x),
// gated's RSS, and how long SIGTERM takes with the attackers still connected.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SocketTransport } from '../core/socket-transport.js';
import { tenantSocketPath } from '../gated/broker.js';

const WARREN = fileURLToPath(new URL('../cli/warren.js', import.meta.url));
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const ATTACKED = 'acme';
const MEASURED = ['globex', 'initech', 'hooli', 'umbrella'];
const HALF_FRAME_CLIENTS = 60;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function open(path: string): Promise<Socket> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  return socket;
}

async function client(path: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '0' });
  await c.connect(new SocketTransport(await open(path)));
  return c;
}

/** One client per measured tenant, each making CALLS sequential whoami calls; per-call times in µs. */
async function roundTrips(socketOf: (tenant: string) => string): Promise<{ p50: number; p99: number; perSecond: number }> {
  const clients = await Promise.all(MEASURED.map((t) => client(socketOf(t))));
  for (const c of clients) for (let i = 0; i < 100; i++) await c.callTool({ name: 'whoami', arguments: {} }); // warm-up
  const times: number[] = [];
  const started = Date.now();
  await Promise.all(
    clients.map(async (c) => {
      for (let i = 0; i < CALLS; i++) {
        const t0 = process.hrtime.bigint();
        const r = await c.callTool({ name: 'whoami', arguments: {} });
        if (r.isError) throw new Error('whoami failed');
        times.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSecond: times.length / seconds };
}

const frame = (o: unknown) => JSON.stringify(o) + '\n';
const initFrame = frame({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'hostile', version: '0' } },
});

/** Writes tools/call frames as fast as the socket takes them and never reads; resolves once gated stops reading. */
async function neverReading(path: string): Promise<{ socket: Socket; written: number }> {
  const socket = await open(path);
  socket.pause();
  const state = { socket, written: 0 };
  socket.write(initFrame);
  const pump = () => {
    while (!socket.destroyed) {
      state.written++;
      if (!socket.write(frame({ jsonrpc: '2.0', id: state.written, method: 'tools/call', params: { name: 'whoami', arguments: {} } }))) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
  // Blocked for a whole second: gated has stopped reading from it.
  for (let last = -1; last !== state.written; ) {
    last = state.written;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return state;
}

async function halfFrame(path: string): Promise<Socket> {
  const socket = await open(path);
  socket.write(initFrame.slice(0, initFrame.length >> 1));
  return socket;
}

function vmRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-hostile-'));
  const tenants = join(dir, 'tenants');
  const data = join(dir, 'data');
  for (const t of ['root', ATTACKED, ...MEASURED]) mkdirSync(join(tenants, t), { recursive: true });
  const gated = spawn(process.execPath, [WARREN, 'gated', '--tenants', tenants, '--data', data], {
    env: { ...process.env, WARREN_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => gated.once('exit', (code) => resolve(code)));
  const socketOf = (tenant: string) => tenantSocketPath(data, tenant);
  try {
    while (![ATTACKED, ...MEASURED].every((t) => existsSync(socketOf(t)))) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));

    process.stderr.write(`idle: ${MEASURED.length} tenants x ${CALLS} sequential calls (after one discarded run)...\n`);
    await roundTrips(socketOf); // the first run pays for warming gated up; it is not the idle figure
    const idle = await roundTrips(socketOf);
    const idleRss = vmRssMb(gated.pid!);

    process.stderr.write(`attack on ${ATTACKED}: one never-reading client, ${HALF_FRAME_CLIENTS} half-frame clients...\n`);
    const flood = await neverReading(socketOf(ATTACKED));
    const halves = await Promise.all(Array.from({ length: HALF_FRAME_CLIENTS }, () => halfFrame(socketOf(ATTACKED))));
    let peakRss = vmRssMb(gated.pid!);
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, vmRssMb(gated.pid!))), 20);
    process.stderr.write('under attack: the same calls...\n');
    const attacked = await roundTrips(socketOf);
    clearInterval(sampler);

    const signalled = Date.now();
    gated.kill('SIGTERM');
    const code = await exited;
    const stopMs = Date.now() - signalled;
    for (const s of [flood.socket, ...halves]) s.destroy();

    const us = (n: number) => `${n.toFixed(0)} us`;
    const lines = [
      '## gated under hostile clients',
      '',
      '| measure | p50 | p99 | calls/s |',
      '| --- | --- | --- | --- |',
      `| idle | ${us(idle.p50)} | ${us(idle.p99)} | ${idle.perSecond.toFixed(0)} |`,
      `| under attack | ${us(attacked.p50)} | ${us(attacked.p99)} | ${attacked.perSecond.toFixed(0)} |`,
      `| ratio attack / idle | ${(attacked.p50 / idle.p50).toFixed(2)}x | ${(attacked.p99 / idle.p99).toFixed(2)}x (target <= 2x) | |`,
      '',
      `never-reading client: gated read ${flood.written} frames from it, then stopped reading`,
      `gated RSS: idle ${idleRss.toFixed(0)} MB, peak under attack ${peakRss.toFixed(0)} MB (+${(peakRss - idleRss).toFixed(0)} MB)`,
      `SIGTERM with the attackers connected: exit code ${code} after ${stopMs} ms`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    gated.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

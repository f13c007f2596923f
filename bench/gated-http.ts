// `npm run bench:gated-http`: one tool call (whoami) over a run's HTTPS endpoint (Streamable HTTP, TLS, bearer token,
// the runner's pinned fetch) against the same call over its run socket, in one process on one gated. Sequential calls
// on one warm session each (default 500, after 50 warm-up calls); prints p50 and p90 of each and the p50 ratio.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { silentLogger } from '../core/log.js';
import { SocketTransport } from '../core/socket-transport.js';
import { PERSONA_FILE } from '../core/tree/layout.js';
import { Gated } from '../gated/broker.js';
import { pinnedFetch } from '../images/agent/runner/pinned-fetch.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 500);
const WARMUP = 50;

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function timeCalls(client: Client): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await client.callTool({ name: 'whoami', arguments: {} });
  const times: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const start = performance.now();
    await client.callTool({ name: 'whoami', arguments: {} });
    times.push(performance.now() - start);
  }
  return times;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-gated-http-'));
  mkdirSync(join(dir, 'tenants', 'bench'), { recursive: true });
  writeFileSync(join(dir, 'tenants', 'bench', PERSONA_FILE), '---\nharness: script\n---\nBenchmark tenant.\n');
  const gated = await Gated.start({
    tenantsDir: join(dir, 'tenants'),
    dataDir: join(dir, 'data'),
    log: silentLogger(),
    watch: false,
    http: { listen: '127.0.0.1:0' },
  });
  try {
    const sock = await gated.openRunSocket('bench', { id: 'bench-socket', topic: 'main', chat: null, depth: 0 });
    const socket = connect(sock.socketPath);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const socketClient = new Client({ name: 'bench', version: '0' });
    await socketClient.connect(new SocketTransport(socket));

    const ep = await gated.openRunEndpoint('bench', { id: 'bench-http', topic: 'main', chat: null, depth: 0 });
    const pinned = pinnedFetch(ep.caPem);
    const httpClient = new Client({ name: 'bench', version: '0' });
    await httpClient.connect(
      new StreamableHTTPClientTransport(new URL(ep.url), { fetch: pinned.fetch, requestInit: { headers: { authorization: `Bearer ${ep.token}` } } }),
    );

    process.stderr.write(`${CALLS} whoami calls each, socket then HTTPS...\n`);
    const overSocket = await timeCalls(socketClient);
    const overHttps = await timeCalls(httpClient);
    const row = (name: string, t: number[]) => `| ${name} | ${quantile(t, 0.5).toFixed(2)} | ${quantile(t, 0.9).toFixed(2)} |`;
    console.log(`| transport (${CALLS} sequential whoami calls) | p50 ms | p90 ms |`);
    console.log('| --- | --- | --- |');
    console.log(row('run socket (unix, newline JSON-RPC)', overSocket));
    console.log(row('run endpoint (HTTPS, Streamable HTTP, bearer token)', overHttps));
    console.log(`p50 ratio HTTPS / socket: ${(quantile(overHttps, 0.5) / quantile(overSocket, 0.5)).toFixed(2)}`);

    await socketClient.close();
    await httpClient.close();
    pinned.close();
    await sock.close();
    await ep.close();
  } finally {
    await gated.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

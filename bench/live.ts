// `npm run bench:live` (part of issue 13's bench:api): SSE fan-out of one run's live output, in one run.
// 100 SSE subscribers to one run over real HTTP (gateway/http.ts's route, real SQLite in a temp folder); chunks are
// written through the capture (scrub, SQLite insert with bounds, hub) at a steady pace, and the delay from the write to
// each subscriber's receipt of the parsed event is measured. Baseline: the same chunks written to 100 plain TCP
// sockets (one JSON line each) in the same process. Prints p50/p99/max of both and the ratio. Target: p99 <= 20 ms.
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../core/log.js';
import { TenantRegistry } from '../core/tree/registry.js';
import { openWarrenDb } from '../core/warren-db.js';
import { GatedStore } from '../gated/store.js';
import { createHttpApi, listen } from '../gateway/http.js';
import { LiveOutput } from '../gateway/live/capture.js';
import { outputBounds } from '../gateway/live/chunks.js';
import { LiveHub } from '../gateway/live/hub.js';
import { RunOutputStore } from '../gateway/live/output-store.js';
import { GATEWAY_MIGRATIONS } from '../gateway/migrations.js';
import { OutboxView } from '../gateway/outbox-view.js';
import { ApiTokens } from '../gateway/http/api-tokens.js';
import { Metrics } from '../gateway/http/metrics.js';
import { ReadFacade } from '../gateway/read/facade.js';
import { TenantFiles } from '../gateway/read/tenant-files.js';
import { describeTenants } from '../gated/control.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 1000);
const PACE_MS = Number(process.env.BENCH_PACE_MS ?? 5);
const TOKEN = 'bench-token';
const PAD = 'x'.repeat(160); // a log line of typical length

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export interface LiveBenchResult {
  subscribers: number;
  chunks: number;
  sse: LatencySummary;
  sockets: LatencySummary;
}

function summary(ms: number[]): LatencySummary {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  return { p50: at(50), p99: at(99), max: sorted.at(-1)!, samples: sorted.length };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The write time rides in the line itself (`t=<performance.now()>`), the same for both paths. */
const stamp = () => `t=${performance.now().toFixed(3)} ${PAD}`;
const delayOf = (text: string) => performance.now() - Number(/t=([\d.]+)/.exec(text)![1]);

/** Writes CHUNKS lines PACE_MS apart, waiting until every subscriber has them all. */
async function paced(write: (line: string) => void, received: () => number, expected: number): Promise<void> {
  for (let i = 0; i < CHUNKS; i++) {
    write(stamp());
    await sleep(PACE_MS);
  }
  const deadline = Date.now() + 60_000;
  while (received() < expected && Date.now() < deadline) await sleep(20);
  if (received() < expected) throw new Error(`only ${received()} of ${expected} deliveries arrived`);
}

async function sseFanOut(): Promise<LatencySummary> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-live-'));
  const db = openWarrenDb(dir, GATEWAY_MIGRATIONS);
  const store = new RunOutputStore(db, outputBounds({}));
  const output = new LiveOutput(store, new LiveHub(store), () => undefined, silentLogger());
  const outbox = new OutboxView(db);
  const registry = new TenantRegistry(dir, silentLogger());
  // The one HTTP server, with nothing behind it but the live output: the other routes' sources are empty.
  const server: Server = createHttpApi({
    token: TOKEN,
    tokens: new ApiTokens(db),
    store: new GatedStore(db),
    registry,
    outbox,
    read: new ReadFacade({ db, auditDb: db, outbox, tenants: () => describeTenants(registry, () => null, new Map()), explain: () => { throw new Error('no gated'); } }),
    files: new TenantFiles(dir),
    metrics: new Metrics(db, () => 0),
    secrets: null,
    log: silentLogger(),
    onAccepted: () => undefined,
    activeRuns: () => 0,
    liveOutput: output.hub,
  });
  const { port } = await listen(server, '127.0.0.1', 0);
  output.started({ id: 'run_bench', tenant: 'bench', topic: 'main', attempt: 1 });
  const delays: number[] = [];
  let connected = 0;
  const clients = Array.from({ length: SUBSCRIBERS }, () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/v1/tenants/bench/runs/run_bench/output?after=1', headers: { authorization: `Bearer ${TOKEN}` } },
        (res) => {
          connected++;
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (text: string) => {
            buf += text;
            let end: number;
            while ((end = buf.indexOf('\n\n')) >= 0) {
              const event = buf.slice(0, end);
              buf = buf.slice(end + 2);
              const data = /^data: (.*)$/m.exec(event)?.[1];
              const chunk = data && !event.includes('event: ') ? (JSON.parse(data) as { kind: string; text: string }) : null;
              if (chunk?.kind === 'log') delays.push(delayOf(chunk.text));
            }
          });
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    }),
  );
  while (connected < SUBSCRIBERS || output.hub.subscriberCount('run_bench') < SUBSCRIBERS) await sleep(10);
  await paced((line) => output.line('run_bench', line), () => delays.length, CHUNKS * SUBSCRIBERS);
  output.ended('run_bench', 'done');
  await Promise.all(clients);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return summary(delays);
}

async function plainSockets(): Promise<LatencySummary> {
  const peers: Socket[] = [];
  const server = createServer((socket) => peers.push(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const delays: number[] = [];
  const clients = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, () =>
      new Promise<Socket>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => resolve(socket));
        let buf = '';
        socket.setEncoding('utf8');
        socket.on('data', (text: string) => {
          buf += text;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            delays.push(delayOf((JSON.parse(buf.slice(0, nl)) as { text: string }).text));
            buf = buf.slice(nl + 1);
          }
        });
      }),
    ),
  );
  while (peers.length < SUBSCRIBERS) await sleep(10);
  let seq = 0;
  const write = (text: string) => {
    const line = JSON.stringify({ seq: ++seq, time: new Date().toISOString(), kind: 'log', text }) + '\n';
    for (const peer of peers) peer.write(line);
  };
  await paced(write, () => delays.length, CHUNKS * SUBSCRIBERS);
  for (const c of clients) c.destroy();
  await new Promise((r) => server.close(r));
  return summary(delays);
}

export async function runLiveBench(): Promise<LiveBenchResult> {
  const sockets = await plainSockets(); // also warms the process up
  const sse = await sseFanOut();
  return { subscribers: SUBSCRIBERS, chunks: CHUNKS, sse, sockets };
}

function print(r: LiveBenchResult): void {
  const row = (name: string, s: LatencySummary) =>
    `| ${name} | ${s.p50.toFixed(2)} ms | ${s.p99.toFixed(2)} ms | ${s.max.toFixed(2)} ms | ${s.samples} |`;
  console.log(`live output fan-out: ${r.subscribers} subscribers, ${r.chunks} chunks ${PACE_MS} ms apart`);
  console.log('| path | p50 | p99 | max | deliveries |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(row('SSE via the hub (capture + SQLite + HTTP)', r.sse));
  console.log(row('plain TCP sockets (baseline)', r.sockets));
  console.log(`p99 ratio SSE / sockets: ${(r.sse.p99 / r.sockets.p99).toFixed(2)}x; target SSE p99 <= 20 ms: ${r.sse.p99 <= 20 ? 'met' : 'NOT met'}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  print(await runLiveBench());
}

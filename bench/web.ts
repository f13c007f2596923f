// bench:web — the web listener against Node's plain http + fs.createReadStream serving the same files, same run.
// Servers run here; the load runs in a child process (keep-alive, 16 in flight), the two servers alternated 3 s at a
// time, twice each, for a 4 KB and a 4 MB file. Prints requests/s, p99 and the ratio (target >= 0.8x).
import { fork } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../core/log.js';
import { createWebServer } from '../gateway/web/server.js';

const INFLIGHT = 16;
const SLICE_MS = 3000;

async function load(url: string, ms: number): Promise<{ n: number; latencies: number[] }> {
  const agent = new Agent({ keepAlive: true, maxSockets: INFLIGHT });
  const latencies: number[] = [];
  const end = Date.now() + ms;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      request(url, { agent }, (res) => {
        res.on('data', () => undefined);
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode} from ${url}`));
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          resolve();
        });
      })
        .on('error', reject)
        .end();
    });
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (Date.now() < end) await one();
  }));
  agent.destroy();
  return { n: latencies.length, latencies };
}

if (process.argv[2] === '--load') {
  process.on('message', async (m: { url: string; ms: number }) => {
    const r = await load(m.url, m.ms);
    process.send!(r);
  });
} else {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-web-'));
  const web = join(dir, 'acme', 'web');
  mkdirSync(web, { recursive: true });
  writeFileSync(join(web, 'small.html'), Buffer.alloc(4 * 1024, 'a'));
  writeFileSync(join(web, 'large.bin'), Buffer.alloc(4 * 1024 * 1024, 'b'));

  const warren = createWebServer({
    sites: { vhost: () => undefined, publishes: (t) => t === 'acme', tenantDir: (t) => (t === 'acme' ? join(dir, 'acme') : undefined) },
    quotaBytes: 100 * 1024 * 1024,
    log: silentLogger(),
  });
  const plain = createServer((req, res) => {
    const file = join(web, (req.url ?? '/').slice(1));
    const size = statSync(file).size;
    res.writeHead(200, { 'Content-Length': size });
    createReadStream(file).pipe(res);
  });
  const port = async (s: typeof plain) => {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  };
  const warrenPort = await port(warren);
  const plainPort = await port(plain);
  const child = fork(fileURLToPath(import.meta.url), ['--load']);
  const run = (url: string) =>
    new Promise<{ n: number; latencies: number[] }>((resolve) => {
      child.once('message', (m) => resolve(m as { n: number; latencies: number[] }));
      child.send({ url, ms: SLICE_MS });
    });
  const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? NaN;

  for (const [label, name] of [['4 KB', 'small.html'], ['4 MB', 'large.bin']] as const) {
    const totals = { warren: { n: 0, lat: [] as number[] }, plain: { n: 0, lat: [] as number[] } };
    await run(`http://127.0.0.1:${plainPort}/${name}`); // warm-up
    for (let i = 0; i < 2; i++) {
      for (const which of ['warren', 'plain'] as const) {
        const url = which === 'warren' ? `http://127.0.0.1:${warrenPort}/t/acme/${name}` : `http://127.0.0.1:${plainPort}/${name}`;
        const r = await run(url);
        totals[which].n += r.n;
        totals[which].lat.push(...r.latencies);
      }
    }
    const rps = (n: number) => n / ((2 * SLICE_MS) / 1000);
    const w = rps(totals.warren.n);
    const p = rps(totals.plain.n);
    console.log(
      `${label}: warren ${w.toFixed(0)} req/s p99 ${p99(totals.warren.lat).toFixed(2)} ms; ` +
        `plain http ${p.toFixed(0)} req/s p99 ${p99(totals.plain.lat).toFixed(2)} ms`,
    );
    console.log(`RATIO ${label} requests/s warren / plain: ${(w / p).toFixed(2)}x (target >= 0.8x)`);
  }
  child.kill();
  warren.close();
  plain.close();
  rmSync(dir, { recursive: true, force: true });
}

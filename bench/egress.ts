// `npm run bench:egress`: crackbox's DNS server and proxy under load, on loopback, in one run.
//  1. DNS queries/s for a denied name (NXDOMAIN, no upstream) and an allowed name (forwarded to a fake upstream in
//     another process), with the policy cache and the SQLite egress log in the path as in production. Load comes
//     from dnsperf when Debian has it (installed through apt when missing and possible), else from our own UDP load
//     generator in a separate process (bench/egress-load.ts). BENCH_DNS_LOAD=node forces ours.
//  2. Bulk download throughput through a CONNECT tunnel of the proxy vs the same transfer straight from the server,
//     twice: unpaced (client, proxy and server all CPU-bound on this machine: the proxy's relay capacity) and over a
//     link paced to 1 Gbit/s (what a download from the internet looks like). Also the proxy's CPU time per GiB.
// Prints a markdown table. Targets: >= 20k denied queries/s on 2 cores; proxied throughput >= 0.8x direct.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDb } from '../core/db.js';
import { silentLogger } from '../core/log.js';
import { TenantRegistry } from '../core/tree/registry.js';
import { parseAllowlist } from '../core/allowlist.js';
import { ResolvedAddressBook } from '../crackbox/address-book.js';
import { addressChecker } from '../crackbox/address-policy.js';
import { DnsServer } from '../crackbox/dns-server.js';
import { DnsUpstream } from '../crackbox/dns-upstream.js';
import { EGRESS_MIGRATIONS, EgressLog } from '../crackbox/egress-log.js';
import { EgressPolicyCache } from '../crackbox/policy-cache.js';
import { EgressProxy } from '../crackbox/proxy.js';
import { Resolver } from '../crackbox/resolver.js';

const LOAD = fileURLToPath(new URL('./egress-load.js', import.meta.url));
const GATEWAY = '127.0.0.2';
const TARGET = '127.0.0.50';
const DNS_MS = Number(process.env.BENCH_DNS_MS ?? 5000);
const BYTES = Number(process.env.BENCH_BYTES ?? 512 * 1024 * 1024);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** 1 Gbit/s in MiB/s. */
const LINK_MIBPS = Number(process.env.BENCH_LINK_MIBPS ?? 119);
const LINK_BYTES = Number(process.env.BENCH_LINK_BYTES ?? 256 * 1024 * 1024);

/** Runs a load role; resolves with its first JSON line (and the child, for servers that keep running). */
function role(args: string[]): Promise<{ result: Record<string, unknown>; stop: () => void }> {
  const child = spawn(process.execPath, [LOAD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('error', reject);
    child.on('exit', (code) => code && reject(new Error(`${args[0]} exited with ${code}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const result = JSON.parse(out.slice(0, nl)) as Record<string, unknown>;
      if (result.error) reject(new Error(String(result.error)));
      else resolve({ result, stop: () => child.kill() });
    });
  });
}

/** dnsperf if it is installed, or installable from Debian's archive via apt; otherwise null. */
function dnsperf(): string | null {
  if (process.env.BENCH_DNS_LOAD === 'node') return null;
  const which = () => spawnSync('sh', ['-c', 'command -v dnsperf'], { encoding: 'utf8' }).stdout.trim() || null;
  const found = which();
  if (found || process.getuid?.() !== 0) return found;
  const policy = spawnSync('apt-cache', ['policy', 'dnsperf'], { encoding: 'utf8' });
  if (policy.status !== 0 || !/Candidate: (?!\(none\))/.test(policy.stdout)) return null;
  process.stderr.write('installing dnsperf from the Debian archive (apt-get install dnsperf)...\n');
  spawnSync('apt-get', ['install', '-y', '-q', 'dnsperf'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return which();
}

async function dnsQps(tool: string | null, port: number, names: string[], dir: string): Promise<{ qps: number; lost: number }> {
  if (!tool) {
    const { result } = await role(['dns', GATEWAY, String(port), String(DNS_MS), '200', names.join(',')]);
    return { qps: result.qps as number, lost: result.lost as number };
  }
  const file = join(dir, `queries-${names[0]}.txt`);
  writeFileSync(file, names.map((n) => `${n} A`).join('\n') + '\n');
  const seconds = String(Math.max(1, Math.round(DNS_MS / 1000)));
  // Asynchronously: the DNS server under test runs in this very process.
  const r = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(tool, ['-s', GATEWAY, '-p', String(port), '-d', file, '-l', seconds, '-q', '200', '-c', '4', '-T', '1']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve({ stdout, stderr }));
  });
  const qps = Number(/Queries per second:\s+([0-9.]+)/.exec(r.stdout)?.[1]);
  const lost = Number(/Queries lost:\s+([0-9]+)/.exec(r.stdout)?.[1] ?? 0);
  if (!Number.isFinite(qps)) throw new Error(`dnsperf failed: ${r.stderr || r.stdout}`);
  return { qps, lost };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  const stops: (() => void)[] = [];
  try {
    const bulk = await role(['bulk', TARGET, String(BYTES)]);
    stops.push(bulk.stop);
    const bulkPort = bulk.result.port as number;
    const link = await role(['bulk', TARGET, String(LINK_BYTES), String(LINK_MIBPS)]);
    stops.push(link.stop);
    const linkPort = link.result.port as number;
    const up = await role(['upstream']);
    stops.push(up.stop);

    mkdirSync(join(dir, 'tenants/bench'), { recursive: true });
    writeFileSync(join(dir, 'tenants/bench/PERSONA.md'), '---\nname: bench\n---\nbench\n');
    writeFileSync(join(dir, 'tenants/bench/allowlist'), `allowed.test\nbulk.test:${bulkPort},${linkPort}\n`);
    const registry = new TenantRegistry(join(dir, 'tenants'), silentLogger());
    registry.loadAll();
    const policies = new EgressPolicyCache(registry, parseAllowlist('api.anthropic.com:443', 'base').entries);
    const db = openDb(join(dir, 'warren.db'), EGRESS_MIGRATIONS);
    const log = new EgressLog(db, { log: silentLogger() });
    const book = new ResolvedAddressBook();
    const upstream = new DnsUpstream(`127.0.0.1:${up.result.port}`);
    const tenantForLocalAddress = (a: string) => (a === GATEWAY ? 'bench' : null);
    const policyFor = (t: string) => policies.policyFor(t);
    const dns = new DnsServer({ port: 0, upstream, book, tenantForLocalAddress, policyFor, sink: log, log: silentLogger() });
    await dns.listen(GATEWAY);
    const checker = addressChecker({ allowedRanges: [`${TARGET}/32`], tenantNetworks: [] });
    const proxy = new EgressProxy({ port: 0, tenantForLocalAddress, policyFor, resolver: new Resolver(upstream, book), addressProblem: (ip) => checker.problem(ip), sink: log, log: silentLogger() });
    await proxy.listen(GATEWAY);

    const tool = dnsperf();
    const denied = Array.from({ length: 1000 }, (_, i) => `denied-${i}.example.com`);
    const deniedRun = await dnsQps(tool, dns.port, denied, dir);
    const allowedRun = await dnsQps(tool, dns.port, ['allowed.test'], dir);
    log.flush();
    const logged = (db.prepare('SELECT count(*) AS n FROM egress_log').get() as { n: number }).n;

    // Alternating rounds, so a burst of other load on the machine hits both sides alike.
    const transfer = async (port: number, bytes: number) => {
      const direct: number[] = [];
      const proxied: number[] = [];
      let userUs = 0;
      let sysUs = 0;
      for (let i = 0; i < ROUNDS; i++) {
        direct.push((await role(['fetch', 'direct', TARGET, String(port), String(bytes)])).result.mibps as number);
        const before = process.cpuUsage();
        proxied.push((await role(['fetch', 'proxy', GATEWAY, String(proxy.port), `bulk.test:${port}`, String(bytes)])).result.mibps as number);
        const used = process.cpuUsage(before);
        userUs += used.user;
        sysUs += used.system;
      }
      const gib = (ROUNDS * bytes) / 1024 ** 3;
      const perGiB = (us: number) => us / 1000 / gib;
      return { direct, proxied, ratio: median(proxied) / median(direct), cpuMsPerGiB: perGiB(userUs + sysUs), userMsPerGiB: perGiB(userUs), sysMsPerGiB: perGiB(sysUs) };
    };
    const raw = await transfer(bulkPort, BYTES);
    const paced = await transfer(linkPort, LINK_BYTES);

    const f = (n: number) => Math.round(n).toLocaleString('en-US');
    const ok = (b: boolean) => (b ? 'yes' : '**no**');
    const loadName = tool ? 'dnsperf' : 'bench/egress-load.ts';
    process.stdout.write(`
### crackbox egress (${new Date().toISOString().slice(0, 10)}, ${process.platform}, node ${process.version}, load: ${loadName})

| measure | result | target | met |
| --- | --- | --- | --- |
| DNS, denied name (NXDOMAIN, no upstream) | ${f(deniedRun.qps)} queries/s (${deniedRun.lost} lost) | >= 20,000/s | ${ok(deniedRun.qps >= 20_000)} |
| DNS, allowed name (forwarded upstream) | ${f(allowedRun.qps)} queries/s (${allowedRun.lost} lost) | - | - |
| download direct, unpaced (median of ${ROUNDS} x ${BYTES / 1024 / 1024} MiB) | ${f(median(raw.direct))} MiB/s | - | - |
| download through the proxy (CONNECT), unpaced | ${f(median(raw.proxied))} MiB/s | - | - |
| proxied / direct, unpaced (all three CPU-bound here) | ${raw.ratio.toFixed(2)}x | >= 0.8x | ${ok(raw.ratio >= 0.8)} |
| download direct, ${LINK_MIBPS} MiB/s link (${LINK_BYTES / 1024 / 1024} MiB) | ${f(median(paced.direct))} MiB/s | - | - |
| download through the proxy, ${LINK_MIBPS} MiB/s link | ${f(median(paced.proxied))} MiB/s | - | - |
| proxied / direct, ${LINK_MIBPS} MiB/s link | ${paced.ratio.toFixed(2)}x | >= 0.8x | ${ok(paced.ratio >= 0.8)} |
| proxy CPU per GiB relayed, unpaced (user + system) | ${f(raw.cpuMsPerGiB)} ms (${f(raw.userMsPerGiB)} + ${f(raw.sysMsPerGiB)}) | - | - |
| proxy CPU per GiB relayed, paced | ${f(paced.cpuMsPerGiB)} ms (${f(paced.userMsPerGiB)} + ${f(paced.sysMsPerGiB)}) | - | - |

egress log rows written during the DNS runs: ${f(logged)}; unpaced direct runs: ${raw.direct.map(f).join(', ')} MiB/s; unpaced proxied runs: ${raw.proxied.map(f).join(', ')} MiB/s
`);
    await proxy.close();
    await dns.close();
    log.close();
    policies.close();
    db.close();
  } finally {
    for (const s of stops) s();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`bench:egress failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});

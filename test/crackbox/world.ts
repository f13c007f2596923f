// A small crackbox on loopback: two tenants told apart by the local address they reach (127.0.0.2 = acme,
// 127.0.0.3 = beta), a fake upstream resolver on 127.0.0.1, allowlists the test edits between queries, a real
// egress log in a temp SQLite file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllowlist } from '../../core/allowlist.js';
import { silentLogger } from '../../core/log.js';
import { addressChecker } from '../../crackbox/address-policy.js';
import { ResolvedAddressBook } from '../../crackbox/address-book.js';
import { DnsServer, Resolver } from '../../crackbox/dns-server.js';
import { DnsUpstream } from '../../crackbox/dns-upstream.js';
import { EgressLog } from '../../crackbox/egress-log.js';
import { egressPolicyFor, type AllowlistState } from '../../crackbox/egress-policy.js';
import { EgressProxy } from '../../crackbox/proxy.js';
import { FakeUpstream } from './helpers.js';

export const ACME = '127.0.0.2';
export const BETA = '127.0.0.3';

export interface World {
  dir: string;
  upstream: FakeUpstream;
  book: ResolvedAddressBook;
  resolver: Resolver;
  dns: DnsServer;
  proxy: EgressProxy;
  log: EgressLog;
  /** tenant -> allowlist text; read on every decision. */
  allowlists: Map<string, string>;
  base: string;
  stop(): Promise<void>;
}

export async function startWorld(options: { allowedRanges?: string[]; upstreamTimeoutMs?: number } = {}): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-'));
  const upstream = await new FakeUpstream().start();
  const book = new ResolvedAddressBook();
  const dnsUpstream = new DnsUpstream(`${upstream.host}:${upstream.port}`, options.upstreamTimeoutMs ?? 1000);
  const resolver = new Resolver(dnsUpstream, book);
  const log = EgressLog.open(path.join(dir, 'warren.db'), { log: silentLogger() });
  const allowlists = new Map<string, string>();
  const world = { base: 'base.test' } as World;
  const tenants: Record<string, string> = { [ACME]: 'acme', [BETA]: 'beta' };
  const tenantForLocalAddress = (a: string) => tenants[a] ?? null;
  const policyFor = (tenant: string) => {
    const lookup = (t: string): AllowlistState | null => {
      const text = allowlists.get(t);
      if (text === undefined) return null;
      const parsed = parseAllowlist(text, `/tenants/${t}/allowlist`);
      return { entries: parsed.entries, broken: parsed.errors.length ? parsed.errors[0]!.message : null };
    };
    return egressPolicyFor(tenant, lookup, parseAllowlist(world.base, '/etc/warren/base').entries);
  };
  const dns = new DnsServer({
    port: 0,
    upstream: dnsUpstream,
    book,
    tenantForLocalAddress,
    policyFor,
    sink: log,
    log: silentLogger(),
  });
  await dns.listen(ACME);
  await dns.listen(BETA);
  const checker = addressChecker({ allowedRanges: options.allowedRanges ?? [], tenantNetworks: [] });
  const proxy = new EgressProxy({
    port: 0,
    tenantForLocalAddress,
    policyFor,
    resolver,
    addressProblem: (ip) => checker.problem(ip),
    sink: log,
    log: silentLogger(),
    connectTimeoutMs: 2000,
  });
  await proxy.listen(ACME);
  await proxy.listen(BETA);
  Object.assign(world, {
    dir,
    upstream,
    book,
    resolver,
    dns,
    proxy,
    log,
    allowlists,
    async stop() {
      await proxy.close();
      await dns.close();
      await upstream.stop();
      log.close();
      log.db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
  return world;
}

// crackbox as it runs on one Swarm node (the task of the global service): the same DNS server, proxy, address policy
// and egress policies as the local crackbox, listening on this task's own address on every tenant overlay, with the
// policy taken from the snapshot the manager pushed (snapshot.ts) instead of the tenant tree. It needs no firewall:
// the overlays are internal (no route out but through this task) and its network namespace does not forward.
// Egress decisions go to the log as structured lines (`docker service logs`), since the node has no warren.db.
import { networkInterfaces } from 'node:os';
import { silentLogger, type Logger } from '../../core/log.js';
import type { TenantPath } from '../../core/tenant-path.js';
import { ResolvedAddressBook } from '../address-book.js';
import { addressChecker } from '../address-policy.js';
import { DnsServer } from '../dns-server.js';
import { DnsUpstream } from '../dns-upstream.js';
import type { EgressEvent, EgressSink } from '../egress-log.js';
import { egressPolicyFor, type EgressPolicy } from '../egress-policy.js';
import { EgressProxy } from '../proxy.js';
import { Resolver } from '../resolver.js';
import { listenPlan, type LocalAddress } from './listen-plan.js';
import { infrastructureTargetOf, snapshotLookup, type EgressSnapshot } from './snapshot.js';

export interface CrackboxNodeOptions {
  snapshot: EgressSnapshot;
  /** a.b.c.d:port the allowed names are resolved with. */
  upstream: string;
  /** This task's addresses (default: its interfaces). */
  localAddresses?: LocalAddress[];
  log?: Logger;
  upstreamTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** Egress decisions as log lines: the node's egress log. */
export function logSink(log: Logger): EgressSink {
  return { record: (e: EgressEvent) => log.info({ egress: { ...e, time: e.time ?? Date.now() } }, 'egress') };
}

export function ownAddresses(): LocalAddress[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => ({ address: a.address, family: String(a.family) })));
}

export class CrackboxNode {
  readonly dns: DnsServer;
  readonly proxy: EgressProxy;
  /** Local address -> tenant, as the listen plan decided. */
  readonly listeners: ReadonlyMap<string, TenantPath>;
  private readonly policies = new Map<TenantPath, EgressPolicy>();

  private constructor(private readonly options: CrackboxNodeOptions, private readonly log: Logger) {
    const { snapshot } = options;
    const local = options.localAddresses ?? ownAddresses();
    const plan = listenPlan(snapshot.networks, local);
    for (const p of plan.problems) log.error(p);
    if (plan.missing.length > 0) log.error({ tenants: plan.missing }, 'this task has no address on these tenants\u2019 overlays');
    this.listeners = plan.listeners;
    const lookup = snapshotLookup(snapshot);
    // The snapshot never changes while this task runs (a new policy is a new task), so a policy is built once.
    const policyFor = (tenant: TenantPath) => {
      let p = this.policies.get(tenant);
      if (!p) this.policies.set(tenant, (p = egressPolicyFor(tenant, lookup, snapshot.base)));
      return p;
    };
    const checker = addressChecker({
      allowedRanges: snapshot.allowedRanges,
      tenantNetworks: snapshot.networks.map((n) => n.subnet),
      hostAddresses: [...snapshot.nodeAddresses, ...local.map((a) => a.address)],
    });
    // gated's address is reached only as the infrastructure target (CONNECT to its exact address and port): never
    // through a name that resolves to it or at another port, even when it is no node address or an allowed range
    // holds it.
    const infrastructureAddresses = new Set(snapshot.infrastructure.map((t) => t.address));
    const addressProblem = (ip: string) =>
      infrastructureAddresses.has(ip) ? `${ip} is warren's own endpoint, reached only by CONNECT to its exact address and port` : checker.problem(ip);
    const tenantForLocalAddress = (address: string) => this.listeners.get(address) ?? null;
    const upstream = new DnsUpstream(options.upstream, options.upstreamTimeoutMs ?? 2000);
    const book = new ResolvedAddressBook();
    const sink = logSink(log.child({ part: 'egress-log' }));
    this.dns = new DnsServer({ port: snapshot.dnsPort, upstream, book, tenantForLocalAddress, policyFor, sink, log: log.child({ part: 'dns' }) });
    this.proxy = new EgressProxy({
      port: snapshot.proxyPort,
      tenantForLocalAddress,
      policyFor,
      resolver: new Resolver(upstream, book),
      addressProblem,
      infrastructureTarget: (host, port) => infrastructureTargetOf(snapshot.infrastructure, host, port)?.name ?? null,
      sink,
      log: log.child({ part: 'proxy' }),
      connectTimeoutMs: options.connectTimeoutMs,
    });
  }

  /** Listens on every planned address; throws (after closing what was opened) when one cannot be served. */
  static async start(options: CrackboxNodeOptions): Promise<CrackboxNode> {
    const node = new CrackboxNode(options, options.log ?? silentLogger());
    try {
      for (const address of node.listeners.keys()) {
        await node.dns.listen(address);
        await node.proxy.listen(address);
      }
    } catch (error) {
      await node.stop();
      throw error;
    }
    node.log.info(
      { listeners: Object.fromEntries(node.listeners), dnsPort: node.dns.port, proxyPort: node.proxy.port, upstream: options.upstream },
      'crackbox node started',
    );
    return node;
  }

  async stop(): Promise<void> {
    await this.proxy.close();
    await this.dns.close();
  }
}

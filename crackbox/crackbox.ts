// crackbox as a service: the phase-1 DNS server and proxy listening on every tenant network's gateway address, the
// tenant networks themselves, and the host firewall that confines each network to those two listeners. `warren up`
// starts it and hands `egressFor` to the turn loop; `warren crackbox` runs it alone.
//
// egressFor(tenant) is the only way a container gets a network, and it returns only once the network exists, both
// listeners are up on its gateway and the firewall rules for it are installed and verified. Any failure throws, so
// the turn fails instead of starting a container on a network that is not locked down.
import type Docker from 'dockerode';
import { migrate, type Db } from '../core/db.js';
import { logger, type Logger } from '../core/log.js';
import { tenantPathProblem, type TenantPath } from '../core/tenant-path.js';
import type { Egress } from '../core/egress.js';
import { ResolvedAddressBook } from './address-book.js';
import { networkInterfaces } from 'node:os';
import { addressChecker, type AddressChecker } from './address-policy.js';
import { DnsServer } from './dns-server.js';
import { DnsUpstream } from './dns-upstream.js';
import type { EgressConfig } from './egress-config.js';
import { EGRESS_MIGRATIONS, EgressLog } from './egress-log.js';
import { Firewall, type CommandRunner } from './firewall.js';
import { TenantNetworks, type TenantNetwork } from './networks.js';
import { EgressPolicyCache, type RegistryView } from './policy-cache.js';
import { EgressProxy } from './proxy.js';
import { Resolver } from './resolver.js';
import { removeStatusFile, writeStatusFile, type CrackboxStatus } from './status-file.js';

export interface CrackboxOptions {
  /** This warren installation; names its networks, labels and firewall chains. */
  instance: string;
  config: EgressConfig;
  docker: Docker;
  /** The tenant registry (gated's): allowlists and their change events. */
  registry: RegistryView;
  /** DATA/warren.db: the egress log goes here (its migration is applied on start). */
  db: Db;
  /** Where DATA/crackbox.json is kept; omitted: no status file. */
  dataDir?: string;
  log?: Logger;
  /** Runs iptables (tests may wrap it); default: the real commands. */
  run?: CommandRunner;
  /** Timeouts of upstream DNS queries and proxy connects (ms). */
  upstreamTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** The environment that points a container's HTTP clients at crackbox's proxy. PURE. */
export function proxyEnv(gateway: string, port: number): Record<string, string> {
  const url = `http://${gateway}:${port}`;
  const noProxy = 'localhost,127.0.0.1';
  return { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url, NO_PROXY: noProxy, no_proxy: noProxy };
}

export class Crackbox {
  readonly dns: DnsServer;
  readonly proxy: EgressProxy;
  readonly egressLog: EgressLog;
  readonly networks: TenantNetworks;
  readonly firewall: Firewall;
  readonly policies: EgressPolicyCache;
  readonly upstream: DnsUpstream;
  private readonly log: Logger;
  /** Every valid network of this instance, by tenant: all of them are in the firewall rules. */
  private readonly nets = new Map<TenantPath, TenantNetwork>();
  /** Gateway address -> tenant, for the networks crackbox listens on. Decides the tenant of every query. */
  private readonly byGateway = new Map<string, TenantPath>();
  private checker: AddressChecker;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly startedAt = new Date().toISOString();

  private constructor(private readonly options: CrackboxOptions) {
    const { config } = options;
    if (!config.upstream) {
      throw new Error('crackbox has no upstream resolver: set WARREN_EGRESS_UPSTREAM (a.b.c.d:port) or add a nameserver to /etc/resolv.conf');
    }
    this.log = options.log ?? logger('crackbox');
    migrate(options.db, EGRESS_MIGRATIONS);
    this.egressLog = new EgressLog(options.db, {
      log: this.log.child({ part: 'egress-log' }),
      retentionMs: options.config.logRetentionDays * 24 * 3_600_000,
    });
    this.policies = new EgressPolicyCache(options.registry, config.base);
    this.checker = this.compileChecker();
    const book = new ResolvedAddressBook();
    this.upstream = new DnsUpstream(config.upstream, options.upstreamTimeoutMs ?? 2000);
    const tenantForLocalAddress = (address: string) => this.byGateway.get(address) ?? null;
    const policyFor = (tenant: TenantPath) => this.policies.policyFor(tenant);
    this.dns = new DnsServer({
      port: config.dnsPort,
      upstream: this.upstream,
      book,
      tenantForLocalAddress,
      policyFor,
      sink: this.egressLog,
      log: this.log.child({ part: 'dns' }),
    });
    this.proxy = new EgressProxy({
      port: config.proxyPort,
      tenantForLocalAddress,
      policyFor,
      resolver: new Resolver(this.upstream, book),
      addressProblem: (ip) => this.checker.problem(ip),
      sink: this.egressLog,
      log: this.log.child({ part: 'proxy' }),
      connectTimeoutMs: options.connectTimeoutMs,
    });
    this.networks = new TenantNetworks(options.docker, options.instance, config, this.log.child({ part: 'networks' }));
    this.firewall = new Firewall(options.instance, { dns: config.dnsPort, proxy: config.proxyPort }, {
      run: options.run,
      log: this.log.child({ part: 'firewall' }),
    });
  }

  /**
   * Starts crackbox: adopts this instance's existing networks (listeners on their gateways) and (re)installs the
   * firewall rules for all of them. Throws when the rules cannot be installed.
   */
  static async start(options: CrackboxOptions): Promise<Crackbox> {
    const crackbox = new Crackbox(options);
    try {
      await crackbox.adopt();
    } catch (error) {
      await crackbox.stop().catch(() => undefined);
      throw error;
    }
    return crackbox;
  }

  private compileChecker(): AddressChecker {
    return addressChecker({
      allowedRanges: this.options.config.allowedRanges,
      tenantNetworks: [this.options.config.pool, ...[...this.nets.values()].map((n) => n.subnet)],
      hostAddresses: Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address)),
    });
  }

  private async adopt(): Promise<void> {
    const { networks, problems } = await this.networks.list();
    for (const p of problems) this.log.error(`unusable network: ${p}`);
    for (const n of networks) this.nets.set(n.tenant, n);
    this.checker = this.compileChecker();
    // Rules for every network first: a container left running on one is confined before anything listens.
    await this.firewall.apply([...this.nets.values()]);
    for (const n of networks) {
      try {
        await this.listenOn(n);
      } catch (error) {
        this.log.error({ err: error, tenant: n.tenant }, 'could not listen on a tenant gateway (will retry on its next turn)');
      }
    }
    this.writeStatus();
    this.log.info({ networks: networks.length, dnsPort: this.dns.port, proxyPort: this.proxy.port }, 'crackbox started');
  }

  private async listenOn(n: TenantNetwork): Promise<void> {
    await this.dns.listen(n.gateway);
    await this.proxy.listen(n.gateway);
    this.byGateway.set(n.gateway, n.tenant);
  }

  private async forget(n: TenantNetwork): Promise<void> {
    if (this.byGateway.get(n.gateway) === n.tenant) this.byGateway.delete(n.gateway);
    await this.dns.unlisten(n.gateway);
    await this.proxy.unlisten(n.gateway);
  }

  /**
   * The network, DNS server and proxy environment for a container of `tenant`, once all of it is in place and the
   * firewall confines the network. Throws otherwise.
   */
  egressFor(tenant: TenantPath): Promise<Egress> {
    const next = this.queue.then(() => this.setUp(tenant));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async setUp(tenant: TenantPath): Promise<Egress> {
    if (this.stopped) throw new Error('crackbox is stopped');
    const problem = tenantPathProblem(tenant);
    if (problem) throw new Error(`invalid tenant ${JSON.stringify(tenant)}: ${problem}`);
    const net = await this.networks.ensure(tenant);
    const known = this.nets.get(tenant);
    const same = known && known.id === net.id && known.gateway === net.gateway && known.bridge === net.bridge && known.subnet === net.subnet;
    if (!same) {
      if (known) await this.forget(known);
      this.nets.set(tenant, net);
      this.checker = this.compileChecker();
      await this.firewall.apply([...this.nets.values()]);
    } else {
      const problems = await this.firewall.verify([...this.nets.values()]);
      if (problems.length > 0) {
        this.log.warn({ problems }, 'firewall rules were changed behind crackbox; installing them again');
        await this.firewall.apply([...this.nets.values()]);
      }
    }
    if (this.byGateway.get(net.gateway) !== tenant) {
      await this.listenOn(net);
      this.writeStatus();
    }
    return { network: net.name, dns: [net.gateway], env: proxyEnv(net.gateway, this.proxy.port) };
  }

  /** The networks crackbox serves, with their listeners. */
  listeners(): TenantNetwork[] {
    return [...this.nets.values()].filter((n) => this.byGateway.get(n.gateway) === n.tenant);
  }

  status(): CrackboxStatus {
    return {
      pid: process.pid,
      instance: this.options.instance,
      startedAt: this.startedAt,
      dnsPort: this.dns.port,
      proxyPort: this.proxy.port,
      upstream: this.options.config.upstream ?? '',
      listeners: this.listeners().map(({ tenant, name, bridge, subnet, gateway }) => ({ tenant, network: name, bridge, subnet, gateway })),
    };
  }

  private writeStatus(): void {
    if (!this.options.dataDir || this.stopped) return;
    try {
      writeStatusFile(this.options.dataDir, this.status());
    } catch (error) {
      this.log.warn({ err: error }, 'could not write the crackbox status file');
    }
  }

  /**
   * Stops listening, removes the firewall rules and (unless networks are kept) this instance's networks. Call it
   * after the containers are gone: a container still running on a network loses its confinement with the rules.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.queue.catch(() => undefined);
    await this.proxy.close();
    await this.dns.close();
    this.egressLog.close();
    this.policies.close();
    this.byGateway.clear();
    if (this.options.dataDir) removeStatusFile(this.options.dataDir);
    try {
      await this.firewall.remove();
    } catch (error) {
      this.log.error({ err: error }, 'could not remove the firewall rules');
    }
    if (!this.options.config.keepNetworks) {
      for (const n of this.nets.values()) {
        await this.networks.remove(n).catch((error) => this.log.warn({ err: error, network: n.name }, 'could not remove network'));
      }
    }
    this.log.info('crackbox stopped');
  }
}

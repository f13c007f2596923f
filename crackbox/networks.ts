// One Docker network per tenant: a bridge with `Internal: true`, IPv6 off, inter-container traffic off, labelled with
// the instance and the tenant. Created the first time a container of the tenant needs it; found again by its labels
// after a restart. Its subnet comes from the configured pool and avoids every existing Docker network, host address
// and host route. A network that carries our labels but is not locked down the way we create them is refused.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type Docker from 'dockerode';
import { silentLogger, type Logger } from '../core/log.js';
import { tenantId, type TenantPath } from '../core/tenant-path.js';
import { LABELS } from '../core/container.js';
import type { FirewallNetwork } from './firewall-rules.js';
import { pickSubnet, routesFromProcNetRoute, toCidr, formatCidr, intToIpv4 } from './subnets.js';

export interface TenantNetwork extends FirewallNetwork {
  id: string;
  name: string;
}

const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

export function networkName(instance: string, tenant: TenantPath): string {
  return `warren-${instance}-${tenantId(tenant)}`;
}

type NetworkInfo = Pick<Docker.NetworkInspectInfo, 'Id' | 'Name' | 'Driver' | 'Internal' | 'EnableIPv6' | 'IPAM' | 'Options' | 'Labels'>;

/**
 * The tenant network described by a Docker network listing, or why it cannot be used. PURE. Anything short of
 * "internal bridge, no IPv6, one IPv4 subnet, our labels" is a problem: such a network is never handed to a container.
 */
export function tenantNetworkOf(info: NetworkInfo, instance: string): { network: TenantNetwork } | { problem: string } {
  const name = info.Name;
  const tenant = info.Labels?.[LABELS.tenant];
  if (info.Labels?.[LABELS.instance] !== instance || !tenant) return { problem: `network ${name} is not labelled for instance ${instance}` };
  if (info.Driver !== 'bridge') return { problem: `network ${name} uses driver ${info.Driver}, not bridge` };
  if (info.Internal !== true) return { problem: `network ${name} is not internal (it would have a route out)` };
  if (info.EnableIPv6) return { problem: `network ${name} has IPv6 enabled` };
  const configs = info.IPAM?.Config ?? [];
  if (configs.length !== 1 || !configs[0]?.Subnet) return { problem: `network ${name} must have exactly one IPv4 subnet` };
  let subnet: string;
  let gateway: string;
  try {
    const c = toCidr(configs[0].Subnet);
    subnet = formatCidr(c);
    gateway = configs[0].Gateway || intToIpv4(c.base + 1);
  } catch (error) {
    return { problem: `network ${name}: ${(error as Error).message}` };
  }
  const bridge = info.Options?.[BRIDGE_NAME_OPTION] || `br-${info.Id.slice(0, 12)}`;
  return { network: { id: info.Id, name, tenant, bridge, subnet, gateway } };
}

/** Everything a new subnet must not overlap: Docker networks' subnets, host interface addresses, host routes. */
export async function takenRanges(docker: Docker): Promise<string[]> {
  const out: string[] = [];
  for (const n of await docker.listNetworks()) {
    for (const c of n.IPAM?.Config ?? []) if (c.Subnet) out.push(c.Subnet);
  }
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && a.cidr) out.push(a.cidr);
  }
  try {
    out.push(...routesFromProcNetRoute(readFileSync('/proc/net/route', 'utf8')));
  } catch {
    // no /proc/net/route (not Linux): Docker's own overlap check still applies
  }
  return out;
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

export class TenantNetworks {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    private readonly docker: Docker,
    readonly instance: string,
    private readonly pool: { pool: string; prefix: number },
    log?: Logger,
  ) {
    this.log = log ?? silentLogger();
  }

  /** This instance's networks (valid ones) and the problems of any that carry its labels but cannot be used. */
  async list(): Promise<{ networks: TenantNetwork[]; problems: string[] }> {
    const infos = await this.docker.listNetworks({ filters: { label: [`${LABELS.instance}=${this.instance}`] } });
    const networks: TenantNetwork[] = [];
    const problems: string[] = [];
    for (const info of infos) {
      if (info.Labels?.[LABELS.instance] !== this.instance) continue; // the daemon's filter, checked again
      const r = tenantNetworkOf(info, this.instance);
      if ('network' in r) networks.push(r.network);
      else problems.push(r.problem);
    }
    return { networks, problems };
  }

  /** The tenant's network, or null when it has none yet. Throws when its network exists but cannot be used. */
  async find(tenant: TenantPath): Promise<TenantNetwork | null> {
    const infos = (
      await this.docker.listNetworks({ filters: { label: [`${LABELS.instance}=${this.instance}`, `${LABELS.tenant}=${tenant}`] } })
    ).filter((i) => i.Labels?.[LABELS.instance] === this.instance && i.Labels?.[LABELS.tenant] === tenant);
    if (infos.length === 0) return null;
    if (infos.length > 1) throw new Error(`tenant ${tenant} has ${infos.length} networks (${infos.map((i) => i.Name).join(', ')}); remove the extra ones`);
    const r = tenantNetworkOf(infos[0]!, this.instance);
    if ('problem' in r) throw new Error(r.problem);
    return r.network;
  }

  /** The tenant's network, created when missing. Creations are serialised so two never pick the same subnet. */
  ensure(tenant: TenantPath): Promise<TenantNetwork> {
    const next = this.queue.then(async () => (await this.find(tenant)) ?? (await this.create(tenant)));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async create(tenant: TenantPath): Promise<TenantNetwork> {
    const name = networkName(this.instance, tenant);
    const refused: string[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const pick = pickSubnet(this.pool.pool, this.pool.prefix, [...(await takenRanges(this.docker)), ...refused]);
      if (!pick) throw new Error(`no free /${this.pool.prefix} subnet left in the egress pool ${this.pool.pool}`);
      try {
        await this.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          Internal: true,
          EnableIPv6: false,
          CheckDuplicate: true,
          IPAM: { Driver: 'default', Config: [{ Subnet: pick.subnet, Gateway: pick.gateway }] },
          Labels: { [LABELS.instance]: this.instance, [LABELS.tenant]: tenant },
          Options: {
            'com.docker.network.bridge.enable_icc': 'false',
            'com.docker.network.bridge.enable_ip_masquerade': 'false',
          },
        });
      } catch (error) {
        const message = (error as Error).message ?? '';
        // Another process (another instance) took the subnet between our look and our create: try the next one.
        if (/overlap/i.test(message)) {
          refused.push(pick.subnet);
          continue;
        }
        if (statusCode(error) === 409) {
          const found = await this.find(tenant);
          if (found) return found;
          throw new Error(`a network named ${name} exists but is not labelled for tenant ${tenant} of instance ${this.instance}`);
        }
        throw new Error(`could not create the network of tenant ${tenant}: ${message}`);
      }
      const created = await this.find(tenant);
      if (!created) throw new Error(`network ${name} vanished right after it was created`);
      this.log.info({ tenant, network: name, subnet: created.subnet, bridge: created.bridge }, 'tenant network created');
      return created;
    }
    throw new Error(`could not find a free subnet for tenant ${tenant} in ${this.pool.pool} (other networks kept taking them)`);
  }

  /** Removes a network (fails if containers are still attached). */
  async remove(network: TenantNetwork): Promise<void> {
    try {
      await this.docker.getNetwork(network.id).remove();
      this.log.info({ network: network.name }, 'tenant network removed');
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
  }
}

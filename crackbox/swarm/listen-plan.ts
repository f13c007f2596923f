// Which of its own addresses crackbox on a Swarm node listens on, and for which tenant. PURE. The task is attached to
// every tenant overlay; its address on an overlay lies in that overlay's subnet, so the address a query or connection
// arrives on names the tenant — the same rule as the local crackbox's gateway addresses. An address in no tenant
// subnet (the way-out network, loopback) serves nobody; an address in two subnets is refused rather than guessed.
import type { TenantPath } from '../../core/tenant-path.js';
import { overlaps, toCidr } from '../subnets.js';
import type { SnapshotNetwork } from './snapshot.js';

export interface LocalAddress {
  address: string;
  family: 'IPv4' | 'IPv6' | string;
}

export interface ListenPlan {
  /** Local address -> tenant it serves. */
  listeners: Map<string, TenantPath>;
  /** Tenants whose overlay has no address of this task (the task then fails its health: it is restarted). */
  missing: TenantPath[];
  problems: string[];
}

function contains(subnet: string, address: string): boolean {
  return overlaps(toCidr(subnet), toCidr(address));
}

export function listenPlan(networks: readonly SnapshotNetwork[], local: readonly LocalAddress[]): ListenPlan {
  const listeners = new Map<string, TenantPath>();
  const problems: string[] = [];
  const served = new Set<TenantPath>();
  for (const { address, family } of local) {
    if (family !== 'IPv4' && family !== '4') continue;
    const owners = networks.filter((n) => contains(n.subnet, address));
    if (owners.length > 1) {
      problems.push(`address ${address} lies in the overlays of ${owners.map((o) => o.tenant).join(' and ')}; serving neither`);
      continue;
    }
    const owner = owners[0];
    if (!owner) continue;
    if ([...listeners.values()].includes(owner.tenant)) {
      problems.push(`tenant ${owner.tenant} has two addresses on this task (${address}); serving the first only`);
      continue;
    }
    listeners.set(address, owner.tenant);
    served.add(owner.tenant);
  }
  const missing = networks.map((n) => n.tenant).filter((t) => !served.has(t));
  return { listeners, missing, problems };
}

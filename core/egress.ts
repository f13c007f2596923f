// The contract between the gateway and egress (crackbox), in core so that neither imports the other: the gateway
// asks an EgressService for a tenant's network before every container, crackbox provides one, and the cli layer
// (cli/start-warren.ts) plugs the two together. Without a service containers get no network at all.
import type Docker from 'dockerode';
import type { Db } from './db.js';
import type { Logger } from './log.js';
import type { TenantPath } from './tenant-path.js';
import type { TenantRegistry } from './tree/registry.js';

/**
 * What a tenant's container joins: its network, the DNS server on it and the proxy environment.
 *
 * On the Swarm backend (crackbox/swarm/, `scope: 'swarm'`) the same three mean: `network` is the tenant's internal,
 * attachable overlay (`warren-<instance>-egress-<tenant id>`), which the task joins and which has no route out;
 * `dns` is the crackbox global service's virtual IP on that overlay (ContainerSpec.DNSConfig.Nameservers); `env`
 * points HTTP(S)_PROXY at the same virtual IP. The task must join only that network and must not get NET_RAW or
 * NET_ADMIN (the container spec's CapDrop ALL), or it could address crackbox as another tenant.
 */
export interface Egress {
  network: string;
  dns: string[];
  /** HTTP_PROXY, HTTPS_PROXY, NO_PROXY (and lower-case twins) pointing at crackbox. */
  env: Record<string, string>;
  /** Which backend the network is for: 'local' (a bridge on this host; the default) or 'swarm' (an overlay). */
  scope?: EgressScope;
}

export type EgressScope = 'local' | 'swarm';

export interface EgressService {
  /** Resolves only once the tenant's network is locked down; throws otherwise (the turn then fails, closed). */
  egressFor(tenant: TenantPath): Promise<Egress>;
  /** Called after every container is gone. */
  stop(): Promise<void>;
}

/** What `warren up` has ready when egress starts: after gated (the registry), before the turn loop. */
export interface EgressContext {
  instance: string;
  docker: Docker;
  registry: TenantRegistry;
  db: Db;
  dataDir: string;
  log: Logger;
  /** gated's HTTPS endpoint as runs are given it (WARREN_GATED_HTTP), when it serves one: remote tasks reach it. */
  gatedUrl?: string;
}

/** Starts egress for one `warren up`; throws when it cannot (warren up then stops, nothing left running). */
export type EgressStarter = (context: EgressContext) => Promise<EgressService>;

// What the Swarm egress asks of Docker, as data. PURE: the names, the tenant overlays' create options and their
// check, the crackbox global service's spec, whether the service has converged on every node, and the Egress a
// tenant's task gets. swarm-egress.ts does the I/O.
//
// The service uses DNS round robin, not a virtual IP: a VIP needs IPVS in every node's kernel, which not every
// machine has (the test machine does not). So a task reaches its proxy by the service's NAME (Docker's embedded
// resolver in the task answers it with the crackbox tasks' addresses on the task's own overlay, looked up again for
// every connection) and its DNS server by the crackbox tasks' addresses at the time the task is created.
import { AGENT_USER, LABELS } from '../../core/container.js';
import type { Egress } from '../../core/egress.js';
import { tenantId, type TenantPath } from '../../core/tenant-path.js';
import { proxyEnv } from '../crackbox.js';

/** Inside the crackbox task: where the snapshot config is mounted. */
export const SNAPSHOT_PATH = '/etc/crackbox/snapshot.json';
/** The role label on everything the Swarm egress creates (service, configs, the way-out network). */
export const ROLE_LABEL = 'warren.role';
export const ROLE = 'crackbox';

export function overlayName(instance: string, tenant: TenantPath): string {
  return `warren-${instance}-egress-${tenantId(tenant)}`;
}

/** The one non-internal network, crackbox's own way out; tenants' tasks never join it. */
export function outNetworkName(instance: string): string {
  return `warren-${instance}-egress-out`;
}

export function serviceName(instance: string): string {
  return `warren-${instance}-crackbox`;
}

/** Docker config names are limited to 64 characters: the digest keeps them unique per policy. */
export function configName(instance: string, digest: string): string {
  return `warren-${instance}-egress-${digest}`.slice(0, 64);
}

/**
 * A tenant's overlay: internal (no gateway bridge, so no route out), attachable (the runtime's tasks and, in tests,
 * plain containers may join it), IPv4 only, labelled like the local tenant networks.
 */
export function overlayCreateOptions(instance: string, tenant: TenantPath) {
  return {
    Name: overlayName(instance, tenant),
    Driver: 'overlay',
    Internal: true,
    Attachable: true,
    EnableIPv6: false,
    CheckDuplicate: true,
    Labels: { [LABELS.instance]: instance, [LABELS.tenant]: tenant },
  };
}

export function outNetworkCreateOptions(instance: string) {
  return {
    Name: outNetworkName(instance),
    Driver: 'overlay',
    Internal: false,
    Attachable: false,
    EnableIPv6: false,
    CheckDuplicate: true,
    Labels: { [LABELS.instance]: instance, [ROLE_LABEL]: ROLE },
  };
}

export interface Overlay {
  id: string;
  name: string;
  tenant: TenantPath;
  subnet: string;
}

interface OverlayInfo {
  Id: string;
  Name: string;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Config?: Array<{ Subnet?: string }> | null } | null;
  Labels?: Record<string, string> | null;
}

/** The tenant overlay a network listing describes, or why it must not be used. PURE. Anything else is refused. */
export function overlayOf(info: OverlayInfo, instance: string): { overlay: Overlay } | { problem: string } {
  const tenant = info.Labels?.[LABELS.tenant];
  if (info.Labels?.[LABELS.instance] !== instance || !tenant) return { problem: `network ${info.Name} is not labelled for instance ${instance}` };
  if (info.Driver !== 'overlay' || info.Scope !== 'swarm') return { problem: `network ${info.Name} is not a swarm overlay (driver ${info.Driver}, scope ${info.Scope})` };
  if (info.Internal !== true) return { problem: `network ${info.Name} is not internal (it would have a route out)` };
  if (info.EnableIPv6) return { problem: `network ${info.Name} has IPv6 enabled` };
  const configs = info.IPAM?.Config ?? [];
  if (configs.length !== 1 || !configs[0]?.Subnet || configs[0].Subnet.includes(':')) {
    return { problem: `network ${info.Name} must have exactly one IPv4 subnet` };
  }
  return { overlay: { id: info.Id, name: info.Name, tenant, subnet: configs[0].Subnet } };
}

export interface ServiceSpecInput {
  instance: string;
  image: string;
  /** The way-out network's id, then the tenant overlays' ids. */
  outNetwork: string;
  overlays: readonly string[];
  config: { id: string; name: string };
  /** Lowest port crackbox binds (the DNS port): the task binds it without any capability. */
  lowestPort: number;
  /** Extra environment for the node process (WARREN_EGRESS_NODE_UPSTREAM, WARREN_LOG_LEVEL). */
  env: Readonly<Record<string, string>>;
}

/**
 * The crackbox global service: one task per node, attached to every tenant overlay and the way-out network, running
 * as an unprivileged user with every capability dropped, a read-only root filesystem, and forwarding off in its
 * network namespace (so it can never route a tenant's packets past itself). Updates start the new task before
 * stopping the old one, so a node is never without crackbox while the policy changes.
 */
export function crackboxServiceSpec(input: ServiceSpecInput) {
  const env = Object.entries(input.env)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`);
  return {
    Name: serviceName(input.instance),
    Labels: { [LABELS.instance]: input.instance, [ROLE_LABEL]: ROLE },
    Mode: { Global: {} },
    TaskTemplate: {
      ContainerSpec: {
        Image: input.image,
        Env: [`CRACKBOX_SNAPSHOT=${SNAPSHOT_PATH}`, ...env],
        User: AGENT_USER,
        ReadOnly: true,
        CapabilityDrop: ['ALL'],
        Sysctls: {
          'net.ipv4.ip_forward': '0',
          'net.ipv4.ip_unprivileged_port_start': String(input.lowestPort),
        },
        Labels: { [LABELS.instance]: input.instance, [ROLE_LABEL]: ROLE },
        Configs: [
          {
            File: { Name: SNAPSHOT_PATH, UID: '0', GID: '0', Mode: 0o444 },
            ConfigID: input.config.id,
            ConfigName: input.config.name,
          },
        ],
      },
      Networks: [input.outNetwork, ...input.overlays].map((Target) => ({ Target })),
      // Every node, whatever the labels of the tenants' placements.
      Placement: {},
      RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
    },
    UpdateConfig: { Parallelism: 0, Order: 'start-first', FailureAction: 'pause', Monitor: 1_000_000_000 },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

export interface NodeView {
  ID: string;
  Status?: { State?: string; Addr?: string };
  Spec?: { Availability?: string };
}

export interface TaskView {
  NodeID?: string;
  DesiredState?: string;
  Status?: { State?: string; Err?: string };
  Spec?: { ContainerSpec?: { Configs?: Array<{ ConfigName?: string }> } };
  NetworksAttachments?: Array<{ Network?: { ID?: string }; Addresses?: string[] }>;
}

/**
 * Whether every ready, active node runs a crackbox task with this config and every one of these networks, and no
 * longer runs one with another config (the name of the service would still lead there). PURE.
 * `waiting` names the nodes still without one (and why, when a task failed), for the error when it never converges.
 */
export function convergence(
  nodes: readonly NodeView[],
  tasks: readonly TaskView[],
  want: { configName: string; networks: readonly string[] },
): { done: boolean; waiting: string[] } {
  const waiting: string[] = [];
  for (const node of nodes) {
    if (node.Status?.State !== 'ready' || node.Spec?.Availability !== 'active') continue;
    const mine = tasks.filter((t) => t.NodeID === node.ID);
    const current = mine.filter((t) => t.Spec?.ContainerSpec?.Configs?.some((c) => c.ConfigName === want.configName));
    const ok = current.some((t) => {
      const attached = new Set((t.NetworksAttachments ?? []).map((a) => a.Network?.ID));
      return t.DesiredState === 'running' && t.Status?.State === 'running' && want.networks.every((n) => attached.has(n));
    });
    // During a start-first roll-out the old task still runs (and still answers the service's name) for a moment.
    const stale = mine.some((t) => t.Status?.State === 'running' && !current.includes(t));
    if (ok && !stale) continue;
    const failed = current.find((t) => t.Status?.Err);
    waiting.push(failed ? `${node.ID} (${failed.Status?.State}: ${failed.Status?.Err})` : stale && ok ? `${node.ID} (old policy still running)` : node.ID);
  }
  return { done: waiting.length === 0, waiting };
}

/** Resolvers a task uses at most (glibc reads three nameservers; Docker's embedded resolver forwards to three). */
export const MAX_DNS_SERVERS = 3;

/**
 * What a task of the tenant gets: its overlay; as DNS servers the addresses on that overlay of the crackbox tasks
 * that run the current policy (at most three); as proxy the service's name, which Docker's embedded resolver in the
 * task answers from the same overlay. PURE. Throws when no current crackbox task is on the overlay (the task would
 * have nowhere to resolve: the turn fails instead).
 */
export function swarmEgressOf(
  tasks: readonly TaskView[],
  overlay: Overlay,
  want: { configName: string; service: string; proxyPort: number },
): Egress {
  const addresses = tasks
    .filter((t) => t.DesiredState === 'running' && t.Status?.State === 'running')
    .filter((t) => t.Spec?.ContainerSpec?.Configs?.some((c) => c.ConfigName === want.configName))
    .flatMap((t) => (t.NetworksAttachments ?? []).filter((a) => a.Network?.ID === overlay.id).flatMap((a) => a.Addresses ?? []))
    .map((a) => a.split('/')[0]!)
    .filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a))
    .sort();
  if (addresses.length === 0) throw new Error(`no crackbox task serves ${overlay.name} yet`);
  return { network: overlay.name, dns: addresses.slice(0, MAX_DNS_SERVERS), env: proxyEnv(want.service, want.proxyPort), scope: 'swarm' };
}

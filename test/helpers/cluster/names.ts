// Every name and path one test cluster uses, derived from its run id. PURE: the teardown of a live cluster, the sweep
// of a killed run's leftovers and the exit hook all work from these names alone, so nothing the harness makes can be
// missed, and the sweep touches only what carries the prefix.
import { join } from 'node:path';

/** The one prefix of everything the harness creates: netns, host links, cgroups, folders. */
export const PREFIX = 'wrc';
/** Where runs live: one folder per run (data roots, exec roots, sockets, logs), plus `slots/`. */
export const STATE_ROOT = '/var/lib/warren-test-cluster';
/** A run folder is made under this name with its owner line in it, then renamed to its id. */
export const NEW_RUN_PREFIX = '.new-';
/** Cluster networks are 198.19.<SLOT_BASE + slot>.0/24: RFC 2544 benchmarking space, never routed, outside Docker's
 * default pools (172.17-31/16, 192.168/16), Swarm's overlay pool (10.0.0.0/8) and the suite's 10.213.0.0/16. */
export const SUBNET_PREFIX = '198.19';
export const SLOT_BASE = 200;
export const SLOT_COUNT = 50;

const RUN_ID = /^[0-9a-f]{4}$/;
/** wrc<id>-<rest>: a netns (wrc1a2b-manager) or the host's link (wrc1a2b-host); ≤ 15 chars for link names. */
const PREFIXED = new RegExp(`^${PREFIX}([0-9a-f]{4})-`);

export function isRunId(text: string): boolean {
  return RUN_ID.test(text);
}

/** The run id a prefixed name belongs to, or null when the name is not the harness's. */
export function runIdOf(name: string): string | null {
  return PREFIXED.exec(name)?.[1] ?? null;
}

/** Node names in order: the manager first, then worker1..workerN. */
export function nodeNames(workers: number): string[] {
  if (!Number.isInteger(workers) || workers < 0 || workers > 8) {
    throw new Error(`workers must be an integer from 0 to 8, got ${workers}`);
  }
  return ['manager', ...Array.from({ length: workers }, (_, i) => `worker${i + 1}`)];
}

export interface NodePlan {
  name: string;
  /** The node's hostname (its own UTS namespace): what Swarm shows and `node.hostname==` matches. */
  hostname: string;
  netns: string;
  /** The veth end on the hub's bridge; its peer is eth0 inside the node's netns. */
  hubLink: string;
  address: string;
  dir: string;
  dataRoot: string;
  execRoot: string;
  socketPath: string;
  pidFile: string;
  logFile: string;
  configFile: string;
  keyFile: string;
  /** cgroup (relative to each hierarchy's root) the node's dockerd, containerd and shims run in. */
  daemonCgroup: string;
  /** --cgroup-parent of the node's containers. */
  containerCgroup: string;
}

export interface RunPlan {
  id: string;
  slot: number;
  dir: string;
  ownerFile: string;
  subnet: string;
  /** The host's address on the cluster network: where tasks reach services the test runs on the host. */
  hostAddress: string;
  /**
   * A second address of the host on the cluster network, for stand-ins of the outside world: warren's own endpoints
   * listen on hostAddress, and crackbox never lets a tenant reach that address except as gated.
   */
  standInAddress: string;
  /** Holds the bridge all nodes and the host are plugged into (its own netns keeps the host's firewall out of it). */
  hubNetns: string;
  /** The host's end of the veth pair into the hub. */
  hostLink: string;
  /** cgroup every process of the run lives under, in every hierarchy. */
  cgroup: string;
  nodes: NodePlan[];
}

export function runDir(id: string): string {
  return join(STATE_ROOT, id);
}

export function slotLink(slot: number): string {
  return join(STATE_ROOT, 'slots', String(slot));
}

export function runPlan(id: string, slot: number, workers: number): RunPlan {
  if (!isRunId(id)) throw new Error(`run id must be 4 hex digits, got ${JSON.stringify(id)}`);
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) throw new Error(`slot out of range: ${slot}`);
  const net = `${SUBNET_PREFIX}.${SLOT_BASE + slot}`;
  const dir = runDir(id);
  const cgroup = `${PREFIX}${id}`;
  return {
    id,
    slot,
    dir,
    ownerFile: join(dir, 'owner'),
    subnet: `${net}.0/24`,
    hostAddress: `${net}.1`,
    standInAddress: `${net}.254`,
    hubNetns: `${PREFIX}${id}-hub`,
    hostLink: `${PREFIX}${id}-host`,
    cgroup,
    nodes: nodeNames(workers).map((name, i) => {
      const nodeDir = join(dir, name);
      return {
        name,
        hostname: `${PREFIX}${id}-${name}`,
        netns: `${PREFIX}${id}-${name}`,
        hubLink: `n${i}`,
        address: `${net}.${i + 2}`,
        dir: nodeDir,
        dataRoot: join(nodeDir, 'data'),
        // Short on purpose: containerd's socket lives under it and unix socket paths must fit 107 bytes.
        execRoot: join(nodeDir, 'x'),
        socketPath: join(nodeDir, 'docker.sock'),
        pidFile: join(nodeDir, 'dockerd.pid'),
        logFile: join(nodeDir, 'dockerd.log'),
        configFile: join(nodeDir, 'daemon.json'),
        keyFile: join(nodeDir, 'key.json'),
        daemonCgroup: `${cgroup}/${name}-daemon`,
        containerCgroup: `/${cgroup}/${name}`,
      };
    }),
  };
}

/** The owner line of a run: pid and the process's start time (so a reused pid is not mistaken for the owner). */
export function formatOwner(pid: number, startTime: string): string {
  return `${pid} ${startTime}\n`;
}

export function parseOwner(text: string): { pid: number; startTime: string } | null {
  const m = /^(\d+) (\d+)\s*$/.exec(text);
  return m ? { pid: Number(m[1]), startTime: m[2]! } : null;
}

/**
 * Is a run's leftover safe to sweep? Only when nobody owns it: no owner file (close() removes it last, start writes it
 * first), or an owner process that is gone (its pid is dead or now belongs to another process).
 */
export function isStale(owner: { pid: number; startTime: string } | null, liveStartTimeOf: (pid: number) => string | null): boolean {
  if (!owner) return true;
  return liveStartTimeOf(owner.pid) !== owner.startTime;
}

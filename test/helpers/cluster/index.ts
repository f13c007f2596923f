// A real multi-node Docker Swarm on this one machine, for tests: a manager and N workers, each its own dockerd in its
// own network namespace, joined with Swarm's own tokens. The machine's main dockerd is only read from (images).
// See README.md in this folder.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { killDockerd, logTail, spawnDockerd, waitForDockerd } from './daemon.js';
import { processStartTime, waitFor } from './host.js';
import { loadImages } from './images.js';
import { SLOT_COUNT, STATE_ROOT, formatOwner, runDir, runPlan, slotLink, type NodePlan, type RunPlan } from './names.js';
import { createNetwork, setNodeLink } from './network.js';
import { addNodeLabels, initSwarm, joinSwarm, waitForNodeState, workerJoinToken, type NodeState } from './swarm.js';
import { leftoversOf, sweepStaleRuns, teardownRun } from './teardown.js';

export type { NodeState } from './swarm.js';
export { leftoversOf } from './teardown.js';

export interface ClusterNode {
  /** 'manager', 'worker1', 'worker2', ... (the keys of StartClusterOptions.labels). */
  name: string;
  role: 'manager' | 'worker';
  /** The node's hostname, as Swarm reports it (constraint `node.hostname==<hostname>`). */
  hostname: string;
  /** Its Swarm node ID. */
  nodeId: string;
  /** Its dockerd's socket on this machine. */
  socketPath: string;
  docker: Docker;
  /** Its address on the cluster network (its veth). */
  address: string;
  /** kill -9 of its dockerd, as a node whose engine vanished (its containerd goes too; running containers stay). */
  stop(): void;
  /** Starts its dockerd again on the same data root and waits until the manager reports the node Ready. */
  restart(): Promise<void>;
  /** Unplugs / replugs its veth from the cluster bridge: a network partition, the daemon keeps running. */
  disconnect(): void;
  reconnect(): void;
  /** The last lines of its dockerd log. */
  logTail(lines?: number): string;
}

export interface Cluster {
  /** The run id every name of this cluster carries (netns wrc<id>-manager, cgroup wrc<id>, ...). */
  id: string;
  manager: ClusterNode;
  workers: ClusterNode[];
  nodes: ClusterNode[];
  /** The cluster network, and the host's address on it: where tasks reach services a test runs on the host. */
  subnet: string;
  hostAddress: string;
  /** Waits (bounded) until the manager reports the node in that state. */
  waitForNodeState(node: ClusterNode, state: NodeState, timeoutMs?: number): Promise<void>;
  /** Leaves the swarm, kills every process of the cluster, removes its netns, links, cgroups, mounts and folders. */
  close(): Promise<void>;
}

export interface StartClusterOptions {
  workers: number;
  /** Tags or IDs on the main daemon, loaded into every node. */
  images?: string[];
  /** Swarm node labels per node name ('manager', 'worker1', ...). */
  labels?: Record<string, Record<string, string>>;
  /** Swarm's dispatcher heartbeat (default 2 s: a lost node is reported Down after a few seconds). */
  heartbeatS?: number;
  /** Where images come from (default: the machine's main daemon). */
  mainDocker?: Docker;
}

/** Why this machine cannot run a test cluster, or null when it can (root, `ip netns`, nsenter, unshare, dockerd). */
export function clusterUnsupportedReason(): string | null {
  if (process.platform !== 'linux') return 'a test cluster needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'a test cluster needs root (it creates network namespaces and runs dockerd)';
  for (const [cmd, args] of [['ip', ['netns', 'list']], ['nsenter', ['--version']], ['unshare', ['--version']], ['dockerd', ['--version']]] as const) {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
    } catch {
      return `\`${cmd} ${args.join(' ')}\` does not work here`;
    }
  }
  return null;
}

const live = new Set<string>();
let exitHookInstalled = false;

/** A test process that exits without close() still removes its clusters (a killed one is swept by the next start). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const id of live) {
      try {
        teardownRun(id);
      } catch {
        // the next start's sweep gets the rest
      }
    }
  });
}

/** Creates the run's folder with its owner line in one step (rename), so a sweeper never sees it ownerless. */
function claimRun(): string {
  mkdirSync(join(STATE_ROOT, 'slots'), { recursive: true });
  const owner = formatOwner(process.pid, processStartTime(process.pid) ?? '0');
  for (;;) {
    const id = randomBytes(2).toString('hex');
    const tmp = mkdtempSync(join(STATE_ROOT, '.new-'));
    writeFileSync(join(tmp, 'owner'), owner);
    try {
      renameSync(tmp, runDir(id));
      return id;
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // id taken: pick another
    }
  }
}

/** Claims a free /24 (slot) for the run: a symlink slots/<n> -> <id>, created atomically. */
function claimSlot(id: string): number {
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    try {
      symlinkSync(id, slotLink(slot));
      return slot;
    } catch {
      // taken
    }
  }
  throw new Error(`all ${SLOT_COUNT} test cluster subnets are in use (${join(STATE_ROOT, 'slots')})`);
}

interface NodeRuntime {
  plan: NodePlan;
  pid: number;
  docker: Docker;
}

export async function startCluster(opts: StartClusterOptions): Promise<Cluster> {
  const unsupported = clusterUnsupportedReason();
  if (unsupported) throw new Error(`cannot start a test cluster: ${unsupported}`);
  const main = opts.mainDocker ?? new Docker();
  sweepStaleRuns();
  installExitHook();
  const id = claimRun();
  live.add(id);
  try {
    const plan = runPlan(id, claimSlot(id), opts.workers);
    for (const name of Object.keys(opts.labels ?? {})) {
      if (!plan.nodes.some((n) => n.name === name)) throw new Error(`labels given for unknown node ${name}`);
    }
    return await formCluster(plan, opts, main);
  } catch (error) {
    live.delete(id);
    teardownRun(id);
    throw error;
  }
}

async function startNode(plan: NodePlan): Promise<NodeRuntime> {
  const pid = spawnDockerd(plan);
  const docker = new Docker({ socketPath: plan.socketPath });
  await waitForDockerd(plan, pid, docker);
  return { plan, pid, docker };
}

async function formCluster(plan: RunPlan, opts: StartClusterOptions, main: Docker): Promise<Cluster> {
  createNetwork(plan);
  const runtimes = await Promise.all(plan.nodes.map(startNode));
  const [managerRt, ...workerRts] = runtimes as [NodeRuntime, ...NodeRuntime[]];
  const managerAddress = managerRt.plan.address;
  const nodeIds = new Map<string, string>();
  nodeIds.set(managerRt.plan.name, await initSwarm(managerRt.docker, managerAddress, { heartbeatS: opts.heartbeatS ?? 2 }));
  const token = await workerJoinToken(managerRt.docker);
  for (const rt of workerRts) nodeIds.set(rt.plan.name, await joinSwarm(rt.docker, rt.plan.address, managerAddress, token));

  const waitState = async (rt: NodeRuntime, state: NodeState, timeoutMs = 30_000) =>
    waitForNodeState(managerRt.docker, nodeIds.get(rt.plan.name)!, state, timeoutMs, () => `node ${rt.plan.name}`).catch(
      (error: Error) => {
        throw new Error(`${error.message}; last lines of its dockerd log:\n${logTail(rt.plan)}`);
      },
    );
  for (const rt of runtimes) await waitState(rt, 'ready');
  for (const [name, labels] of Object.entries(opts.labels ?? {})) await addNodeLabels(managerRt.docker, nodeIds.get(name)!, labels);
  if (opts.images?.length) await loadImages(main, runtimes.map((rt) => ({ name: rt.plan.name, docker: rt.docker })), opts.images);

  const toNode = (rt: NodeRuntime): ClusterNode => ({
    name: rt.plan.name,
    role: rt === managerRt ? 'manager' : 'worker',
    hostname: rt.plan.hostname,
    nodeId: nodeIds.get(rt.plan.name)!,
    socketPath: rt.plan.socketPath,
    docker: rt.docker,
    address: rt.plan.address,
    stop: () => killDockerd(rt.pid),
    restart: async () => {
      killDockerd(rt.pid);
      rt.pid = spawnDockerd(rt.plan);
      await waitForDockerd(rt.plan, rt.pid, rt.docker);
      // A restarted manager first has to win its own (one-member) raft election again before it answers node calls.
      await waitFor(
        async () => ((await managerRt.docker.info()).Swarm.ControlAvailable ? true : undefined),
        30_000,
        () => `the manager's swarm did not come back after restarting node ${rt.plan.name}:\n${logTail(managerRt.plan)}`,
      );
      await waitState(rt, 'ready');
    },
    disconnect: () => setNodeLink(plan, rt.plan.name, false),
    reconnect: () => setNodeLink(plan, rt.plan.name, true),
    logTail: (lines?: number) => logTail(rt.plan, lines),
  });
  const nodes = runtimes.map(toNode);
  const byName = new Map(runtimes.map((rt) => [rt.plan.name, rt]));
  let closed = false;
  return {
    id: plan.id,
    manager: nodes[0]!,
    workers: nodes.slice(1),
    nodes,
    subnet: plan.subnet,
    hostAddress: plan.hostAddress,
    waitForNodeState: (node, state, timeoutMs = 30_000) => waitState(byName.get(node.name)!, state, timeoutMs),
    close: async () => {
      if (closed) return;
      closed = true;
      // Leaving first is a courtesy to anything watching the swarm; the teardown below does not depend on it.
      await Promise.all(
        [...workerRts, managerRt].map((rt) =>
          Promise.race([rt.docker.swarmLeave({ force: true }).catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]),
        ),
      );
      live.delete(plan.id);
      teardownRun(plan.id);
      const left = leftoversOf(plan.id);
      if (left.length > 0) throw new Error(`test cluster ${plan.id} left things behind:\n${left.join('\n')}`);
    },
  };
}

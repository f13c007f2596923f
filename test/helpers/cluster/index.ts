// A real multi-node Docker Swarm on this one machine, for tests: a manager and N workers, each its own dockerd in its
// own network namespace, joined with Swarm's own tokens. The machine's main dockerd is only read from (images).
// See README.md in this folder.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Docker from 'dockerode';
import { killDockerd, logTail, spawnDockerd, waitForDockerd } from './daemon.js';
import { processStartTime, waitFor } from './host.js';
import { EXTERNAL_CLUSTER_ENV, connectExternalCluster } from './external.js';
import { loadImages } from './images.js';
import { captureSeed, plantSeed, seedHolds, type Seed } from './seed.js';
import { NEW_RUN_PREFIX, SLOT_COUNT, STATE_ROOT, formatOwner, runDir, runPlan, slotLink, type NodePlan, type RunPlan } from './names.js';
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
  /** Its network namespace (`ip netns exec <netns> ...` runs a command as the node's host). */
  netns: string;
  /** kill -9 of its dockerd, as a node whose engine vanished (its containerd goes too; running containers stay);
   * resolves once the process is gone. */
  stop(): Promise<void>;
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
  /** Real machines named by WARREN_TEST_CLUSTER rather than daemons started here: the fault helpers (stop, restart,
   * disconnect) are refused and close() removes nothing. Tests of faults skip when this is true. */
  external: boolean;
  manager: ClusterNode;
  workers: ClusterNode[];
  nodes: ClusterNode[];
  /** The cluster network, and the host's address on it: where tasks reach services a test runs on the host. */
  subnet: string;
  hostAddress: string;
  /** Another address of the host there, for stand-ins of the outside world (never warren's own address). */
  standInAddress: string;
  /** The images startCluster had to copy into nodes (none when this process's image seed already held them). */
  imageLoads: Array<{ node: string; image: string }>;
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

/** Why this machine cannot run a test cluster, or null when it can (root, `ip netns`, nsenter, unshare, dockerd; or
 * WARREN_TEST_CLUSTER naming real machines). */
export function clusterUnsupportedReason(): string | null {
  if (process.env[EXTERNAL_CLUSTER_ENV]) return null;
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
let seed: Seed | undefined;
let exitHookInstalled = false;

function teardownLive(): void {
  for (const id of live) {
    try {
      teardownRun(id);
    } catch {
      // the next start's sweep gets the rest
    }
  }
  live.clear();
  seed = undefined;
}

/**
 * A test process that exits without close() still removes its clusters and its image seed: on 'exit', and on the
 * signals a test runner ends its workers with (vitest sends SIGTERM), after which the signal is raised again so the
 * process ends as it would have. A process killed outright is swept by the next start.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', teardownLive);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      teardownLive();
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Creates the run's folder with its owner line in one step (rename), so a sweeper never sees it ownerless. */
function claimRun(): string {
  const owner = formatOwner(process.pid, processStartTime(process.pid) ?? '0');
  for (let attempt = 1; ; attempt++) {
    const id = randomBytes(2).toString('hex');
    let tmp: string | undefined;
    try {
      // (Made again each time: a run closing meanwhile removes the folder once it sees it empty.)
      mkdirSync(STATE_ROOT, { recursive: true });
      tmp = mkdtempSync(join(STATE_ROOT, NEW_RUN_PREFIX));
      writeFileSync(join(tmp, 'owner'), owner);
      renameSync(tmp, runDir(id));
      return id;
    } catch (error) {
      if (tmp) rmSync(tmp, { recursive: true, force: true }); // id taken (or the folder vanished): again
      if (attempt >= 50) throw new Error(`cannot create a run folder under ${STATE_ROOT}: ${(error as Error).message}`);
    }
  }
}

/** Claims a free /24 (slot) for the run: a symlink slots/<n> -> <id>, created atomically. */
function claimSlot(id: string): number {
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    try {
      mkdirSync(dirname(slotLink(slot)), { recursive: true });
      symlinkSync(id, slotLink(slot));
      return slot;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') slot--; // the folder went away under us: retry
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
  const main = opts.mainDocker ?? new Docker();
  const externalFile = process.env[EXTERNAL_CLUSTER_ENV];
  if (externalFile) return connectExternalCluster(externalFile, opts, main);
  const unsupported = clusterUnsupportedReason();
  if (unsupported) throw new Error(`cannot start a test cluster: ${unsupported}`);
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
  if (seed && opts.images?.length) for (const node of plan.nodes) plantSeed(seed, node.dataRoot);
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
  const images = opts.images ?? [];
  const imageLoads = images.length ? await loadImages(main, runtimes.map((rt) => ({ name: rt.plan.name, docker: rt.docker })), images) : [];
  if (images.length && !seedHolds(seed, images)) {
    // The manager's store holds nothing but images yet: it becomes the seed of this process's later clusters.
    // A seed is only a shortcut: if making it fails, later clusters load their images instead.
    try {
      const dir = seed?.dir ?? runDir(claimRun());
      live.add(basename(dir));
      seed = captureSeed(dir, managerRt.plan.dataRoot, [...(seed?.images ?? []), ...images]);
    } catch {
      seed = undefined;
    }
  }

  const toNode = (rt: NodeRuntime): ClusterNode => ({
    name: rt.plan.name,
    role: rt === managerRt ? 'manager' : 'worker',
    hostname: rt.plan.hostname,
    nodeId: nodeIds.get(rt.plan.name)!,
    socketPath: rt.plan.socketPath,
    docker: rt.docker,
    address: rt.plan.address,
    netns: rt.plan.netns,
    stop: () => killDockerd(rt.plan, rt.pid),
    restart: async () => {
      await killDockerd(rt.plan, rt.pid);
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
    external: false,
    manager: nodes[0]!,
    workers: nodes.slice(1),
    nodes,
    subnet: plan.subnet,
    hostAddress: plan.hostAddress,
    standInAddress: plan.standInAddress,
    imageLoads,
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

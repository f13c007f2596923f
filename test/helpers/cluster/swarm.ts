// Forming the swarm with Swarm's own calls (what `docker swarm init` / `join` / `node update` do), and watching node
// states from the manager.
import type Docker from 'dockerode';
import { waitFor } from './host.js';

const SWARM_PORT = 2377;

export interface SwarmOptions {
  /** Swarm's dispatcher heartbeat. A node is marked Down after a few missed beats, so a short period makes a lost node
   * show up in seconds (Swarm's default, 5 s, takes ~15 s). */
  heartbeatS: number;
}

/** `docker swarm init --advertise-addr <address>` on the manager; returns its node ID. */
export async function initSwarm(manager: Docker, address: string, opts: SwarmOptions): Promise<string> {
  const nodeId: string = await manager.swarmInit({
    ListenAddr: `0.0.0.0:${SWARM_PORT}`,
    AdvertiseAddr: `${address}:${SWARM_PORT}`,
    Spec: { Dispatcher: { HeartbeatPeriod: opts.heartbeatS * 1e9 } },
  });
  return nodeId;
}

export async function workerJoinToken(manager: Docker): Promise<string> {
  const swarm = await manager.swarmInspect();
  return swarm.JoinTokens.Worker as string;
}

/** `docker swarm join --token <token> <manager>:2377` on a worker; returns the worker's node ID. */
export async function joinSwarm(worker: Docker, address: string, managerAddress: string, token: string): Promise<string> {
  await worker.swarmJoin({
    ListenAddr: `0.0.0.0:${SWARM_PORT}`,
    AdvertiseAddr: `${address}:${SWARM_PORT}`,
    RemoteAddrs: [`${managerAddress}:${SWARM_PORT}`],
    JoinToken: token,
  });
  const info = await worker.info();
  return info.Swarm.NodeID as string;
}

/** `docker node update --label-add k=v ...`: sets (adds to) a node's labels. */
export async function addNodeLabels(manager: Docker, nodeId: string, labels: Record<string, string>): Promise<void> {
  const node = manager.getNode(nodeId);
  const current = await node.inspect();
  await node.update({
    _query: { version: current.Version.Index },
    _body: { ...current.Spec, Labels: { ...(current.Spec.Labels ?? {}), ...labels } },
  });
}

export type NodeState = 'ready' | 'down' | 'unknown' | 'disconnected';

/** The node's state as the manager reports it (Swarm's Status.State). */
export async function nodeState(manager: Docker, nodeId: string): Promise<NodeState> {
  const node = await manager.getNode(nodeId).inspect();
  return node.Status.State as NodeState;
}

export async function waitForNodeState(
  manager: Docker,
  nodeId: string,
  state: NodeState,
  timeoutMs: number,
  describe: () => string,
): Promise<void> {
  let last = 'never answered';
  await waitFor(
    async () => {
      last = await nodeState(manager, nodeId);
      return last === state ? true : undefined;
    },
    timeoutMs,
    () => `the manager did not report ${describe()} ${state} within ${timeoutMs / 1000} s (last state: ${last})`,
  );
}

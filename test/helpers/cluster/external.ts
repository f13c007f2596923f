// The same Cluster over real machines: WARREN_TEST_CLUSTER names a JSON file describing a swarm that already exists
// (`docker swarm init` / `join` done by hand), and startCluster connects to it instead of starting daemons here.
// Nothing is created on those machines but what the tests create (and node labels they ask for); nothing is torn
// down; the fault helpers (stop, restart, disconnect) are refused, since there is no safe way to do them remotely.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { loadImages } from './images.js';
import { nodeNames } from './names.js';
import { addNodeLabels, waitForNodeState } from './swarm.js';
import type { Cluster, ClusterNode, StartClusterOptions } from './index.js';

export const EXTERNAL_CLUSTER_ENV = 'WARREN_TEST_CLUSTER';

export interface ExternalNodeConfig {
  /** unix:///path/to/docker.sock or tcp://host:port (with certPath: TLS, docker's ca.pem/cert.pem/key.pem). */
  docker: string;
  certPath?: string;
  /** The node's address on the cluster network (its Swarm advertise address). */
  address: string;
}

export interface ExternalClusterConfig {
  /** This machine's address as tasks on the nodes reach it (where the tests' host services listen). */
  hostAddress: string;
  /** Where the tests' stand-ins of the outside world listen: another address of this machine (default hostAddress). */
  standInAddress?: string;
  /** The manager first, then workers. */
  nodes: ExternalNodeConfig[];
}

/** Parses and checks the file's text; every problem names the file and the field. PURE. */
export function parseExternalConfig(text: string, file: string): ExternalClusterConfig {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not JSON (${(error as Error).message})`);
  }
  const fail = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  const config = data as Partial<ExternalClusterConfig> | null;
  if (!config || typeof config !== 'object') fail('expected an object { hostAddress, nodes: [...] }');
  if (typeof config!.hostAddress !== 'string' || !config!.hostAddress) fail('hostAddress must be a non-empty string');
  if (config!.standInAddress !== undefined && (typeof config!.standInAddress !== 'string' || !config!.standInAddress)) {
    fail('standInAddress must be a non-empty string when given');
  }
  if (!Array.isArray(config!.nodes) || config!.nodes.length === 0) fail('nodes must be a non-empty array, the manager first');
  config!.nodes!.forEach((node, i) => {
    if (!node || typeof node !== 'object') fail(`nodes[${i}] must be an object`);
    if (typeof node.docker !== 'string' || !/^(unix|tcp):\/\/.+/.test(node.docker)) {
      fail(`nodes[${i}].docker must be unix:///path or tcp://host:port`);
    }
    if (typeof node.address !== 'string' || !node.address) fail(`nodes[${i}].address must be a non-empty string`);
    if (node.certPath !== undefined && typeof node.certPath !== 'string') fail(`nodes[${i}].certPath must be a string`);
  });
  return config as ExternalClusterConfig;
}

function dockerFor(node: ExternalNodeConfig): Docker {
  if (node.docker.startsWith('unix://')) return new Docker({ socketPath: node.docker.slice('unix://'.length) });
  const url = new URL(node.docker.replace(/^tcp:/, 'http:'));
  if (!node.certPath) return new Docker({ host: url.hostname, port: Number(url.port || 2375) });
  const read = (name: string) => readFileSync(join(node.certPath!, name));
  return new Docker({
    host: url.hostname,
    port: Number(url.port || 2376),
    protocol: 'https',
    ca: read('ca.pem'),
    cert: read('cert.pem'),
    key: read('key.pem'),
  });
}

function refusal(what: string): Error {
  return new Error(`${what} is not available on an external cluster (${EXTERNAL_CLUSTER_ENV})`);
}

export async function connectExternalCluster(file: string, opts: StartClusterOptions, main: Docker): Promise<Cluster> {
  const config = parseExternalConfig(readFileSync(file, 'utf8'), file);
  const names = nodeNames(opts.workers);
  if (config.nodes.length < names.length) {
    throw new Error(`${file} lists ${config.nodes.length} nodes; the test needs a manager and ${opts.workers} workers`);
  }
  const chosen = config.nodes.slice(0, names.length).map((node, i) => ({ config: node, name: names[i]!, docker: dockerFor(node) }));
  const manager = chosen[0]!.docker;
  const swarm = await manager.swarmInspect().catch((error: Error) => {
    throw new Error(`${file}: nodes[0] (${chosen[0]!.config.docker}) is not a reachable Swarm manager: ${error.message}`);
  });
  const nodes: ClusterNode[] = [];
  for (const [i, node] of chosen.entries()) {
    const info = await node.docker.info();
    if (info.Swarm?.Cluster?.ID !== swarm.ID) throw new Error(`${file}: nodes[${i}] (${node.config.docker}) is not in the manager's swarm`);
    const described = await manager.getNode(info.Swarm.NodeID).inspect();
    nodes.push({
      name: node.name,
      role: i === 0 ? 'manager' : 'worker',
      hostname: described.Description.Hostname,
      nodeId: info.Swarm.NodeID,
      socketPath: node.config.docker,
      docker: node.docker,
      address: node.config.address,
      netns: '',
      stop: () => Promise.reject(refusal('stop()')),
      restart: () => Promise.reject(refusal('restart()')),
      disconnect: () => {
        throw refusal('disconnect()');
      },
      reconnect: () => {
        throw refusal('reconnect()');
      },
      logTail: () => '(an external node: read its dockerd log on that machine)',
    });
  }
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const [name, labels] of Object.entries(opts.labels ?? {})) {
    const node = byName.get(name);
    if (!node) throw new Error(`labels given for unknown node ${name}`);
    await addNodeLabels(manager, node.nodeId, labels);
  }
  const waitState: Cluster['waitForNodeState'] = (node, state, timeoutMs = 30_000) =>
    waitForNodeState(manager, node.nodeId, state, timeoutMs, () => `node ${node.name} (${node.hostname})`);
  for (const node of nodes) await waitState(node, 'ready');
  const imageLoads = opts.images?.length ? await loadImages(main, nodes, opts.images) : [];
  return {
    id: 'external',
    external: true,
    manager: nodes[0]!,
    workers: nodes.slice(1),
    nodes,
    subnet: '',
    hostAddress: config.hostAddress,
    standInAddress: config.standInAddress ?? config.hostAddress,
    imageLoads,
    waitForNodeState: waitState,
    close: async () => undefined,
  };
}

// Where the cluster views' facts come from: the Docker daemon of DOCKER_HOST (or the default socket), asked only
// read-only questions (info, node list, task list; never a swarm change), and the runs table, read only.
import { existsSync } from 'node:fs';
import type Docker from 'dockerode';
import { hasTable, openDataReadOnly } from '../../core/command.js';
import type { Db } from '../../core/db.js';
import { warrenDbPath } from '../../core/warren-db.js';
import type { ClusterSnapshot, PlacedRun, RunCount, SwarmNode, SwarmTask } from './view.js';

/** The daemon the commands talk to, as an operator would name it in an error. */
export function daemonName(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST ? `DOCKER_HOST=${env.DOCKER_HOST}` : 'the default Docker socket (/var/run/docker.sock)';
}

interface SwarmInfo {
  Name?: string;
  ServerVersion?: string;
  NCPU?: number;
  MemTotal?: number;
  Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string; Error?: string };
}

/**
 * What the daemon says about the cluster. A daemon in no swarm is the local backend (not an error); a swarm worker
 * cannot list the cluster, and a daemon that does not answer cannot say anything: both are errors that say so.
 */
export async function clusterSnapshot(docker: Docker, opts: { tasks: boolean } = { tasks: true }): Promise<ClusterSnapshot> {
  let info: SwarmInfo;
  try {
    info = (await docker.info()) as SwarmInfo;
  } catch (error) {
    throw new Error(`cannot reach the Docker daemon at ${daemonName()}: ${(error as Error).message}`);
  }
  const swarm = info.Swarm ?? {};
  const state = swarm.LocalNodeState ?? 'inactive';
  if (state === 'inactive' || state === '') {
    return { backend: 'local', host: info.Name ?? 'localhost', engineVersion: info.ServerVersion ?? null, cpus: info.NCPU ?? null, memoryBytes: info.MemTotal ?? null };
  }
  if (state !== 'active') {
    throw new Error(`the Docker daemon at ${daemonName()} is in swarm state "${state}"${swarm.Error ? ` (${swarm.Error})` : ''}; it cannot list the cluster`);
  }
  if (!swarm.ControlAvailable) {
    throw new Error(
      `the Docker daemon at ${daemonName()} is a swarm worker (node ${swarm.NodeID ?? '?'}): only a manager lists nodes and tasks; ` +
        'run warren on a manager or point DOCKER_HOST at one',
    );
  }
  const [nodes, tasks] = await Promise.all([
    docker.listNodes() as Promise<SwarmNode[]>,
    opts.tasks ? (docker.listTasks() as Promise<SwarmTask[]>) : Promise.resolve([] as SwarmTask[]),
  ]);
  return { backend: 'swarm', nodes, tasks };
}

/** Read-only queries of the runs table for the cluster views. */
export class PlacedRuns {
  private readonly columns: string;
  private readonly hasPlacement: boolean;

  constructor(private readonly db: Db) {
    // A database the gateway has not opened since placement was added has no node/task columns yet, and a read-only
    // reader cannot add them: such runs were never placed.
    const cols = new Set((db.prepare(`PRAGMA table_info(runs)`).all() as { name: string }[]).map((c) => c.name));
    this.hasPlacement = cols.has('node');
    const placement = this.hasPlacement ? 'node, task' : 'NULL AS node, NULL AS task';
    this.columns = `id, tenant, topic, status, attempt, ${placement}, container, started_at, finished_at, error`;
  }

  running(): PlacedRun[] {
    return this.db.prepare(`SELECT ${this.columns} FROM runs WHERE status = 'running' ORDER BY started_at, id`).all() as PlacedRun[];
  }

  counts(): RunCount[] {
    const node = this.hasPlacement ? 'node' : 'NULL';
    return this.db.prepare(`SELECT ${node} AS node, status, COUNT(*) AS n FROM runs GROUP BY 1, 2 ORDER BY 1, 2`).all() as RunCount[];
  }

  /** Newest first; `tenant` includes the tenants below it. */
  list(opts: { tenant?: string; state?: string; node?: readonly string[]; limit: number }): PlacedRun[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: opts.limit };
    if (opts.tenant !== undefined) {
      where.push(`(tenant = @tenant OR substr(tenant, 1, length(@tenant) + 1) = @tenant || '/')`);
      params.tenant = opts.tenant;
    }
    if (opts.state !== undefined) {
      where.push(`status = @state`);
      params.state = opts.state;
    }
    if (opts.node !== undefined) {
      if (!this.hasPlacement) return [];
      where.push(`node IN (SELECT value FROM json_each(@nodes))`);
      params.nodes = JSON.stringify(opts.node);
    }
    const sql = `SELECT ${this.columns} FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY started_at DESC, id DESC LIMIT @limit`;
    return this.db.prepare(sql).all(params) as PlacedRun[];
  }

  get(id: string): PlacedRun | undefined {
    return this.db.prepare(`SELECT ${this.columns} FROM runs WHERE id = ?`).get(id) as PlacedRun | undefined;
  }
}

/**
 * The runs table of DATA/warren.db opened read-only, or null when the gateway has never run there (no database or no
 * runs table): the cluster commands then show the cluster with no turns, and create nothing.
 */
export function openPlacedRuns(dataDir: string): { db: Db; runs: PlacedRuns } | null {
  if (!existsSync(warrenDbPath(dataDir))) return null;
  const db = openDataReadOnly(dataDir);
  if (!hasTable(db, 'runs')) {
    db.close();
    return null;
  }
  return { db, runs: new PlacedRuns(db) };
}

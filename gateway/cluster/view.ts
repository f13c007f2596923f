// What `warren nodes`, `warren runs`, `warren describe` and `warren cluster status` show, decided from what the Docker
// daemon said (Swarm's node and task lists, Engine API 1.41, or "not a swarm") and from the runs table. PURE: the
// commands (gateway/cli/cluster.ts) fetch, this decides, they print.
//
// Swarm reports no heartbeat times. A node's State is the manager's verdict on its heartbeats (ready while they
// arrive within the dispatcher's heartbeat period, default 5 s; down after they stop), and UpdatedAt is when the
// manager last changed the node's record (a state change, a label, availability). The views show both under those
// names rather than inventing a "last heartbeat".
import { LABELS } from '../../core/container.js';

/** The parts of a Swarm node (GET /nodes) these views read. */
export interface SwarmNode {
  ID: string;
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec?: { Name?: string; Labels?: Record<string, string>; Role?: string; Availability?: string };
  Description?: {
    Hostname?: string;
    Platform?: { Architecture?: string; OS?: string };
    Resources?: { NanoCPUs?: number; MemoryBytes?: number };
    Engine?: { EngineVersion?: string };
  };
  Status?: { State?: string; Message?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string };
}

/** The parts of a Swarm task (GET /tasks) these views read. */
export interface SwarmTask {
  ID: string;
  ServiceID?: string;
  NodeID?: string;
  DesiredState?: string;
  Spec?: { ContainerSpec?: { Image?: string; Labels?: Record<string, string> } };
  Status?: {
    Timestamp?: string;
    State?: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
}

/** What the Docker daemon said: a swarm manager's lists, or a daemon that is not in a swarm (the local backend). */
export type ClusterSnapshot =
  | { backend: 'swarm'; nodes: SwarmNode[]; tasks: SwarmTask[] }
  | { backend: 'local'; host: string; engineVersion: string | null; cpus: number | null; memoryBytes: number | null };

/** A row of the runs table, as the cluster views read it. */
export interface PlacedRun {
  id: string;
  tenant: string;
  topic: string;
  status: string;
  attempt: number;
  node: string | null;
  task: string | null;
  container: string | null;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

/** How many runs each (node, status) holds: the runs table grouped. */
export interface RunCount {
  node: string | null;
  status: string;
  n: number;
}

export const RUN_STATES = ['running', 'done', 'failed', 'requeued'] as const;

export const LOCAL_NOTE = 'local Docker backend: this Docker daemon is not in a swarm, so this host runs every turn';

export interface NodeRow {
  id: string;
  name: string;
  /** Swarm's node state (ready, down, disconnected, unknown); "ready" for the local host whose daemon answered. */
  state: string;
  availability: string;
  role: string;
  leader: boolean;
  labels: Record<string, string>;
  address: string | null;
  /** Turns running there now, as the runs table has them. */
  running: string[];
  /** Node.UpdatedAt: the manager's last change to the node's record (no heartbeat time exists in Swarm's API). */
  updatedAt: string | null;
  message: string | null;
}

export interface TaskView {
  id: string;
  node: string | null;
  state: string;
  desired: string | null;
  message: string | null;
  error: string | null;
  exitCode: number | null;
  run: string | null;
  at: string | null;
}

export interface RunView {
  id: string;
  tenant: string;
  topic: string;
  /** The node's name when the cluster knows it, else what the run recorded; null: not placed (local backend). */
  node: string | null;
  state: string;
  attempt: number;
  ageMs: number;
  startedAt: string;
  finishedAt: string | null;
}

export interface ClusterStatus {
  backend: 'swarm' | 'local';
  note: string | null;
  nodes: { total: number; ready: number; notReady: string[] };
  turns: Record<(typeof RUN_STATES)[number], number>;
  /** Per node (every known node, then nodes the runs name that the cluster no longer has, then "not placed"). */
  perNode: ({ node: string; state: string } & Record<(typeof RUN_STATES)[number], number>)[];
}

const nameOf = (n: SwarmNode): string => n.Description?.Hostname ?? n.Spec?.Name ?? n.ID;

/** Whether a run's recorded node is this node (the runtime records its hostname, or its ID when it has no name). */
const isOn = (runNode: string | null, n: SwarmNode): boolean => runNode !== null && (runNode === n.ID || runNode === nameOf(n));

const localId = 'local';

function localRow(s: Extract<ClusterSnapshot, { backend: 'local' }>, running: readonly PlacedRun[]): NodeRow {
  return {
    id: localId, name: s.host, state: 'ready', availability: 'active', role: 'local', leader: false, labels: {},
    address: null, running: running.map((r) => r.id), updatedAt: null, message: LOCAL_NOTE,
  };
}

/** One row per node, with the turns running on it (`running`: the runs table's running rows). */
export function nodeRows(s: ClusterSnapshot, running: readonly PlacedRun[]): NodeRow[] {
  if (s.backend === 'local') return [localRow(s, running)];
  return [...s.nodes]
    .sort((a, b) => nameOf(a).localeCompare(nameOf(b)))
    .map((n) => ({
      id: n.ID,
      name: nameOf(n),
      state: n.Status?.State ?? 'unknown',
      availability: n.Spec?.Availability ?? 'unknown',
      role: n.Spec?.Role ?? 'unknown',
      leader: n.ManagerStatus?.Leader === true,
      labels: { ...(n.Spec?.Labels ?? {}) },
      address: n.Status?.Addr ?? null,
      running: running.filter((r) => isOn(r.node, n)).map((r) => r.id),
      updatedAt: n.UpdatedAt ?? null,
      message: n.Status?.Message || null,
    }));
}

export function taskView(t: SwarmTask): TaskView {
  return {
    id: t.ID,
    node: t.NodeID || null,
    state: t.Status?.State ?? 'unknown',
    desired: t.DesiredState ?? null,
    message: t.Status?.Message || null,
    error: t.Status?.Err || null,
    exitCode: t.Status?.ContainerStatus?.ExitCode ?? null,
    run: t.Spec?.ContainerSpec?.Labels?.[LABELS.run] ?? null,
    at: t.Status?.Timestamp ?? null,
  };
}

/** The tasks this installation started (its instance label); other installations sharing the swarm are not ours. */
export function tasksOf(tasks: readonly SwarmTask[], instance: string): SwarmTask[] {
  return tasks.filter((t) => t.Spec?.ContainerSpec?.Labels?.[LABELS.instance] === instance);
}

/** Node IDs -> names, for showing runs' recorded nodes by name. */
export function nodeNames(s: ClusterSnapshot | null): Map<string, string> {
  return new Map(s?.backend === 'swarm' ? s.nodes.map((n) => [n.ID, nameOf(n)]) : []);
}

export function runView(r: PlacedRun, now: number, names: ReadonlyMap<string, string>): RunView {
  return {
    id: r.id,
    tenant: r.tenant,
    topic: r.topic,
    node: r.node === null ? null : (names.get(r.node) ?? r.node),
    state: r.status,
    attempt: r.attempt,
    ageMs: Math.max(0, now - Date.parse(r.started_at)),
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** Nodes ready / not ready, turns by state, and how the turns spread over the nodes. */
export function clusterStatus(s: ClusterSnapshot, counts: readonly RunCount[]): ClusterStatus {
  const zero = () => ({ running: 0, done: 0, failed: 0, requeued: 0 });
  const turns = zero();
  for (const c of counts) if (c.status in turns) turns[c.status as keyof typeof turns] += c.n;
  const add = (into: ReturnType<typeof zero>, c: RunCount) => {
    if (c.status in into) into[c.status as keyof typeof into] += c.n;
  };
  if (s.backend === 'local') {
    const host = zero();
    for (const c of counts) add(host, c);
    return {
      backend: 'local', note: LOCAL_NOTE, nodes: { total: 1, ready: 1, notReady: [] }, turns,
      perNode: [{ node: s.host, state: 'ready', ...host }],
    };
  }
  const rows = nodeRows(s, []);
  const perNode = new Map(rows.map((n) => [n.id, { node: n.name, state: n.state, ...zero() }]));
  for (const c of counts) {
    const node = c.node === null ? undefined : s.nodes.find((n) => isOn(c.node, n));
    const key = c.node === null ? '(not placed)' : (node?.ID ?? c.node);
    if (!perNode.has(key)) perNode.set(key, { node: key, state: c.node === null ? '-' : 'gone', ...zero() });
    add(perNode.get(key)!, c);
  }
  const ready = rows.filter((n) => n.state === 'ready');
  return {
    backend: 'swarm', note: null,
    nodes: { total: rows.length, ready: ready.length, notReady: rows.filter((n) => n.state !== 'ready').map((n) => n.name) },
    turns,
    perNode: [...perNode.values()],
  };
}

/** The node an operator named (by hostname, ID or an unambiguous ID prefix, as `docker node inspect` takes it). */
export function findNode(s: ClusterSnapshot, name: string): NodeRow | 'ambiguous' | undefined {
  const rows = nodeRows(s, []);
  const exact = rows.filter((n) => n.name === name || n.id === name);
  if (exact.length === 1) return exact[0];
  if (exact.length > 1) return 'ambiguous';
  const prefixed = rows.filter((n) => n.id.startsWith(name));
  return prefixed.length === 1 ? prefixed[0] : prefixed.length > 1 ? 'ambiguous' : undefined;
}

export interface NodeDetail extends NodeRow {
  platform: string | null;
  cpus: number | null;
  memoryBytes: number | null;
  engineVersion: string | null;
  createdAt: string | null;
  /** A manager's reachability as the other managers see it; null for a worker. */
  reachability: string | null;
  /** This installation's tasks on the node, newest first. */
  tasks: TaskView[];
}

/** Everything `warren describe node` shows of one node (`row` from findNode; tasks already cut to this instance). */
export function nodeDetail(s: ClusterSnapshot, row: NodeRow, running: readonly PlacedRun[], tasks: readonly SwarmTask[]): NodeDetail {
  if (s.backend === 'local') {
    return {
      ...localRow(s, running), platform: null, cpus: s.cpus, memoryBytes: s.memoryBytes, engineVersion: s.engineVersion,
      createdAt: null, reachability: null, tasks: [],
    };
  }
  const n = s.nodes.find((x) => x.ID === row.id)!;
  const p = n.Description?.Platform;
  const nano = n.Description?.Resources?.NanoCPUs;
  return {
    ...nodeRows({ ...s, nodes: [n] }, running)[0]!,
    platform: p ? `${p.OS ?? '?'}/${p.Architecture ?? '?'}` : null,
    cpus: nano === undefined ? null : nano / 1e9,
    memoryBytes: n.Description?.Resources?.MemoryBytes ?? null,
    engineVersion: n.Description?.Engine?.EngineVersion ?? null,
    createdAt: n.CreatedAt ?? null,
    reachability: n.ManagerStatus?.Reachability ?? null,
    tasks: tasks
      .filter((t) => t.NodeID === n.ID)
      .map(taskView)
      .sort((a, b) => (b.at ?? '').localeCompare(a.at ?? '')),
  };
}

/** The task that runs (or ran) a run: the one the run recorded, else the one labelled with the run's id. */
export function taskOfRun(r: PlacedRun, tasks: readonly SwarmTask[]): TaskView | null {
  const t = tasks.find((t) => t.ID === r.task) ?? tasks.find((t) => t.Spec?.ContainerSpec?.Labels?.[LABELS.run] === r.id);
  return t ? taskView(t) : null;
}

/** "42s", "3m", "2h5m", "3d4h": how kubectl and docker show an age. */
export function formatAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}

/** `key=value,...`, sorted, or "-". */
export function formatLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? keys.map((k) => `${k}=${labels[k]}`).join(',') : '-';
}

// Swarm's node and task lists as a manager returns them (Engine API 1.41, GET /nodes and GET /tasks; trimmed to the
// fields a `docker node inspect` shows), for a three-node swarm: the leader, a GPU worker, and a worker whose
// heartbeats stopped.
import type { PlacedRun, SwarmNode, SwarmTask } from '../../../gateway/cluster/view.js';

export const INSTANCE = 'w0123456789ab';

export const MANAGER: SwarmNode = {
  ID: 'p2nq1sdo7rwdn3g4a0vj5k6x1',
  CreatedAt: '2026-12-01T20:00:01.123456789Z',
  UpdatedAt: '2026-12-01T20:00:06.987654321Z',
  Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
  Description: {
    Hostname: 'mgr-1',
    Platform: { Architecture: 'x86_64', OS: 'linux' },
    Resources: { NanoCPUs: 4_000_000_000, MemoryBytes: 8_589_934_592 },
    Engine: { EngineVersion: '20.10.24' },
  },
  Status: { State: 'ready', Addr: '10.77.0.1' },
  ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '10.77.0.1:2377' },
};

export const GPU_WORKER: SwarmNode = {
  ID: 'k9xw2j3hb8m4t5r6y7u8i9o0a',
  CreatedAt: '2026-12-01T20:01:00.000000000Z',
  UpdatedAt: '2026-12-01T20:05:00.000000000Z',
  Spec: { Labels: { gpu: 'true', zone: 'b' }, Role: 'worker', Availability: 'active' },
  Description: {
    Hostname: 'gpu-1',
    Platform: { Architecture: 'x86_64', OS: 'linux' },
    Resources: { NanoCPUs: 2_000_000_000, MemoryBytes: 4_294_967_296 },
    Engine: { EngineVersion: '20.10.24' },
  },
  Status: { State: 'ready', Addr: '10.77.0.2' },
};

export const LOST_WORKER: SwarmNode = {
  ID: 'k9zz7q1m2n3b4v5c6x7z8l9k0',
  CreatedAt: '2026-12-01T20:01:30.000000000Z',
  UpdatedAt: '2026-12-01T21:14:12.000000000Z',
  Spec: { Labels: {}, Role: 'worker', Availability: 'drain' },
  Description: { Hostname: 'cpu-2', Platform: { Architecture: 'x86_64', OS: 'linux' }, Engine: { EngineVersion: '20.10.24' } },
  Status: { State: 'down', Message: 'heartbeat failure for node in "unknown" state', Addr: '10.77.0.3' },
};

export const NODES = [LOST_WORKER, GPU_WORKER, MANAGER];

const labels = (run: string, instance = INSTANCE) => ({ 'warren.instance': instance, 'warren.tenant': 'acme', 'warren.run': run });

export function task(id: string, node: SwarmNode, run: string, status: NonNullable<SwarmTask['Status']>, instance = INSTANCE): SwarmTask {
  return {
    ID: id,
    ServiceID: `svc-${run}`,
    NodeID: node.ID,
    DesiredState: status.State === 'running' ? 'running' : 'shutdown',
    Spec: { ContainerSpec: { Image: 'warren-agent:1', Labels: labels(run, instance) } },
    Status: status,
  };
}

export const TASKS: SwarmTask[] = [
  task('t-gpu-running', GPU_WORKER, 'run_a', { Timestamp: '2026-12-01T21:00:02Z', State: 'running', Message: 'started', ContainerStatus: { ContainerID: 'c1', ExitCode: 0 } }),
  task('t-gpu-done', GPU_WORKER, 'run_b', { Timestamp: '2026-12-01T20:30:00Z', State: 'complete', Message: 'finished', ContainerStatus: { ContainerID: 'c2', ExitCode: 0 } }),
  task('t-lost', LOST_WORKER, 'run_c', { Timestamp: '2026-12-01T21:10:00Z', State: 'running', Message: 'started' }),
  task('t-failed', MANAGER, 'run_d', { Timestamp: '2026-12-01T20:40:00Z', State: 'failed', Message: 'started', Err: 'task: non-zero exit (137)', ContainerStatus: { ContainerID: 'c4', ExitCode: 137 } }),
  task('t-other-install', GPU_WORKER, 'run_x', { Timestamp: '2026-12-01T21:00:00Z', State: 'running' }, 'wffffffffffff'),
];

export function run(id: string, over: Partial<PlacedRun> = {}): PlacedRun {
  return {
    id, tenant: 'acme', topic: 'main', status: 'running', attempt: 1, node: null, task: null, container: null,
    started_at: '2026-12-01T21:00:00.000Z', finished_at: null, error: null, ...over,
  };
}

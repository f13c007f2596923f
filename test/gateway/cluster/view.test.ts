// What the cluster commands show, decided from Swarm's lists and the runs table: by table, on a realistic swarm.
import { describe, expect, it } from 'vitest';
import {
  clusterStatus, findNode, formatAge, LOCAL_NOTE, nodeDetail, nodeNames, nodeRows, runView, taskOfRun, tasksOf, type ClusterSnapshot, type NodeRow, type RunCount,
} from '../../../gateway/cluster/view.js';
import { GPU_WORKER, INSTANCE, LOST_WORKER, MANAGER, NODES, run, TASKS } from './fixtures.js';

const swarm: ClusterSnapshot = { backend: 'swarm', nodes: NODES, tasks: TASKS };
function nodeNamed(name: string): NodeRow {
  const row = findNode(swarm, name);
  if (typeof row !== 'object') throw new Error(`${name}: ${row}`);
  return row;
}
const local: ClusterSnapshot = { backend: 'local', host: 'vm', engineVersion: '20.10.24', cpus: 2, memoryBytes: 2 ** 33 };

describe('nodeRows', () => {
  it("shows each node by hostname with the manager's state, availability, role, labels and UpdatedAt, sorted", () => {
    expect(nodeRows(swarm, []).map((n) => [n.name, n.state, n.availability, n.role, n.leader, n.labels, n.updatedAt, n.message])).toEqual([
      ['cpu-2', 'down', 'drain', 'worker', false, {}, '2026-12-01T21:14:12.000000000Z', 'heartbeat failure for node in "unknown" state'],
      ['gpu-1', 'ready', 'active', 'worker', false, { gpu: 'true', zone: 'b' }, '2026-12-01T20:05:00.000000000Z', null],
      ['mgr-1', 'ready', 'active', 'manager', true, {}, '2026-12-01T20:00:06.987654321Z', null],
    ]);
  });

  it.each([
    ['placed by node ID', run('run_a', { node: GPU_WORKER.ID }), 'gpu-1'],
    ['placed by hostname', run('run_a', { node: 'gpu-1' }), 'gpu-1'],
    ['placed on the lost node', run('run_a', { node: LOST_WORKER.ID }), 'cpu-2'],
    ['not placed yet', run('run_a'), null],
    ['placed on a node the swarm no longer has', run('run_a', { node: 'gone-node-id' }), null],
  ])('counts a running turn %s on its node', (_, r, on) => {
    const rows = nodeRows(swarm, [r]);
    expect(rows.filter((n) => n.running.includes('run_a')).map((n) => n.name)).toEqual(on === null ? [] : [on]);
  });

  it('shows the local backend as this host, ready, running every running turn', () => {
    const rows = nodeRows(local, [run('run_a'), run('run_b', { node: 'whatever' })]);
    expect(rows).toEqual([
      expect.objectContaining({ id: 'local', name: 'vm', state: 'ready', role: 'local', running: ['run_a', 'run_b'], message: LOCAL_NOTE }),
    ]);
  });
});

describe('clusterStatus', () => {
  const counts: RunCount[] = [
    { node: null, status: 'done', n: 4 },
    { node: null, status: 'running', n: 1 },
    { node: GPU_WORKER.ID, status: 'done', n: 7 },
    { node: GPU_WORKER.ID, status: 'running', n: 2 },
    { node: LOST_WORKER.ID, status: 'requeued', n: 1 },
    { node: 'mgr-1', status: 'failed', n: 1 },
    { node: 'vanished', status: 'done', n: 3 },
  ];

  it('counts nodes ready and not, turns by state, and the spread per node (gone nodes and unplaced turns too)', () => {
    const s = clusterStatus(swarm, counts);
    expect(s.nodes).toEqual({ total: 3, ready: 2, notReady: ['cpu-2'] });
    expect(s.turns).toEqual({ running: 3, done: 14, failed: 1, requeued: 1 });
    expect(s.perNode.map((n) => [n.node, n.state, n.running, n.done, n.failed, n.requeued])).toEqual([
      ['cpu-2', 'down', 0, 0, 0, 1],
      ['gpu-1', 'ready', 2, 7, 0, 0],
      ['mgr-1', 'ready', 0, 0, 1, 0],
      ['(not placed)', '-', 1, 4, 0, 0],
      ['vanished', 'gone', 0, 3, 0, 0],
    ]);
  });

  it('counts every turn on the one host of the local backend, and says which backend it is', () => {
    const s = clusterStatus(local, counts);
    expect([s.backend, s.note, s.nodes]).toEqual(['local', LOCAL_NOTE, { total: 1, ready: 1, notReady: [] }]);
    expect(s.perNode).toEqual([{ node: 'vm', state: 'ready', running: 3, done: 14, failed: 1, requeued: 1 }]);
  });

  it('has no turns and no nodes not ready on a fresh swarm', () => {
    const s = clusterStatus({ backend: 'swarm', nodes: [MANAGER], tasks: [] }, []);
    expect([s.nodes, s.turns, s.perNode.length]).toEqual([{ total: 1, ready: 1, notReady: [] }, { running: 0, done: 0, failed: 0, requeued: 0 }, 1]);
  });
});

describe('findNode', () => {
  it.each([
    ['gpu-1', GPU_WORKER.ID],
    [MANAGER.ID, MANAGER.ID],
    ['p2nq', MANAGER.ID], // an ID prefix, as `docker node inspect` takes it
    ['k9', 'ambiguous'], // two workers' IDs start so
    ['nope', undefined],
  ])('finds %s', (name, expected) => {
    const found = findNode(swarm, name);
    expect(typeof found === 'object' ? found.id : found).toBe(expected);
  });

  it('finds the local host by its name', () => {
    expect(findNode(local, 'vm')).toEqual(expect.objectContaining({ id: 'local' }));
  });
});

describe('tasks', () => {
  it("keeps only this installation's tasks", () => {
    expect(tasksOf(TASKS, INSTANCE).map((t) => t.ID)).toEqual(['t-gpu-running', 't-gpu-done', 't-lost', 't-failed']);
  });

  it.each([
    ['the task the run recorded', run('run_z', { task: 't-failed' }), 't-failed'],
    ['the task labelled with the run', run('run_b'), 't-gpu-done'],
    ['no task: the manager has forgotten it', run('run_q', { task: 't-pruned' }), null],
  ])("finds a run's task: %s", (_, r, id) => {
    expect(taskOfRun(r, TASKS)?.id ?? null).toBe(id);
  });

  it("reads a task's state, error and exit code", () => {
    expect(taskOfRun(run('run_d'), TASKS)).toEqual({
      id: 't-failed', node: MANAGER.ID, state: 'failed', desired: 'shutdown', message: 'started', error: 'task: non-zero exit (137)',
      exitCode: 137, run: 'run_d', at: '2026-12-01T20:40:00Z',
    });
  });

  it("lists a node's tasks newest first, with its platform and resources", () => {
    const d = nodeDetail(swarm, nodeNamed('gpu-1'), [run('run_a', { node: GPU_WORKER.ID })], tasksOf(TASKS, INSTANCE));
    expect([d.platform, d.cpus, d.memoryBytes, d.engineVersion, d.reachability, d.running]).toEqual(['linux/x86_64', 2, 4_294_967_296, '20.10.24', null, ['run_a']]);
    expect(d.tasks.map((t) => t.id)).toEqual(['t-gpu-running', 't-gpu-done']);
    const m = nodeDetail(swarm, nodeNamed('mgr-1'), [], []);
    expect([m.role, m.leader, m.reachability]).toEqual(['manager', true, 'reachable']);
  });
});

describe('runView', () => {
  const now = Date.parse('2026-12-01T21:03:05.000Z');
  it.each([
    ['by the name the swarm knows', GPU_WORKER.ID, 'gpu-1'],
    ['by the recorded ID when the swarm does not know it', 'gone-node-id', 'gone-node-id'],
    ['as not placed', null, null],
  ])('shows the node %s, and the age from the start', (_, node, shown) => {
    const v = runView(run('run_a', { node }), now, nodeNames(swarm));
    expect([v.node, v.ageMs]).toEqual([shown, 185_000]);
  });
});

describe('formatAge', () => {
  it.each([
    [0, '0s'],
    [59_999, '59s'],
    [60_000, '1m'],
    [3_599_000, '59m'],
    [3_600_000, '1h'],
    [3_900_000, '1h5m'],
    [86_400_000, '1d'],
    [90_000_000, '1d1h'],
  ])('%i ms is %s', (ms, shown) => expect(formatAge(ms)).toBe(shown));
});

// The text the cluster commands print, for a realistic swarm (the local backend's is pinned by cli.test.ts).
import { describe, expect, it } from 'vitest';
import { formatClusterStatus, formatNodeDetail, formatNodes, formatRunDetail, formatRuns } from '../../../gateway/cluster/print.js';
import { clusterStatus, nodeDetail, nodeNames, nodeRows, runView, taskOfRun, type ClusterSnapshot } from '../../../gateway/cluster/view.js';
import { GPU_WORKER, LOST_WORKER, NODES, run, TASKS } from './fixtures.js';

const swarm: ClusterSnapshot = { backend: 'swarm', nodes: NODES, tasks: TASKS };
const now = Date.parse('2026-12-01T21:10:00.000Z');

describe('cluster text', () => {
  it('warren nodes: one line per node, the leader marked, labels as key=value', () => {
    const out = formatNodes(nodeRows(swarm, [run('run_a', { node: GPU_WORKER.ID })]), null);
    const cells = out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
    expect(cells).toEqual([
      ['NAME', 'STATE', 'AVAILABILITY', 'ROLE', 'RUNNING', 'LABELS', 'UPDATED'],
      ['cpu-2', 'down', 'drain', 'worker', '0', '-', '2026-12-01T21:14:12.000000000Z'],
      ['gpu-1', 'ready', 'active', 'worker', '1', 'gpu=true,zone=b', '2026-12-01T20:05:00.000000000Z'],
      ['mgr-1', 'ready', 'active', 'manager (leader)', '0', '-', '2026-12-01T20:00:06.987654321Z'],
    ]);
  });

  it('warren cluster status: the counts, then the spread per node', () => {
    const out = formatClusterStatus(clusterStatus(swarm, [
      { node: GPU_WORKER.ID, status: 'done', n: 5 },
      { node: LOST_WORKER.ID, status: 'requeued', n: 1 },
      { node: null, status: 'running', n: 1 },
    ]));
    const text = out.trimEnd().split('\n');
    expect(text.slice(0, 4)).toEqual(['backend: swarm', 'nodes: 2 ready, 1 not ready (cpu-2)', 'turns: 1 running, 5 completed, 0 failed, 1 re-queued', '']);
    expect(text.slice(4).map((l) => l.split(/\s{2,}/))).toEqual([
      ['NODE', 'STATE', 'RUNNING', 'COMPLETED', 'FAILED', 'REQUEUED'],
      ['cpu-2', 'down', '0', '0', '0', '1'],
      ['gpu-1', 'ready', '0', '5', '0', '0'],
      ['mgr-1', 'ready', '0', '0', '0', '0'],
      ['(not placed)', '-', '1', '0', '0', '0'],
    ]);
  });

  it("warren describe node: the down node's reason, and its tasks with their state", () => {
    const lost = nodeRows(swarm, []).find((n) => n.name === 'cpu-2')!;
    const r = run('run_c', { node: LOST_WORKER.ID, task: 't-lost', status: 'requeued', started_at: '2026-12-01T21:09:00.000Z' });
    const out = formatNodeDetail(nodeDetail(swarm, lost, [], TASKS), [runView(r, now, nodeNames(swarm))]);
    expect(out).toMatch(/^State:\s+down \(heartbeat failure for node in "unknown" state\)$/m);
    expect(out).toMatch(/^Availability:\s+drain$/m);
    expect(out).toContain('Running turns: none');
    expect(out).toMatch(/^run_c\s+acme\s+main\s+cpu-2\s+requeued\s+1m$/m);
    expect(out).toContain('Tasks:\n  t-lost  running (desired running)  run run_c  2026-12-01T21:10:00Z  started\n');
  });

  it('warren describe run: the task that ran it, and its output with the pruned range said', () => {
    const r = run('run_d', { status: 'failed', node: NODES[2]!.ID, task: 't-failed', error: 'agent exited with code 137', finished_at: '2026-12-01T21:01:00.000Z' });
    const out = formatRunDetail(runView(r, now, nodeNames(swarm)), r, taskOfRun(r, TASKS), {
      gap: { from: 1, to: 40 },
      chunks: [{ seq: 41, time: '2026-12-01T21:00:59.000Z', kind: 'log', text: 'out of memory' }],
      lastSeq: 41,
      ended: true,
      endStatus: 'failed',
    });
    expect(out).toMatch(/^Node:\s+mgr-1$/m);
    expect(out).toMatch(/^Task:\s+t-failed  failed \(desired shutdown\) exit 137  run run_d  2026-12-01T20:40:00Z  started; task: non-zero exit \(137\)$/m);
    expect(out).toMatch(/^Started:\s+2026-12-01T21:00:00.000Z \(10m ago\)$/m);
    expect(out).toMatch(/^Error:\s+agent exited with code 137$/m);
    expect(out).toContain('Output (chunks 41-41 of 41, ended: failed):\n  (chunks 1-40 were pruned)\n    41 2026-12-01T21:00:59.000Z log    out of memory\n');
  });

  it('warren runs: says when there are none', () => {
    expect(formatRuns([])).toBe('no runs\n');
  });
});

import { describe, expect, it } from 'vitest';
import { taskVerdict, type TaskView } from '../../../gateway/runtime/swarm-task.js';

const task = (State: string, extra: Partial<NonNullable<TaskView['Status']>> = {}): TaskView => ({
  ID: 't1',
  NodeID: 'n1',
  Status: { State, ...extra },
});

describe('taskVerdict: what a run’s task state means', () => {
  it.each<[string, TaskView | undefined, string | undefined, ReturnType<typeof taskVerdict>]>([
    ['no task yet', undefined, undefined, { kind: 'waiting', why: null }],
    ['pending, and why', { Status: { State: 'pending', Err: 'no suitable node' } }, undefined, { kind: 'waiting', why: 'no suitable node' }],
    ['assigned to a node', task('assigned'), 'ready', { kind: 'placed', node: 'n1', task: 't1' }],
    ['starting', task('starting'), 'ready', { kind: 'placed', node: 'n1', task: 't1' }],
    ['running', task('running'), 'ready', { kind: 'running', node: 'n1', task: 't1' }],
    ['complete', task('complete', { ContainerStatus: { ExitCode: 0 } }), 'ready', { kind: 'exited', exitCode: 0, oomKilled: false, stopped: false }],
    ['failed with its code', task('failed', { ContainerStatus: { ExitCode: 3 } }), 'ready', { kind: 'exited', exitCode: 3, oomKilled: false, stopped: false }],
    ['failed by OOM, as Swarm words it', task('failed', { Err: 'OOM killed', ContainerStatus: { ExitCode: 137 } }), 'ready', { kind: 'exited', exitCode: 137, oomKilled: true, stopped: false }],
    ['exit 137 alone is not OOM', task('failed', { ContainerStatus: { ExitCode: 137 } }), 'ready', { kind: 'exited', exitCode: 137, oomKilled: false, stopped: false }],
    ['shut down (stopped)', task('shutdown'), 'ready', { kind: 'exited', exitCode: null, oomKilled: false, stopped: true }],
    ['rejected by the node', task('rejected', { Err: 'No such image: warren/agent:0.1.0' }), 'ready', { kind: 'rejected', why: 'No such image: warren/agent:0.1.0' }],
    ['orphaned', task('orphaned'), 'down', { kind: 'lost', why: 'the task was orphaned on node n1' }],
    ['running on a node that is down', task('running'), 'down', { kind: 'lost', why: 'node n1 is down' }],
    ['placed on a node that disconnected', task('preparing'), 'disconnected', { kind: 'lost', why: 'node n1 is disconnected' }],
    ['node state unknown for a moment: still running', task('running'), 'unknown', { kind: 'running', node: 'n1', task: 't1' }],
    ['a finished task on a node since gone keeps its ending', task('complete', { ContainerStatus: { ExitCode: 0 } }), 'down', { kind: 'exited', exitCode: 0, oomKilled: false, stopped: false }],
  ])('%s', (_name, t, node, verdict) => {
    expect(taskVerdict(t, node)).toEqual(verdict);
  });
});

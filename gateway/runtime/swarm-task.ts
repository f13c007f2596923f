// What the state of a run's one Swarm task means for the run. Pure: swarm.ts polls the task and its node and acts on
// the answer; the table tests pin every state down.
//
// Swarm task states, in order: new allocated pending assigned accepted preparing ready starting running, then one
// of complete failed shutdown rejected orphaned remove. A task on a node that went down stays "running" in the
// manager's view until Swarm gives up on it (orphaned), so the node's own state is read as well.

export interface TaskView {
  ID?: string;
  NodeID?: string;
  Status?: {
    State?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
}

/** The node's state as the manager sees it: ready, down, unknown or disconnected. Undefined: not looked up. */
export type NodeState = string | undefined;

export type TaskVerdict =
  /** Not on a node yet (or no task yet). `why` is Swarm's reason it waits, e.g. no node matches the placement. */
  | { kind: 'waiting'; why: string | null }
  /** On a node, not running yet. */
  | { kind: 'placed'; node: string; task: string }
  | { kind: 'running'; node: string; task: string }
  /** The container ran and ended. */
  | { kind: 'exited'; exitCode: number | null; oomKilled: boolean; stopped: boolean }
  /** It never ran: the node refused it (image missing there, a mount source missing there...). */
  | { kind: 'rejected'; why: string }
  /** Its node is gone: the outcome is unknown, the run may have to run again elsewhere. */
  | { kind: 'lost'; why: string };

const WAITING = new Set(['new', 'allocated', 'pending']);
const PLACED = new Set(['assigned', 'accepted', 'preparing', 'ready', 'starting']);
/** A node in these states is not running anything for us any more. */
const NODE_GONE = new Set(['down', 'disconnected']);

export function taskVerdict(task: TaskView | undefined, nodeState: NodeState): TaskVerdict {
  const state = task?.Status?.State;
  if (!task || !state || WAITING.has(state)) return { kind: 'waiting', why: task?.Status?.Err || null };
  const node = task.NodeID ?? '';
  const id = task.ID ?? '';
  const exitCode = task.Status?.ContainerStatus?.ExitCode;
  const code = typeof exitCode === 'number' ? exitCode : null;
  switch (state) {
    case 'complete':
      return { kind: 'exited', exitCode: code ?? 0, oomKilled: false, stopped: false };
    case 'failed':
      // Swarm reports no OOM flag; its error text is all there is.
      return { kind: 'exited', exitCode: code, oomKilled: /\bOOM|out of memory/i.test(task.Status?.Err ?? ''), stopped: false };
    case 'shutdown':
    case 'remove':
      return { kind: 'exited', exitCode: code, oomKilled: false, stopped: true };
    case 'rejected':
      return { kind: 'rejected', why: task.Status?.Err || 'the node rejected the task' };
    case 'orphaned':
      return { kind: 'lost', why: `the task was orphaned on node ${node}` };
  }
  if (nodeState !== undefined && NODE_GONE.has(nodeState)) return { kind: 'lost', why: `node ${node} is ${nodeState}` };
  if (PLACED.has(state)) return { kind: 'placed', node, task: id };
  if (state === 'running') return { kind: 'running', node, task: id };
  return { kind: 'waiting', why: `unknown task state ${state}` };
}

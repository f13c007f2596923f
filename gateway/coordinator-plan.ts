// Pure decisions for a coordinator (an `always_on: true` tenant): one long-lived container that takes its turns one
// after another on its run socket (`warren/next_turn`). No I/O here; gateway/coordinator.ts carries these out.
//
// The single rule that keeps messages from being lost: whether to stop is decided in the same synchronous step that
// reads the queue. A message written before that step is handed over; one written after it finds the coordinator
// stopping and is picked up by the coordinator started once the old one has exited.
import { recoveryFor } from './turn-plan.js';

export type CoordinatorState =
  /** No container for the tenant. */
  | 'absent'
  /** Its container is starting; its first turn was claimed with the start. */
  | 'starting'
  /** Inside a turn: new messages wait in the queue for the next boundary. */
  | 'busy'
  /** At a turn boundary, its `warren/next_turn` request held open until a message comes or the idle timer fires. */
  | 'waiting'
  /** Told to stop (idle); its container is on its way out. */
  | 'stopping';

export type CoordinatorEvent =
  /** A message for the tenant was queued (`pending`: the queue has something a turn can take). */
  | { type: 'message'; pending: boolean }
  /** The runner submitted its turn and asks for the next one. */
  | { type: 'boundary'; pending: boolean }
  /** The idle timer fired; `pending` is read from the queue at this very moment. */
  | { type: 'idle'; pending: boolean }
  /** The container exited; `unfinished` is the turn it was inside, if any (its attempt number). */
  | { type: 'exited'; unfinished: { attempt: number } | null; pending: boolean }
  /** At gateway start-up: a coordinator turn of a previous life was found still running. */
  | { type: 'crash-found'; attempt: number };

export type CoordinatorAction =
  /** Start a container (with the first pending turn). */
  | 'start'
  /** Claim the next pending turn and hand it to the waiting runner. */
  | 'hand-turn'
  /** Leave messages queued (the next boundary takes them) or, at a boundary with nothing queued, arm the idle timer. */
  | 'wait'
  /** Answer the waiting runner with "stop": its container exits. */
  | 'stop'
  /** Nothing to do. */
  | 'none';

export interface CoordinatorDecision {
  action: CoordinatorAction;
  /** What happens to a turn a dead container left unfinished: queued again once, failed the second time. */
  unfinished?: 'requeue' | 'fail';
  /** The state after the action. */
  next: CoordinatorState;
}

export function decideCoordinator(state: CoordinatorState, event: CoordinatorEvent): CoordinatorDecision {
  switch (event.type) {
    case 'message':
      if (state === 'absent') return event.pending ? { action: 'start', next: 'starting' } : { action: 'none', next: 'absent' };
      // Waiting at a boundary: the message is the next turn. Anywhere else it waits for the next boundary, or (while
      // stopping) for the coordinator that starts once this one has exited.
      if (state === 'waiting') return event.pending ? { action: 'hand-turn', next: 'busy' } : { action: 'wait', next: 'waiting' };
      return { action: 'wait', next: state };
    case 'boundary':
      if (state === 'stopping' || state === 'absent') return { action: 'stop', next: state };
      return event.pending ? { action: 'hand-turn', next: 'busy' } : { action: 'wait', next: 'waiting' };
    case 'idle':
      // Only a coordinator waiting at a boundary is idle; and a message queued as the timer fires wins over the stop.
      if (state !== 'waiting') return { action: 'none', next: state };
      return event.pending ? { action: 'hand-turn', next: 'busy' } : { action: 'stop', next: 'stopping' };
    case 'exited': {
      const unfinished = event.unfinished ? recoveryFor(event.unfinished) : undefined;
      // A re-queued turn is pending by definition; a new coordinator takes it (and anything that came meanwhile).
      const pending = event.pending || unfinished === 'requeue';
      return { action: pending ? 'start' : 'none', next: pending ? 'starting' : 'absent', ...(unfinished ? { unfinished } : {}) };
    }
    case 'crash-found':
      return { action: 'none', next: 'absent', unfinished: recoveryFor(event) };
  }
}

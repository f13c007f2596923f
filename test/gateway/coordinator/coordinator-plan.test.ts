// A coordinator's pure decisions, by table: every state against every event.
import { describe, expect, it } from 'vitest';
import { decideCoordinator, type CoordinatorDecision, type CoordinatorEvent, type CoordinatorState } from '../../../gateway/coordinator-plan.js';

describe('decideCoordinator', () => {
  const cases: [string, CoordinatorState, CoordinatorEvent, CoordinatorDecision][] = [
    ['the first message starts a coordinator', 'absent', { type: 'message', pending: true }, { action: 'start', next: 'starting' }],
    ['nothing queued: nothing starts', 'absent', { type: 'message', pending: false }, { action: 'none', next: 'absent' }],
    ['a message mid-turn waits for the boundary', 'busy', { type: 'message', pending: true }, { action: 'wait', next: 'busy' }],
    ['a message while starting waits for the first boundary', 'starting', { type: 'message', pending: true }, { action: 'wait', next: 'starting' }],
    ['a message at a boundary is handed over at once', 'waiting', { type: 'message', pending: true }, { action: 'hand-turn', next: 'busy' }],
    ['a message while stopping waits for the next coordinator', 'stopping', { type: 'message', pending: true }, { action: 'wait', next: 'stopping' }],
    ['a boundary with messages queued hands the next turn', 'busy', { type: 'boundary', pending: true }, { action: 'hand-turn', next: 'busy' }],
    ['a boundary with nothing queued waits (idle timer armed)', 'busy', { type: 'boundary', pending: false }, { action: 'wait', next: 'waiting' }],
    ['the first boundary after the start', 'starting', { type: 'boundary', pending: false }, { action: 'wait', next: 'waiting' }],
    ['a stopping coordinator asking again is told to stop', 'stopping', { type: 'boundary', pending: true }, { action: 'stop', next: 'stopping' }],
    ['idle with nothing queued: stop', 'waiting', { type: 'idle', pending: false }, { action: 'stop', next: 'stopping' }],
    ['idle as a message arrives: the message wins', 'waiting', { type: 'idle', pending: true }, { action: 'hand-turn', next: 'busy' }],
    ['a stale idle timer mid-turn does nothing', 'busy', { type: 'idle', pending: false }, { action: 'none', next: 'busy' }],
    ['a clean exit with nothing queued', 'stopping', { type: 'exited', unfinished: null, pending: false }, { action: 'none', next: 'absent' }],
    ['an exit with messages that came while stopping starts a new one', 'stopping', { type: 'exited', unfinished: null, pending: true }, { action: 'start', next: 'starting' }],
    ['a crash mid-turn re-queues the turn and starts a new one', 'busy', { type: 'exited', unfinished: { attempt: 1 }, pending: false }, { action: 'start', next: 'starting', unfinished: 'requeue' }],
    ['a second crash of the same turn fails it', 'busy', { type: 'exited', unfinished: { attempt: 2 }, pending: false }, { action: 'none', next: 'absent', unfinished: 'fail' }],
    ['a second crash with others queued fails it and starts again', 'busy', { type: 'exited', unfinished: { attempt: 2 }, pending: true }, { action: 'start', next: 'starting', unfinished: 'fail' }],
    ['a turn found running at start-up is re-queued once', 'absent', { type: 'crash-found', attempt: 1 }, { action: 'none', next: 'absent', unfinished: 'requeue' }],
    ['... and failed the second time', 'absent', { type: 'crash-found', attempt: 2 }, { action: 'none', next: 'absent', unfinished: 'fail' }],
  ];
  for (const [name, state, event, decision] of cases) {
    it(name, () => expect(decideCoordinator(state, event)).toEqual(decision));
  }
});

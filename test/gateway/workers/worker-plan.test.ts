// The worker pool's decisions, by table: who starts given the shared slots, the per-tenant cap and fairness; what a
// worker interrupted by a restart becomes; what its coordinator is told.
import { describe, expect, it } from 'vitest';
import { workerRecovery, workerResultText, workersToStart, type WorkerPlanInput } from '../../../gateway/worker-plan.js';

const q = (...ids: string[]) => ids.map((id) => ({ id, tenant: id.split('.')[0]! }));

describe('workersToStart', () => {
  it.each<[string, WorkerPlanInput, string[]]>([
    ['nothing queued', { queued: [], running: new Map(), freeSlots: 4, perTenantCap: 3 }, []],
    ['no free slot (turns and coordinators hold them all)', { queued: q('a.1'), running: new Map(), freeSlots: 0, perTenantCap: 3 }, []],
    ['as many as the free slots, oldest first', { queued: q('a.1', 'a.2', 'a.3'), running: new Map(), freeSlots: 2, perTenantCap: 3 }, ['a.1', 'a.2']],
    ['no more than the tenant cap', { queued: q('a.1', 'a.2', 'a.3', 'a.4'), running: new Map(), freeSlots: 8, perTenantCap: 3 }, ['a.1', 'a.2', 'a.3']],
    ['the cap counts the workers running already', { queued: q('a.1', 'a.2'), running: new Map([['a', 2]]), freeSlots: 8, perTenantCap: 3 }, ['a.1']],
    ['a tenant at its cap leaves its slots to others', { queued: q('a.1', 'b.1'), running: new Map([['a', 3]]), freeSlots: 1, perTenantCap: 3 }, ['b.1']],
    [
      'tenants take turns: a flood of one does not keep another\'s first worker waiting',
      { queued: q('a.1', 'a.2', 'a.3', 'b.1', 'c.1'), running: new Map(), freeSlots: 3, perTenantCap: 5 },
      ['a.1', 'b.1', 'c.1'],
    ],
    [
      'the tenant with fewer running goes first, whatever the age',
      { queued: q('a.1', 'b.1'), running: new Map([['a', 1]]), freeSlots: 1, perTenantCap: 5 },
      ['b.1'],
    ],
    [
      'equal load: the oldest queued worker wins',
      { queued: q('b.1', 'a.1', 'b.2'), running: new Map([['a', 1], ['b', 1]]), freeSlots: 3, perTenantCap: 5 },
      ['b.1', 'a.1', 'b.2'],
    ],
  ])('%s', (_name, input, expected) => {
    expect(workersToStart(input)).toEqual(expected);
  });
});

describe('workerRecovery', () => {
  it.each([
    [0, 'requeue'],
    [1, 'requeue'],
    [2, 'fail'],
    [3, 'fail'],
  ] as const)('a worker on its attempt %i is put back: %s', (attempt, expected) => {
    expect(workerRecovery({ attempt })).toBe(expected);
  });
});

describe('workerResultText', () => {
  it.each([
    [{ kind: 'done', text: 'built 3 targets' }, 'result from worker w-1: built 3 targets'],
    [{ kind: 'failed', text: 'the agent ran out of time (limit 5 s) and was stopped' }, 'worker w-1 failed: the agent ran out of time (limit 5 s) and was stopped'],
    [{ kind: 'cancelled', ranMs: null }, 'worker w-1 was cancelled before it started'],
    [{ kind: 'cancelled', ranMs: 4400 }, 'worker w-1 was cancelled after running 4 s; its work is unfinished'],
    [{ kind: 'interrupted' }, 'worker w-1 failed: it was interrupted twice by a gateway restart; spawn it again if the work is still wanted'],
    [{ kind: 'gone' }, 'worker w-1 failed: its tenant has no valid configuration any more, so it could not run'],
  ] as const)('%j', (end, text) => {
    expect(workerResultText('w-1', end)).toBe(text);
  });
});

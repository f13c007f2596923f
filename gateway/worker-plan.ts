// Pure decisions of the worker pool (gateway/workers.ts): which queued workers start now, what a worker found running
// at start-up becomes, and the words of the result each worker sends back to its coordinator. No I/O here.

export interface QueuedWorker {
  id: string;
  tenant: string;
}

export interface WorkerPlanInput {
  /** Queued workers, oldest first. */
  queued: readonly QueuedWorker[];
  /** Running workers per tenant. */
  running: ReadonlyMap<string, number>;
  /**
   * Container slots free now: MAX_CONCURRENT_CONTAINERS less every lease held, turns', coordinators' and workers'
   * alike (one count, so together they never exceed the cap).
   */
  freeSlots: number;
  /** Running workers one tenant may have at once (WARREN_MAX_WORKERS_PER_TENANT). */
  perTenantCap: number;
}

/**
 * The queued workers to start now, in order. Each free slot goes to the tenant with the fewest workers running
 * (under its cap) that has one queued; ties go to the tenant whose oldest queued worker came first. So one tenant
 * spawning fifty workers cannot keep another's first worker waiting behind them.
 */
export function workersToStart(input: WorkerPlanInput): string[] {
  const running = new Map(input.running);
  const queues = new Map<string, QueuedWorker[]>();
  for (const w of input.queued) {
    if (!queues.has(w.tenant)) queues.set(w.tenant, []);
    queues.get(w.tenant)!.push(w);
  }
  const order = new Map(input.queued.map((w, i) => [w.id, i]));
  const out: string[] = [];
  let free = input.freeSlots;
  while (free > 0) {
    let best: string | null = null;
    for (const [tenant, queue] of queues) {
      const n = running.get(tenant) ?? 0;
      if (queue.length === 0 || n >= input.perTenantCap) continue;
      if (best === null) {
        best = tenant;
        continue;
      }
      const b = running.get(best) ?? 0;
      if (n < b || (n === b && order.get(queue[0]!.id)! < order.get(queues.get(best)![0]!.id)!)) best = tenant;
    }
    if (best === null) break;
    out.push(queues.get(best)!.shift()!.id);
    running.set(best, (running.get(best) ?? 0) + 1);
    free--;
  }
  return out;
}

/** A worker found running when the gateway starts (its container was removed as an orphan): run it again once. */
export function workerRecovery(w: { attempt: number }): 'requeue' | 'fail' {
  return w.attempt <= 1 ? 'requeue' : 'fail';
}

/** How a worker ended, as far as its coordinator is told. */
export type WorkerEnd =
  | { kind: 'done'; text: string }
  | { kind: 'failed'; text: string }
  | { kind: 'cancelled'; ranMs: number | null }
  | { kind: 'interrupted' }
  | { kind: 'gone' };

/** The result message a worker sends back to its spawning topic. Every end says which worker and how it ended. */
export function workerResultText(id: string, end: WorkerEnd): string {
  switch (end.kind) {
    case 'done':
      return `result from worker ${id}: ${end.text}`;
    case 'failed':
      return `worker ${id} failed: ${end.text}`;
    case 'cancelled':
      return end.ranMs === null
        ? `worker ${id} was cancelled before it started`
        : `worker ${id} was cancelled after running ${Math.round(end.ranMs / 1000)} s; its work is unfinished`;
    case 'interrupted':
      return `worker ${id} failed: it was interrupted twice by a gateway restart; spawn it again if the work is still wanted`;
    case 'gone':
      return `worker ${id} failed: its tenant has no valid configuration any more, so it could not run`;
  }
}

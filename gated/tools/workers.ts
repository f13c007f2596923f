// Workers: a coordinator hands heavy work to an ephemeral container of its own tenant and stays free to answer. The
// tools only record intent (queue, cancel) in the workers table; the gateway's pool (gateway/workers.ts) starts and
// stops containers and delivers each worker's result, exactly once, as a `result` message on the spawning topic.
import { z } from 'zod';
import type { WorkerRow } from '../store.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';
import { MAX_TEXT } from './messaging.js';

/** Workers one turn may spawn: a runaway or hijacked agent stops here. */
export const MAX_SPAWNS_PER_RUN = 10;
/** Queued and running workers a tenant may have at once; more waits for some to end. */
export const MAX_ACTIVE_WORKERS = 50;
/** Ended workers list_workers still shows (newest), after every active one. */
const ENDED_SHOWN = 10;
const WORKER_ID = /^w-[0-9a-f]{12}$/;

const spawns = new WeakMap<object, number>();

function countSpawn(ctx: ToolContext): void {
  const done = spawns.get(ctx.run!) ?? 0;
  if (done >= MAX_SPAWNS_PER_RUN) {
    throw new ToolError(`this turn already spawned ${done} workers (the limit); wait for their results`);
  }
  spawns.set(ctx.run!, done + 1);
}

/** The brief's first non-empty line, short enough for a listing. */
export function firstLine(brief: string, max = 80): string {
  const line = brief.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function ageText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

export const spawnWorker = defineTool({
  name: 'spawn_worker',
  description:
    'Hand a heavy task to a worker: an ephemeral container of your own that reads your home (read-only), works in a ' +
    "scratch folder of its own and returns at once with a handle. The worker's result arrives later in your inbox as " +
    'a message "result from worker w-…". Write the brief so it stands alone: the worker sees nothing else.',
  input: z.object({ brief: z.string().min(1).max(MAX_TEXT) }).strict(),
  guard(ctx) {
    return ctx.run ? null : 'spawn_worker is for a turn: its result returns to the turn\'s topic, and this connection has none';
  },
  handler(ctx, { brief }) {
    const active = ctx.store.listWorkers({ tenant: ctx.tenant, active: true }).length;
    if (active >= MAX_ACTIVE_WORKERS) {
      throw new ToolError(`you already have ${active} workers queued or running (the limit); wait for some results or cancel_worker`);
    }
    countSpawn(ctx);
    const w = ctx.store.addWorker({ tenant: ctx.tenant, topic: ctx.run!.topic, spawnedBy: ctx.run!.id, brief });
    return {
      text: `spawned ${w.id} (queued); its result will arrive in your inbox; list_workers shows it, cancel_worker stops it`,
      data: { worker: w.id, state: w.state },
    };
  },
});

/** One worker as list_workers shows it; `position` is its place among the tenant's queued workers. */
export function describeWorker(w: WorkerRow, now: number, position: number | null): Record<string, unknown> {
  const since = w.state === 'queued' ? w.createdAt : w.state === 'running' ? (w.startedAt ?? w.createdAt) : (w.endedAt ?? w.createdAt);
  return {
    worker: w.id,
    state: w.state,
    age_s: Math.round((now - w.createdAt) / 1000),
    for: ageText(now - since),
    brief: firstLine(w.brief),
    ...(position !== null ? { queue_position: position } : {}),
  };
}

export const listWorkers = defineTool({
  name: 'list_workers',
  description: 'Your workers: the queued and running ones (with their place in the queue), then the last few that ended.',
  input: z.object({}).strict(),
  handler(ctx) {
    const now = Date.now();
    const all = ctx.store.listWorkers({ tenant: ctx.tenant });
    const active = all.filter((w) => w.state === 'queued' || w.state === 'running');
    const ended = all.filter((w) => w.state !== 'queued' && w.state !== 'running').slice(-ENDED_SHOWN);
    let position = 0;
    const rows = [...active, ...ended].map((w) => describeWorker(w, now, w.state === 'queued' ? ++position : null));
    if (rows.length === 0) return { text: 'you have no workers', data: { workers: [] } };
    const lines = rows.map((r) => {
      const where = r.queue_position !== undefined ? ` #${String(r.queue_position)} in your queue,` : '';
      return `${String(r.worker)} ${String(r.state)},${where} for ${String(r.for)}: ${String(r.brief)}`;
    });
    return { text: lines.join('\n'), data: { workers: rows } };
  },
});

export const cancelWorker = defineTool({
  name: 'cancel_worker',
  description: 'Cancel one of your workers: a queued one never starts, a running one is stopped. Its result says so.',
  input: z.object({ worker: z.string().min(1).max(64) }).strict(),
  handler(ctx, { worker }) {
    const w = WORKER_ID.test(worker) ? ctx.store.worker(worker) : undefined;
    // Another tenant's worker reads exactly like one that does not exist.
    if (!w || w.tenant !== ctx.tenant) throw new ToolError(`you have no worker "${worker}" (list_workers shows yours)`);
    const was = w.state;
    if (!ctx.store.cancelWorker(ctx.tenant, w.id)) {
      throw new ToolError(`worker ${w.id} has already ended (${ctx.store.worker(w.id)?.state ?? was}); nothing to cancel`);
    }
    const how = was === 'queued' ? 'it will not start' : 'its container is being stopped';
    return { text: `cancelled ${w.id}: ${how}; its result will say so`, data: { worker: w.id, state: 'cancelled', was } };
  },
});

export const workerTools = [spawnWorker, listWorkers, cancelWorker];

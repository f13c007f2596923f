// The worker pool: runs the workers spawn_worker queued (gated/tools/workers.ts), each an ephemeral container started
// through the runtime with a spec from containerSpec (home read-only, its own scratch folder, its brief), its own run
// socket held to the workers' rules, and a lease of the shared container cap. Each worker's result goes back to its
// spawning topic as a `result` message exactly once, however it ended: the store changes a worker's state only from
// the state it expects, and delivers its result in the same transaction.
import { chownSync, mkdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { AGENT_GID, AGENT_UID } from '../core/container.js';
import type { Egress, EgressService } from '../core/egress.js';
import type { Logger } from '../core/log.js';
import { TURN_VERSION, type TurnInput, type TurnResult } from '../core/turn.js';
import type { TenantConfig } from '../core/tree/types.js';
import type { Gated, RunHooks } from '../gated/broker.js';
import type { RunContext } from '../gated/tools/tool.js';
import type { TenantPath } from '../core/tenant-path.js';
import type { NewMessage, WorkerRow } from '../gated/store.js';
import type { GatewayConfig } from './config.js';
import type { LiveOutput } from './live/capture.js';
import { resolveLimits, type ResolvedLimits } from './limits.js';
import type { RunStore } from './run-store.js';
import type { AgentRuntime, RunAccess, RunResult } from './runtime/runtime.js';
import { turnOutcome } from './turn-plan.js';
import { workerRecovery, workerResultText, workersToStart, type WorkerEnd } from './worker-plan.js';

/** A worker's own folders, outside the tenant tree: <workers root>/<id>/{scratch/,brief.md}; removed when it ends. */
export function workerDirs(root: string, id: string): { base: string; scratchDir: string; briefFile: string } {
  const base = join(root, id);
  return { base, scratchDir: join(base, 'scratch'), briefFile: join(base, 'brief.md') };
}

/**
 * Where workers' folders live: WARREN_WORKERS_DIR, else DATA/workers. On Swarm a worker's task may land on any node,
 * which has the shared filesystem but not the manager's DATA: there the folder must be set (a path on the shared
 * filesystem, the same on every node), and a worker without it fails with that reason instead of running with an
 * empty mount. PURE.
 */
export function workersRoot(config: Pick<GatewayConfig, 'runtime' | 'workersDir'>, dataDir: string): { root: string } | { problem: string } {
  if (config.workersDir) return { root: config.workersDir };
  if (config.runtime === 'swarm') {
    return { problem: 'workers on WARREN_RUNTIME=swarm need WARREN_WORKERS_DIR: a folder on the shared filesystem, at the same path on every node' };
  }
  return { root: join(dataDir, 'workers') };
}

export interface WorkerSpecInput {
  worker: WorkerRow;
  tenant: TenantConfig;
  socketPath: string | undefined;
  limits: ResolvedLimits;
  egress: Egress | null;
  dirs: { scratchDir: string; briefFile: string };
  log: Logger;
}

export interface WorkerPoolDeps {
  gated: Gated;
  runtime: AgentRuntime;
  runs: RunStore;
  config: GatewayConfig;
  dataDir: string;
  log: Logger;
  /** The container spec of a worker, built as a turn's is (the turn loop's containerOptions, with `worker`). */
  spec(input: WorkerSpecInput): Docker.ContainerCreateOptions;
  /** The worker's way to gated, as the runtime needs it (the turn loop's: a socket, or HTTPS on a cluster). */
  access(tenant: TenantPath, run: RunContext, hooks: Pick<RunHooks, 'onSubmit' | 'role'>): Promise<RunAccess>;
  secretsFor?: (tenant: string, only: readonly string[] | undefined) => Record<string, string>;
  redactorFor?: (tenant: string) => ((text: string) => string) | undefined;
  egressFor?: EgressService['egressFor'];
  /** A result message was queued (the turn loop looks at its queue). */
  onResult(): void;
  /** Records each worker's live output under its handle, as a turn's under its run id (what /status shows). */
  output?: LiveOutput;
}

interface LiveWorker {
  tenant: string;
  container: string | null;
  startedAt: number;
  /** Asked to stop (cancelled): its exit is not its result. */
  stopping: boolean;
  done: Promise<void>;
}


export class WorkerPool {
  private readonly live = new Map<string, LiveWorker>();
  /** When each tenant with queued workers was first seen without a valid configuration. */
  private readonly goneSince = new Map<string, number>();
  private shuttingDown = false;

  constructor(private readonly deps: WorkerPoolDeps) {}

  /** Workers with a container slot now. */
  get running(): number {
    return this.live.size;
  }

  /**
   * Start-up, after this instance's orphan containers are gone: a worker that was running is queued again once (a
   * second interruption fails it, and its coordinator is told); results not yet delivered are delivered by the first
   * tick; scratch folders of workers that are not queued any more are removed.
   */
  reconcile(): void {
    const { gated, log } = this.deps;
    for (const w of gated.store.listWorkers({ active: true })) {
      if (w.state !== 'running') continue;
      if (workerRecovery(w) === 'requeue') {
        gated.store.requeueWorker(w.id);
        log.warn({ worker: w.id, tenant: w.tenant }, 'worker interrupted by a restart: queued again');
      } else {
        this.finish(w, { kind: 'interrupted' });
        log.error({ worker: w.id, tenant: w.tenant }, 'worker interrupted twice: failed');
      }
    }
    const queued = new Set(gated.store.listWorkers({ active: true }).map((w) => w.id));
    const where = workersRoot(this.deps.config, this.deps.dataDir);
    if (!('root' in where)) return; // no worker can have run: none has folders
    let names: string[] = [];
    try {
      names = readdirSync(where.root);
    } catch {
      // no worker ever ran here
    }
    for (const name of names) if (!queued.has(name)) rmSync(join(where.root, name), { recursive: true, force: true });
  }

  /** One look at the workers: deliver what ended, stop what was cancelled, start what the plan allows. */
  tick(): void {
    if (this.shuttingDown) return;
    const { gated, runs, config, log } = this.deps;
    const store = gated.store;
    for (const w of store.undeliveredWorkers()) {
      if (this.live.has(w.id)) continue; // its container is still being stopped; its end delivers it
      const ranMs = w.startedAt !== null && w.endedAt !== null ? w.endedAt - w.startedAt : null;
      this.deliver(w, w.state === 'cancelled' ? { kind: 'cancelled', ranMs } : { kind: 'failed', text: 'it ended without a result' });
    }
    const active = store.listWorkers({ active: true });
    for (const [id, live] of this.live) {
      if (live.stopping || !live.container) continue;
      if (store.worker(id)?.state !== 'cancelled') continue;
      live.stopping = true;
      log.info({ worker: id, tenant: live.tenant }, 'worker cancelled: stopping its container');
      void this.stopUntilGone(live).catch((error: unknown) => log.error({ err: error, worker: id }, 'could not stop a cancelled worker'));
    }
    const queued = active.filter((w) => w.state === 'queued' && !this.live.has(w.id));
    const now = Date.now();
    for (const w of queued) {
      if (gated.registry.config(w.tenant)) {
        this.goneSince.delete(w.tenant);
        continue;
      }
      // As for its messages: a tenant missing for a moment (a rename and back) keeps its queue; after the grace
      // period its queued workers fail and its coordinator, should it come back, is told.
      const since = this.goneSince.get(w.tenant) ?? now;
      this.goneSince.set(w.tenant, since);
      if (now - since >= config.goneGraceMs) this.finish(w, { kind: 'gone' }, 'queued');
    }
    const running = new Map<string, number>();
    for (const live of this.live.values()) running.set(live.tenant, (running.get(live.tenant) ?? 0) + 1);
    const startable = queued.filter((w) => gated.registry.config(w.tenant));
    const plan = workersToStart({
      queued: startable,
      running,
      freeSlots: config.maxConcurrentContainers - runs.leaseCount(),
      perTenantCap: config.maxWorkersPerTenant,
    });
    const byId = new Map(startable.map((w) => [w.id, w]));
    for (const id of plan) {
      const w = byId.get(id)!;
      if (!runs.tryLeaseWorker(w.id, w.tenant, config.maxConcurrentContainers)) break;
      const live: LiveWorker = { tenant: w.tenant, container: null, startedAt: Date.now(), stopping: false, done: Promise.resolve() };
      this.live.set(w.id, live);
      live.done = this.run(w, live)
        .catch((error: unknown) => log.error({ err: error, worker: w.id }, 'worker failed unexpectedly'))
        .finally(() => {
          this.live.delete(w.id);
          runs.releaseLease(w.id);
          const where = workersRoot(this.deps.config, this.deps.dataDir);
          if ('root' in where) rmSync(workerDirs(where.root, w.id).base, { recursive: true, force: true });
          this.deps.onResult();
        });
    }
  }

  /**
   * Gateway shutdown: running workers' containers are stopped and their rows left `running`, so the next start
   * queues each again once (as for a crash); none of them is reported as failed for it.
   */
  async stop(): Promise<void> {
    this.shuttingDown = true;
    for (const [id, live] of this.live) {
      live.stopping = true;
      this.deps.log.info({ worker: id }, 'stopping: worker stopped, queued again at the next start');
    }
    await Promise.allSettled([...this.live.values()].map((l) => this.stopUntilGone(l).catch(() => undefined)));
  }

  /**
   * Stops a worker's container and keeps at it until its run has ended: a stop that lands between the container's
   * create and its start finds nothing running, and the container would then start and run to the end.
   */
  private async stopUntilGone(live: LiveWorker): Promise<void> {
    let ended = false;
    void live.done.then(() => (ended = true), () => (ended = true));
    while (!ended) {
      if (live.container) await this.deps.runtime.stop(live.container, 5);
      await Promise.race([live.done.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500))]);
    }
  }

  private async run(w: WorkerRow, live: LiveWorker): Promise<void> {
    const { gated, config, log: baseLog } = this.deps;
    const log = baseLog.child({ worker: w.id, tenant: w.tenant, topic: w.topic });
    const tenantConfig = gated.registry.config(w.tenant);
    let limits: ResolvedLimits = config.defaultLimits;
    let submitted: TurnResult | null = null;
    let socket: RunAccess | null = null;
    let exit: RunResult | null = null;
    let startError: string | null = null;
    try {
      if (!tenantConfig) throw new Error(`tenant ${w.tenant} has no valid configuration`);
      const resolved = resolveLimits(tenantConfig.persona.frontmatter.limits, config.defaultLimits, config.maxLimits);
      limits = resolved.limits;
      const dirs = this.prepareDirs(w);
      const origin = this.deps.runs.origin(w.spawnedBy);
      socket = await this.deps.access(
        w.tenant,
        { id: w.id, topic: w.topic, chat: null, depth: origin?.depth ?? 0 },
        { onSubmit: (r) => (submitted ??= r), role: 'worker' },
      );
      const egress = (await this.deps.egressFor?.(w.tenant)) ?? null;
      const spec = this.deps.spec({ worker: w, tenant: tenantConfig, socketPath: socket.socketPath, limits, egress, dirs, log });
      // Cancelled while its socket opened: it never starts (the tick delivers the cancel's result).
      if (!gated.store.startWorker(w.id, spec.name!)) return;
      live.container = spec.name!;
      live.startedAt = Date.now();
      log.info({ attempt: w.attempt + 1 }, 'worker starting');
      const output = this.deps.output;
      output?.started({ id: w.id, tenant: w.tenant, topic: w.topic, attempt: w.attempt + 1 });
      exit = await this.deps.runtime.run(spec, {
        stdin: JSON.stringify({ ...this.turnInput(w, tenantConfig), gated: socket.gated }) + '\n',
        timeoutMs: limits.timeout_s * 1000,
        log,
        redact: this.deps.redactorFor?.(w.tenant),
        onLine: output ? (line) => output.line(w.id, line) : undefined,
      });
    } catch (error) {
      log.error({ err: error }, 'worker could not run');
      startError = (error as Error).message;
    } finally {
      await socket?.close().catch(() => undefined);
    }
    // Its output ends once its container is gone: no line of it can follow.
    const ended = (status: string) => live.container !== null && this.deps.output?.ended(w.id, status);
    // Stopped for a shutdown without a report: left running, queued again at the next start.
    if (this.shuttingDown && !submitted) {
      ended('interrupted');
      return;
    }
    const outcome = turnOutcome({ submitted, exit, startError, limits });
    ended(outcome.status);
    const redact = this.deps.redactorFor?.(w.tenant);
    const text = redact ? redact(outcome.text) : outcome.text;
    const row = gated.store.worker(w.id);
    if (row?.state === 'queued') {
      // It never started (it could not be set up): it ends here, from the queue.
      this.finish(row, { kind: 'failed', text }, 'queued');
      return;
    }
    const delivered = this.finish(w, outcome.status === 'done' ? { kind: 'done', text } : { kind: 'failed', text });
    if (!delivered) {
      // Cancelled while it ran: the cancel is its result.
      const ended = gated.store.worker(w.id);
      const ranMs = ended?.startedAt != null && ended.endedAt != null ? ended.endedAt - ended.startedAt : null;
      if (ended) this.deliver(ended, { kind: 'cancelled', ranMs });
    }
    log.info({ status: outcome.status, exit }, 'worker finished');
  }

  /** Ends a worker (from `from`) with its result delivered; false when it had left that state. */
  private finish(w: WorkerRow, end: WorkerEnd, from: 'running' | 'queued' = 'running'): boolean {
    const state = end.kind === 'done' ? 'done' : 'failed';
    const text = workerResultText(w.id, end);
    const ok = this.deps.gated.store.finishWorker(w.id, state, text, this.resultMessage(w, text), { from });
    if (ok) this.deps.onResult();
    return ok;
  }

  /** Delivers the result of a worker that has ended already (cancelled), once. */
  private deliver(w: WorkerRow, end: WorkerEnd): void {
    const text = workerResultText(w.id, end);
    if (this.deps.gated.store.deliverWorkerResult(w.id, text, this.resultMessage(w, text))) this.deps.onResult();
  }

  /** The result goes back on the spawning run's conversation and depth, to the topic the worker was spawned from. */
  private resultMessage(w: WorkerRow, text: string): NewMessage {
    const origin = this.deps.runs.origin(w.spawnedBy);
    return { tenant: w.tenant, topic: w.topic, kind: 'result', chat: origin?.chat ?? null, sender: w.id, text, depth: origin?.depth ?? 0, ref: w.id };
  }

  /** A fresh scratch folder (a re-run starts clean) and the brief, handed to the container user. */
  private prepareDirs(w: WorkerRow): { scratchDir: string; briefFile: string } {
    const where = workersRoot(this.deps.config, this.deps.dataDir);
    if (!('root' in where)) throw new Error(where.problem);
    const dirs = workerDirs(where.root, w.id);
    rmSync(dirs.base, { recursive: true, force: true });
    mkdirSync(dirs.scratchDir, { recursive: true, mode: 0o700 });
    writeFileSync(dirs.briefFile, w.brief, { mode: 0o444 });
    if (process.getuid?.() === 0) chownSync(dirs.scratchDir, AGENT_UID, AGENT_GID);
    return dirs;
  }

  /** The worker's one turn: its brief, matched by the tenant's harness (and `script:` rules) like any message. */
  private turnInput(w: WorkerRow, tenant: TenantConfig): TurnInput {
    const fm = tenant.persona.frontmatter;
    return {
      version: TURN_VERSION,
      tenant: w.tenant,
      run: w.id,
      topic: w.topic,
      session: null,
      harness: fm.harness ?? this.deps.config.defaultHarness,
      model: fm.model ?? null,
      script: fm.script,
      messages: [{ id: 0, kind: 'delegation', sender: w.tenant, chat: null, text: w.brief, at: new Date(w.createdAt).toISOString() }],
      env: this.deps.secretsFor?.(w.tenant, fm.env) ?? {},
    };
  }
}

// The turn loop: pending messages -> a lease -> a run socket -> one container -> the outcome and its effects.
// Start-up reconciles first: this instance's orphan containers are removed and interrupted turns re-queued once.
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../core/log.js';
import { tierOf, type TenantPath } from '../core/tenant-path.js';
import { AGENT_GID, AGENT_UID } from '../core/container.js';
import type { Egress, EgressService } from '../core/egress.js';
import { TURN_VERSION, type TurnInput, type TurnResult } from '../core/turn.js';
import { effectiveEnvironment } from '../core/tree/environment.js';
import { HOME_DIR } from '../core/tree/layout.js';
import type { TenantConfig } from '../core/tree/types.js';
import type { Gated, RunHooks } from '../gated/broker.js';
import type { GatewayConfig } from './config.js';
import { containerSpec } from './container-spec.js';
import { resolveLimits, type ResolvedLimits } from './limits.js';
import { ensureHome, ensureWeb } from './home.js';
import { resolveMounts } from './mount-allowlist.js';
import type { LiveOutput } from './live/capture.js';
import type { RunStore, StartedRun } from './run-store.js';
import { planEffects, recoveryFor, sessionFor, turnOutcome } from './turn-plan.js';
import { Coordinator, type CoordinatorHooks } from './coordinator.js';
import type { AgentRuntime, Placement, RunAccess, RunResult } from './runtime/runtime.js';
import type { RunContext } from '../gated/tools/tool.js';
import type { CoordinatorView } from './status.js';
import { WorkerPool } from './workers.js';

/** A coordinator's container may live this long at most; its turns keep the tenant's own time limit each. */
const COORDINATOR_MAX_LIFE_MS = 24 * 3600 * 1000;

export interface TurnLoopDeps {
  gated: Gated;
  /** What runs the containers: the local Docker daemon or a cluster (gateway/runtime/). */
  runtime: AgentRuntime;
  runs: RunStore;
  config: GatewayConfig;
  image: string;
  tenantsDir: string;
  dataDir: string;
  log: Logger;
  /** The secrets a run of `tenant` receives (issue: secrets); none when absent. */
  secretsFor?: (tenant: string, only: readonly string[] | undefined) => Record<string, string>;
  /** Scrubs the tenant's secret values from turn results and container logs. */
  redactorFor?: (tenant: string) => ((text: string) => string) | undefined;
  /**
   * Egress for a tenant's containers (crackbox): the network to join, its DNS server and the proxy environment.
   * Without it containers get no network at all.
   */
  egressFor?: EgressService['egressFor'];
  /** Records each run's live output (gateway/live/); without it nothing is recorded. */
  output?: LiveOutput;
  /** Called when a run ends (tests and the benchmark observe turns through it). */
  onRunEnd?: (run: StartedRun, outcome: ReturnType<typeof turnOutcome>) => void;
  /** Tests force coordinator races through these. */
  coordinatorHooks?: CoordinatorHooks;
  /** Where a cluster runtime placed a run (`warren runs` shows it). */
  onPlaced?: (runId: string, placement: Placement) => void;
}

/** How a run reaches gated: a unix socket mounted into it, or (a cluster runtime) an HTTPS endpoint in its turn. */
const worldOf = (tenant: string) => tenant.split('/')[0]!;

/**
 * The order in which waiting topics get container slots: worlds with fewer turns running go first, oldest first
 * within that, so one busy world (a flood of delegations, say) cannot hold every slot while another waits. Pure.
 */
export function fairOrder<T extends { tenant: string }>(pending: readonly T[], running: ReadonlyMap<string, number>): T[] {
  const load = new Map(running);
  const queues = new Map<string, T[]>();
  for (const p of pending) {
    const world = worldOf(p.tenant);
    if (!queues.has(world)) queues.set(world, []);
    queues.get(world)!.push(p);
  }
  const out: T[] = [];
  while (queues.size > 0) {
    // The least loaded world with something waiting; ties go to the world whose oldest waiting topic came first.
    let best: string | null = null;
    for (const [world, queue] of queues) {
      if (best === null) best = world;
      const a = load.get(world) ?? 0;
      const b = load.get(best) ?? 0;
      if (a < b || (a === b && pending.indexOf(queue[0]!) < pending.indexOf(queues.get(best)![0]!))) best = world;
    }
    const queue = queues.get(best!)!;
    out.push(queue.shift()!);
    load.set(best!, (load.get(best!) ?? 0) + 1);
    if (queue.length === 0) queues.delete(best!);
  }
  return out;
}

/** What leaves a turn for people and other tenants carries secret names, never values. */
function scrubbed(outcome: ReturnType<typeof turnOutcome>, redact: ((text: string) => string) | undefined) {
  return redact ? { ...outcome, text: redact(outcome.text) } : outcome;
}

/** The container user; run sockets are owned by it so they can stay 0600. */
const AGENT_OWNER = { uid: AGENT_UID, gid: AGENT_GID };

export class TurnLoop {
  private timer: NodeJS.Timeout | undefined;
  private wakePending = false;
  private stopped = false;
  private readonly active = new Map<string, Promise<void>>();
  private readonly activeTenants = new Map<string, string>();
  /** When each running turn's container was started and its time limit: what a shutdown may have to wait for. */
  private readonly containerClocks = new Map<string, { startedAt: number; timeoutS: number }>();
  /** When each tenant with waiting messages was first seen missing from the tree. */
  private readonly goneSince = new Map<string, number>();
  /** The live coordinator of each `always_on` tenant (at most one: the tenant's single writer). */
  private readonly coordinators = new Map<string, Coordinator>();
  /** The workers coordinators spawn (gateway/workers.ts): looked at after the turns on every pass, sharing the cap. */
  private readonly workers: WorkerPool;

  constructor(private readonly deps: TurnLoopDeps) {
    this.workers = new WorkerPool({
      ...deps,
      spec: (w) => this.containerOptions({ id: w.worker.id, tenant: w.worker.tenant }, w.tenant, w.socketPath, w.limits, w.egress, w.log, w.dirs),
      access: (tenant, context, hooks) => this.accessFor(tenant, context, hooks),
      onResult: () => this.wake(),
    });
  }

  async start(): Promise<void> {
    await this.reconcile();
    this.timer = setInterval(() => this.schedule(), this.deps.config.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Look at the queue soon (coalesced): called when a message arrives or a run ends. */
  wake(): void {
    if (this.wakePending || this.stopped) return;
    this.wakePending = true;
    setImmediate(() => {
      this.wakePending = false;
      this.schedule();
    });
  }

  activeRuns(): string[] {
    return [...this.active.keys()];
  }

  /** The tenant's live coordinator as /status shows it; null when none runs. */
  coordinatorView(tenant: string): CoordinatorView | null {
    return this.coordinators.get(tenant)?.view() ?? null;
  }

  /** Stops taking new turns and waits for the ones running (each bounded by its own timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const coordinator of this.coordinators.values()) coordinator.shutdown();
    const workersStopped = this.workers.stop();
    for (const [run, tenant] of this.activeTenants) {
      const clock = this.containerClocks.get(run);
      const leftS = clock ? Math.max(0, Math.ceil(clock.startedAt / 1000 + clock.timeoutS - Date.now() / 1000)) : null;
      const howLong = clock ? `its ${clock.timeoutS} s timeout ends in ${leftS} s` : 'its container is not started yet';
      this.deps.log.info(
        { run, tenant, timeout_s: clock?.timeoutS ?? null, left_s: leftS },
        `stopping: waiting for turn ${run} of ${tenant}, ${howLong}`,
      );
    }
    await Promise.allSettled([...this.active.values(), workersStopped]);
  }

  /** One pass: turns first (a waiting message gets the next free slot before a queued worker), then the workers. */
  private schedule(): void {
    if (this.stopped) return;
    this.scheduleTurns();
    try {
      this.workers.tick();
    } catch (error) {
      this.deps.log.error({ err: error }, 'could not look at the workers');
    }
  }

  private scheduleTurns(): void {
    const { runs, config, gated } = this.deps;
    for (const { tenant, topic } of fairOrder(runs.pendingTopics(), this.activeWorlds())) {
      // A live coordinator takes its tenant's messages itself, at its next turn boundary.
      const coordinator = this.coordinators.get(tenant);
      if (coordinator) {
        coordinator.poke();
        continue;
      }
      if (this.active.size + this.workers.running >= config.maxConcurrentContainers) {
        this.yieldIdleCoordinator();
        return;
      }
      if (!gated.registry.get(tenant)) {
        // The tenant left the tree. After a grace period (a folder renamed and back, a checkout) its messages are
        // answered as failed (delegators hear of it) rather than waiting at the head of the queue for ever.
        const since = this.goneSince.get(tenant) ?? Date.now();
        this.goneSince.set(tenant, since);
        if (Date.now() - since < config.goneGraceMs) continue;
        const n = runs.abandon(tenant, topic, `tenant ${tenant} no longer exists`);
        if (n > 0) this.deps.log.warn({ tenant, topic, messages: n }, 'messages for a removed tenant were failed');
        continue;
      }
      this.goneSince.delete(tenant);
      let started: StartedRun | null;
      try {
        started = runs.tryStart(tenant, topic, config.maxConcurrentContainers);
      } catch (error) {
        this.deps.log.error({ err: error, tenant, topic }, 'could not start a turn');
        continue;
      }
      if (!started) continue;
      const run = started;
      const asCoordinator = gated.registry.config(tenant)?.persona.frontmatter.always_on === true;
      const done = (asCoordinator ? this.runCoordinator(run) : this.runTurn(run))
        .catch((error: unknown) => this.deps.log.error({ err: error, run: run.id }, 'turn failed unexpectedly'))
        .finally(() => {
          this.active.delete(run.id);
          this.activeTenants.delete(run.id);
          this.containerClocks.delete(run.id);
          this.wake();
        });
      this.active.set(run.id, done);
      this.activeTenants.set(run.id, run.tenant);
    }
  }

  /** Every slot is taken and a turn waits: one idle coordinator (none already on its way out) gives its slot up. */
  private yieldIdleCoordinator(): void {
    const coordinators = [...this.coordinators.values()];
    if (coordinators.some((c) => c.stopping)) return;
    for (const c of coordinators) if (c.yieldSlot()) return;
  }

  /** Running turns per world (top-level tenant). */
  private activeWorlds(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const tenant of this.activeTenants.values()) {
      const world = worldOf(tenant);
      counts.set(world, (counts.get(world) ?? 0) + 1);
    }
    return counts;
  }

  /**
   * One turn. The outcome is committed as soon as it is known — when the runner submits, without waiting for Docker
   * to tear the container down — while the lease (a container slot) is held until the container is really gone.
   */
  private async runTurn(run: StartedRun): Promise<void> {
    const { gated, runs, config, log: baseLog } = this.deps;
    const log = baseLog.child({ run: run.id, tenant: run.tenant, topic: run.topic });
    const tenantConfig = gated.registry.config(run.tenant);
    let limits: ResolvedLimits = config.defaultLimits;
    let submitted: TurnResult | null = null;
    let onSubmitted: () => void = () => undefined;
    const submission = new Promise<void>((resolve) => (onSubmitted = resolve));
    let socket: RunAccess | null = null;
    let committed = false;
    let finalStatus = 'failed';
    const output = this.deps.output;
    output?.started(run);
    const commit = (exit: RunResult | null, startError: string | null) => {
      if (committed) return;
      const outcome = scrubbed(turnOutcome({ submitted, exit, startError, limits }), this.deps.redactorFor?.(run.tenant));
      const effects = planEffects(run.tenant, run.messages, runs.delegationsFor(run.messages), outcome, runs.chatsSentBy(run.id));
      runs.finish(run, outcome, effects, { releaseLease: false });
      committed = true; // only once it is really written: a failed commit is tried again when the container exits
      finalStatus = outcome.status;
      output?.status(run.id, { state: 'committed', status: outcome.status });
      log.info({ status: outcome.status, exit }, 'turn finished');
      this.deps.onRunEnd?.(run, outcome);
    };
    try {
      if (!tenantConfig) throw new Error(`tenant ${run.tenant} has no valid configuration`);
      const resolved = resolveLimits(tenantConfig.persona.frontmatter.limits, config.defaultLimits, config.maxLimits);
      limits = resolved.limits;
      for (const w of resolved.warnings) log.warn(`PERSONA.md ${w}`);
      socket = await this.openAccess(run, {
        onSubmit: (r) => {
          submitted ??= r; // the first report counts
          onSubmitted();
        },
      });
      const egress = (await this.deps.egressFor?.(run.tenant)) ?? null;
      const spec = this.containerOptions(run, tenantConfig, socket.socketPath, limits, egress, log);
      log.info({ attempt: run.attempt, messages: run.messages.length }, 'turn starting');
      this.containerClocks.set(run.id, { startedAt: Date.now(), timeoutS: limits.timeout_s });
      const exited = this.deps.runtime.run(spec, {
        stdin: JSON.stringify({ ...this.turnInput(run, tenantConfig), gated: socket.gated }) + '\n',
        timeoutMs: limits.timeout_s * 1000,
        log,
        redact: this.deps.redactorFor?.(run.tenant),
        onLine: output ? (line) => output.line(run.id, line) : undefined,
        onPlaced: (placement) => this.deps.onPlaced?.(run.id, placement),
      });
      void submission
        .then(() => commit(null, null))
        .catch((error: unknown) => log.error({ err: error }, 'could not commit the reported result yet; trying again at exit'));
      const exit = await exited;
      runs.setContainer(run.id, exit.containerId);
      if (exit.lost && !committed) {
        // Its node is gone: revoke its access first, so a late result from the lost task is refused, then run the
        // turn again once (on a node that is up), like a turn a gateway restart interrupted.
        committed = true; // from here on, no report of the lost task counts
        await socket.close().catch(() => undefined);
        this.lost(run, log);
        finalStatus = 'requeued';
        return;
      }
      commit(exit, null);
    } catch (error) {
      log.error({ err: error }, 'turn could not run');
      commit(null, (error as Error).message);
    } finally {
      await socket?.close().catch(() => undefined);
      runs.releaseLease(run.id);
      output?.ended(run.id, finalStatus); // after the container is gone: no line of it can follow
    }
  }

  /**
   * A coordinator: one container for the tenant, started with its first turn and handed the next ones over its run
   * socket until it idles out or dies (gateway/coordinator.ts). It holds one container slot for its whole life.
   */
  private async runCoordinator(first: StartedRun): Promise<void> {
    const { gated, config, log: baseLog } = this.deps;
    const log = baseLog.child({ coordinator: first.id, tenant: first.tenant });
    const tenantConfig = gated.registry.config(first.tenant)!;
    const fm = tenantConfig.persona.frontmatter;
    const resolved = resolveLimits(fm.limits, config.defaultLimits, config.maxLimits);
    for (const w of resolved.warnings) log.warn(`PERSONA.md ${w}`);
    const limits = resolved.limits;
    const output = this.deps.output;
    const redact = this.deps.redactorFor?.(first.tenant);
    let socket: RunAccess | null = null;
    let containerName: string | undefined;
    const coordinator = new Coordinator(first.tenant, first, {
      runs: this.deps.runs,
      log,
      limits,
      idleTimeoutS: fm.idle_timeout ?? config.idleTimeoutS,
      // Each turn reads the tenant's configuration as it is now (a script or secrets edited while it idles).
      turnInput: (run) => this.turnInput(run, gated.registry.config(first.tenant) ?? tenantConfig),
      beginTurn: (run) => socket?.beginTurn({ id: run.id, topic: run.topic, chat: run.chat, depth: run.depth }),
      kill: async () => {
        if (containerName) await this.deps.runtime.stop(containerName, 5);
      },
      redact,
      output,
      hooks: this.deps.coordinatorHooks,
      onTurnEnd: (run, outcome) => this.deps.onRunEnd?.(run, outcome),
    });
    this.coordinators.set(first.tenant, coordinator);
    try {
      socket = await this.openAccess(first, {
        onSubmit: (result) => coordinator.submit(result),
        onNextTurn: () => coordinator.nextTurn(),
      });
      const egress = (await this.deps.egressFor?.(first.tenant)) ?? null;
      const spec = this.containerOptions(first, tenantConfig, socket.socketPath, limits, egress, log);
      containerName = spec.name;
      coordinator.container = spec.name ?? null;
      log.info({ idle_timeout_s: fm.idle_timeout ?? config.idleTimeoutS }, 'coordinator starting');
      const exit = await this.deps.runtime.run(spec, {
        stdin: JSON.stringify({ ...this.turnInput(first, tenantConfig), coordinator: true, gated: socket.gated }) + '\n',
        onPlaced: (placement) => this.deps.onPlaced?.(first.id, placement),
        timeoutMs: COORDINATOR_MAX_LIFE_MS,
        log,
        redact,
        onLine: output
          ? (line) => {
              const run = coordinator.busyWith;
              if (run) output.line(run, line); // between turns a line belongs to no run
            }
          : undefined,
      });
      log.info({ exit, turns: coordinator.turns.length }, 'coordinator exited');
      // Lost with its node: its token dies before the turn is re-queued, so a late report of the lost task is refused.
      if (exit.lost) await socket.close().catch(() => undefined);
      coordinator.exited(exit, null);
    } catch (error) {
      log.error({ err: error }, 'coordinator could not run');
      coordinator.exited(null, (error as Error).message);
    } finally {
      if (this.coordinators.get(first.tenant) === coordinator) this.coordinators.delete(first.tenant);
      await socket?.close().catch(() => undefined);
    }
  }

  /** The run's way to gated, as its runtime needs it: a socket for a local container, HTTPS for a cluster task. */
  private openAccess(run: StartedRun, hooks: Omit<RunHooks, 'owner'>): Promise<RunAccess> {
    return this.accessFor(run.tenant, { id: run.id, topic: run.topic, chat: run.chat, depth: run.depth }, hooks);
  }

  private async accessFor(tenant: TenantPath, context: RunContext, hooks: Omit<RunHooks, 'owner'>): Promise<RunAccess> {
    if (this.deps.runtime.gatedAccess === 'https') {
      const endpoint = await this.deps.gated.openRunEndpoint(tenant, context, hooks);
      return { gated: { url: endpoint.url, token: endpoint.token, ca: endpoint.caPem }, close: () => endpoint.close(), beginTurn: endpoint.beginTurn };
    }
    return this.deps.gated.openRunSocket(tenant, context, { ...hooks, owner: process.getuid?.() === 0 ? AGENT_OWNER : undefined });
  }

  /** A run whose node was lost: queued again once (turn-plan.ts recoveryFor), failed if it was itself a re-run. */
  private lost(run: StartedRun, log: Logger): void {
    const { runs } = this.deps;
    if (recoveryFor(run) === 'requeue') {
      runs.requeue([run.id], 'its node was lost; queued again');
      log.warn('turn lost with its node: queued again');
      return;
    }
    const claimed = runs.claimedBy(run.id);
    const outcome = { status: 'failed' as const, text: 'the agent was lost with its node twice; send the message again' };
    runs.finish(run, outcome, planEffects(run.tenant, claimed, runs.delegationsFor(claimed), outcome));
    log.error('turn lost with its node twice: failed');
  }

  private turnInput(run: StartedRun, tenant: TenantConfig): TurnInput {
    const fm = tenant.persona.frontmatter;
    const env = this.deps.secretsFor?.(run.tenant, fm.env) ?? {};
    return {
      version: TURN_VERSION,
      tenant: run.tenant,
      run: run.id,
      topic: run.topic,
      ...sessionFor(this.deps.gated.store.topic(run.tenant, run.topic)),
      harness: fm.harness ?? this.deps.config.defaultHarness,
      model: fm.model ?? null,
      script: fm.script,
      messages: run.messages.map(({ id, kind, sender, chat, text, at }) => ({ id, kind, sender, chat, text, at })),
      env,
    };
  }

  /** A turn's, a coordinator's or (with `worker`) a worker's container. */
  private containerOptions(
    run: { id: string; tenant: string },
    tenant: TenantConfig,
    socketPath: string | undefined,
    limits: ResolvedLimits,
    egress: Egress | null,
    log: Logger,
    worker?: { scratchDir: string; briefFile: string },
  ): Docker.ContainerCreateOptions {
    const { config } = this.deps;
    const tenantDir = realpathSync(tenant.dir);
    ensureHome(tenantDir);
    const webDir = tenant.persona.frontmatter.web === true ? ensureWeb(tenantDir) : undefined;
    const mounts = resolveMounts(tenant.persona.frontmatter.mounts, {
      forbidden: [this.deps.tenantsDir, this.deps.dataDir],
    });
    for (const d of mounts.denied) log.warn(`extra mount refused: ${d}`);
    for (const e of mounts.errors) log.warn({ file: e.file, line: e.line }, `mount allowlist: ${e.message}`);
    return containerSpec({
      instance: config.instance,
      tenant: run.tenant,
      runId: run.id,
      image: this.deps.image,
      tenantDir,
      homeDir: join(tenantDir, HOME_DIR),
      webDir,
      socketPath: socketPath === undefined ? undefined : realpathSync(socketPath),
      runnerDir: realpathSync(config.runnerDir),
      limits,
      extraMounts: mounts.mounts,
      // PERSONA.md `environment:` first, so warren's own variables (identity, egress proxy) always win.
      env: {
        ...this.environmentOf(run.tenant, tenant),
        ...egress?.env,
        WARREN_TENANT: run.tenant,
        WARREN_TIER: String(tierOf(run.tenant)),
        WARREN_RUN: run.id,
      },
      network: egress ? { name: egress.network, dns: egress.dns } : undefined,
      worker: worker ? { scratchDir: realpathSync(worker.scratchDir), briefFile: realpathSync(worker.briefFile) } : undefined,
    });
  }

  /** The tenant's `environment:` with its ancestors' underneath; an ancestor without a config stops the turn. */
  private environmentOf(tenant: TenantPath, config: TenantConfig): Record<string, string> {
    const ancestors = this.deps.gated.registry.ancestorConfigs(tenant);
    if (!ancestors) throw new Error(`an ancestor of ${tenant} has no valid configuration, so its environment is unknown`);
    return effectiveEnvironment(
      config.persona.frontmatter.environment,
      ancestors.map((a) => a.persona.frontmatter.environment),
    );
  }

  /** Start-up: nothing of this instance is running yet, so every container of it is an orphan. */
  private async reconcile(): Promise<void> {
    const { runs, runtime, log } = this.deps;
    runs.clearInstanceLeases();
    const removed = await runtime.removeExcept(this.deps.config.instance, [], log);
    if (removed.length) log.warn({ removed: removed.length }, 'removed orphan containers of this instance');
    const inFlight = runs.inFlight();
    // Their output stops here: a re-run is a new run with output of its own.
    for (const run of inFlight) this.deps.output?.ended(run.id, 'interrupted');
    const again = inFlight.filter((run) => recoveryFor(run) === 'requeue');
    runs.requeue(again.map((run) => run.id));
    for (const run of again) log.warn({ run: run.id, tenant: run.tenant }, 'turn interrupted by a restart: queued again');
    for (const run of inFlight) {
      if (recoveryFor(run) !== 'requeue') {
        const claimed = runs.claimedBy(run.id);
        const outcome = { status: 'failed' as const, text: 'the agent was interrupted twice by a gateway restart; send the message again' };
        runs.finish(run, outcome, planEffects(run.tenant, claimed, runs.delegationsFor(claimed), outcome));
        log.error({ run: run.id, tenant: run.tenant }, 'turn interrupted twice: failed');
      }
    }
    this.workers.reconcile();
  }
}

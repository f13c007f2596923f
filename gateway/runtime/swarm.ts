// The Swarm engine: each run is a one-shot service (a replicated job, swarm-spec.ts) on whichever node its placement
// allows. The turn reaches the task as a docker secret made for the run and removed after it, never in the service
// spec or its environment; output comes back through the service's logs; how it ended is read from its task.
// `docker` is a manager's API (the gateway runs on a manager).
import type Docker from 'dockerode';
import { PassThrough, type Readable } from 'node:stream';
import { LABELS } from '../../core/container.js';
import type { Logger } from '../../core/log.js';
import type { TenantPath } from '../../core/tenant-path.js';
import { assertCanonicalMountSources } from '../container-spec.js';
import { runOutput } from './output-lines.js';
import type { AgentRunOptions, AgentRuntime, RunContainer, RunResult } from './runtime.js';
import { swarmServiceName, swarmServiceSpec } from './swarm-spec.js';
import { taskVerdict, type TaskView } from './swarm-task.js';

/** Docker's limit on a secret's size: a turn bigger than this cannot go to a Swarm run. */
export const MAX_SECRET_BYTES = 500 * 1024;

export interface SwarmRuntimeOptions {
  /** A manager's API. */
  docker: Docker;
  /** PERSONA.md `placement:` of a tenant (already validated); none: any node. */
  placementFor?: (tenant: TenantPath) => readonly string[];
  /** How often the run's task is looked at (default 500 ms). */
  pollMs?: number;
  /** After the task ended, how long its last log lines may take to arrive (default 3 s). */
  logDrainMs?: number;
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

async function ignoreGone(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (error) {
    if (statusCode(error) !== 404) throw error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SwarmRuntime implements AgentRuntime {
  readonly kind = 'swarm';
  /** Runs reach gated over HTTPS: a unix socket on the manager means nothing on another node. */
  readonly gatedAccess = 'https' as const;
  private readonly docker: Docker;
  private readonly pollMs: number;
  private readonly logDrainMs: number;
  /** Container name -> service id of the runs this process has going (what stop() acts on). */
  private readonly services = new Map<string, string>();

  constructor(private readonly options: SwarmRuntimeOptions) {
    this.docker = options.docker;
    this.pollMs = options.pollMs ?? 500;
    this.logDrainMs = options.logDrainMs ?? 3000;
  }

  /** Fails unless the daemon is a Swarm manager: a clear start-up error rather than a failed first turn. */
  async assertManager(): Promise<void> {
    const info = (await this.docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    if (info.Swarm?.LocalNodeState !== 'active' || info.Swarm.ControlAvailable !== true) {
      throw new Error('WARREN_RUNTIME=swarm needs the gateway on a Swarm manager (docker swarm init, or join as a manager)');
    }
  }

  async run(spec: Docker.ContainerCreateOptions, opts: AgentRunOptions): Promise<RunResult> {
    const labels = spec.Labels ?? {};
    const runId = labels[LABELS.run];
    const tenant = labels[LABELS.tenant];
    if (!runId || !tenant || !labels[LABELS.instance]) throw new Error('a run spec without its instance, tenant and run labels');
    // The sources must be canonical here; every node sees the same paths (the shared tenant tree, docs/scale-out.md).
    assertCanonicalMountSources(spec);
    const turn = Buffer.from(opts.stdin, 'utf8');
    if (turn.length > MAX_SECRET_BYTES) {
      throw new Error(`the turn is ${turn.length} bytes; a Swarm run takes its turn as a docker secret of at most ${MAX_SECRET_BYTES}`);
    }
    const name = spec.name!;
    const log = opts.log.child({ service: swarmServiceName(runId), name });
    const placement = this.options.placementFor?.(tenant) ?? [];
    await this.ensureNetwork(spec.HostConfig?.NetworkMode);

    const secretName = `${swarmServiceName(runId)}-turn`;
    const secret = (await this.docker.createSecret({ Name: secretName, Labels: { ...labels }, Data: turn.toString('base64') })) as { id: string };
    let service: Docker.Service | undefined;
    let logs: Readable | undefined;
    try {
      const serviceSpec = swarmServiceSpec(spec, { placement, turnSecret: { id: secret.id, name: secretName }, stopGraceS: opts.stopGraceS ?? 5 });
      service = await this.docker.createService(serviceSpec as Docker.CreateServiceOptions);
      this.services.set(name, service.id);
      const output = runOutput(opts, log);
      logs = await this.followLogs(service, output);
      const result = await this.watch(service, name, opts, log);
      await this.drain(logs);
      if (output.dropped) log.warn('run output above the log budget was dropped');
      log.info({ ...result, containerId: undefined }, 'swarm run finished');
      return result;
    } finally {
      logs?.destroy();
      this.services.delete(name);
      // Always, also on error: the service first (it holds the secret), then the secret.
      if (service) await ignoreGone(service.remove()).catch((error) => log.error({ err: error }, 'could not remove the service'));
      await this.removeSecret(secret.id, log);
    }
  }

  /** Polls the task until it ends; times the run out through the same stop path as stop(). */
  private async watch(service: Docker.Service, name: string, opts: AgentRunOptions, log: Logger): Promise<RunResult> {
    const createdAt = Date.now();
    let startedAt: number | null = null;
    let placed = false;
    let timedOut = false;
    let waitingWhy: string | null = null;
    let failures = 0;
    let containerId = '';
    for (;;) {
      let task: TaskView | undefined;
      let nodeState: string | undefined;
      let hostname: string | undefined;
      try {
        task = await this.taskOf(service.id);
        if (task?.NodeID) ({ state: nodeState, hostname } = await this.nodeOf(task.NodeID));
        failures = 0;
      } catch (error) {
        // A manager busy electing a leader answers errors for a moment; a few in a row end the run.
        if (++failures >= 10) throw error;
        log.warn({ err: error }, 'could not read the task; trying again');
        await sleep(this.pollMs);
        continue;
      }
      if (task === undefined && (await this.isGone(service.id))) {
        // Removed with its service (the timeout, stop(), a reconcile): SIGTERM, grace, SIGKILL, gone.
        return { exitCode: null, timedOut, oomKilled: false, durationMs: Date.now() - (startedAt ?? createdAt), containerId: containerId || service.id };
      }
      const verdict = taskVerdict(task, nodeState);
      containerId = task?.Status?.ContainerStatus?.ContainerID ?? containerId;
      if ((verdict.kind === 'placed' || verdict.kind === 'running') && !placed) {
        placed = true;
        opts.onPlaced?.({ node: hostname ?? verdict.node, task: verdict.task });
        log.info({ node: hostname ?? verdict.node, task: verdict.task }, 'run placed');
      }
      if (verdict.kind === 'running') startedAt ??= Date.now();
      const now = Date.now();
      const result = (extra: Partial<RunResult>): RunResult => ({
        exitCode: null,
        timedOut,
        oomKilled: false,
        durationMs: now - (startedAt ?? createdAt),
        containerId: containerId || service.id,
        ...extra,
      });
      switch (verdict.kind) {
        case 'exited':
          return result({ exitCode: verdict.exitCode, oomKilled: verdict.oomKilled });
        case 'rejected':
          throw new Error(`node ${hostname ?? task?.NodeID ?? '?'} could not start the run: ${verdict.why}`);
        case 'lost':
          log.warn({ why: verdict.why }, 'run lost with its node');
          return result({ lost: true });
      }
      // Said once per reason, not once per poll.
      if (verdict.kind === 'waiting' && verdict.why && verdict.why !== waitingWhy) log.info({ why: verdict.why }, 'run waits for a node');
      waitingWhy = verdict.kind === 'waiting' ? verdict.why : null;
      // The time limit counts from the start, like a local container's; a run no node takes fails at it too.
      const clock = startedAt ?? createdAt;
      if (!timedOut && now - clock >= opts.timeoutMs) {
        if (startedAt === null) {
          const why = verdict.kind === 'waiting' && verdict.why ? `: ${verdict.why}` : '';
          throw new Error(`no node started the run within ${opts.timeoutMs} ms${why}`);
        }
        timedOut = true;
        log.warn({ timeoutMs: opts.timeoutMs }, 'run timed out; stopping its task');
        await this.stopService(service.id);
      }
      await sleep(this.pollMs);
    }
  }

  private async taskOf(serviceId: string): Promise<TaskView | undefined> {
    let tasks: TaskView[];
    try {
      tasks = (await this.docker.listTasks({ filters: { service: [serviceId] } })) as TaskView[];
    } catch (error) {
      if (statusCode(error) === 404) return undefined; // the service is gone, and its tasks with it
      throw error;
    }
    // A job of one completion that is never restarted has one task; the newest counts if Swarm made another.
    return tasks.sort((a, b) => String((b as { CreatedAt?: string }).CreatedAt).localeCompare(String((a as { CreatedAt?: string }).CreatedAt)))[0];
  }

  private async isGone(serviceId: string): Promise<boolean> {
    try {
      await this.docker.getService(serviceId).inspect();
      return false;
    } catch (error) {
      if (statusCode(error) === 404) return true;
      throw error;
    }
  }

  private async nodeOf(nodeId: string): Promise<{ state: string | undefined; hostname: string | undefined }> {
    const node = (await this.docker.getNode(nodeId).inspect()) as { Status?: { State?: string }; Description?: { Hostname?: string } };
    return { state: node.Status?.State, hostname: node.Description?.Hostname };
  }

  private async followLogs(service: Docker.Service, output: ReturnType<typeof runOutput>): Promise<Readable> {
    const stream = (await service.logs({ follow: true, stdout: true, stderr: true } as Docker.ContainerLogsOptions)) as unknown as Readable;
    const out = new PassThrough();
    const err = new PassThrough();
    this.docker.modem.demuxStream(stream, out, err);
    stream.on('end', () => {
      out.end();
      err.end();
    });
    stream.on('close', () => {
      out.end();
      err.end();
    });
    stream.on('error', () => undefined); // a node lost mid-run breaks it; the task says how the run ended
    output.follow(out, 'stdout');
    output.follow(err, 'stderr');
    return stream;
  }

  /** The last lines of a finished task arrive a little after it ended: wait until the stream is quiet or ends. */
  private async drain(stream: Readable): Promise<void> {
    const quietMs = Math.min(500, this.logDrainMs);
    const until = Date.now() + this.logDrainMs;
    let lastData = Date.now();
    let ended = false;
    const onData = () => (lastData = Date.now());
    const onEnd = () => (ended = true);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    while (!ended && Date.now() < until && Date.now() - lastData < quietMs) await sleep(50);
    stream.off('data', onData);
  }

  private async stopService(serviceId: string): Promise<void> {
    // Removing the service stops its task: SIGTERM, the spec's StopGracePeriod, SIGKILL, then the container goes.
    await ignoreGone(this.docker.getService(serviceId).remove());
  }

  private async removeSecret(id: string, log?: Logger): Promise<void> {
    // The secret is in use until the task is gone; the task goes a moment after its service.
    for (let i = 0; i < 40; i++) {
      try {
        await ignoreGone(this.docker.getSecret(id).remove());
        return;
      } catch (error) {
        if (statusCode(error) !== 400 && statusCode(error) !== 409 && statusCode(error) !== 500) break;
        await sleep(250);
      }
    }
    log?.error({ secret: id }, 'could not remove the turn secret; the next reconcile removes it');
  }

  /** The task's network must exist as a Swarm network: a missing one would fail every run on a node later. */
  private async ensureNetwork(name: string | undefined): Promise<void> {
    if (!name || name === 'none') return; // swarm-spec refuses it with the reason
    let info: { Scope?: string };
    try {
      info = (await this.docker.getNetwork(name).inspect()) as { Scope?: string };
    } catch (error) {
      if (statusCode(error) === 404) throw new Error(`the run's network ${name} does not exist on the Swarm`);
      throw error;
    }
    if (info.Scope !== 'swarm') throw new Error(`the run's network ${name} is ${info.Scope ?? 'not'} scoped, not a Swarm overlay`);
  }

  async stop(name: string, _graceS: number): Promise<void> {
    const id = this.services.get(name);
    if (!id) return; // not running here (any more)
    await this.stopService(id);
  }

  async list(instance: string): Promise<RunContainer[]> {
    if (instance.length === 0) throw new Error('instance is empty');
    const services = await this.docker.listServices({ filters: { label: [`${LABELS.instance}=${instance}`] } });
    const out: RunContainer[] = [];
    for (const s of services) {
      const labels = s.Spec?.Labels ?? {};
      // The daemon's filter, checked again: another instance's runs are never ours to touch.
      if (labels[LABELS.instance] !== instance) continue;
      const task = await this.taskOf(s.ID).catch(() => undefined);
      out.push({ id: s.ID, runId: labels[LABELS.run] ?? '', tenant: labels[LABELS.tenant] ?? '', state: task?.Status?.State ?? 'unknown' });
    }
    return out;
  }

  /** Removes this instance's services whose run is not live, and every turn secret of a run that is not live. */
  async removeExcept(instance: string, live: Iterable<string>, log?: Logger): Promise<string[]> {
    const keep = new Set(live);
    const removed: string[] = [];
    for (const s of await this.list(instance)) {
      if (keep.has(s.runId)) continue;
      await ignoreGone(this.docker.getService(s.id).remove());
      removed.push(s.id);
      log?.info({ service: s.id, runId: s.runId, tenant: s.tenant }, 'removed orphan service');
    }
    const secrets = (await this.docker.listSecrets({ filters: { label: [`${LABELS.instance}=${instance}`] } })) as Array<{
      ID: string;
      Spec?: { Labels?: Record<string, string> };
    }>;
    for (const secret of secrets) {
      const labels = secret.Spec?.Labels ?? {};
      if (labels[LABELS.instance] !== instance || keep.has(labels[LABELS.run] ?? '')) continue;
      await this.removeSecret(secret.ID, log);
    }
    return removed;
  }
}

// Egress for the Swarm backend, run by `warren up` on a manager: every tenant's tasks join an internal overlay of
// their own, and crackbox runs on every node as a global service attached to all of them (crackbox/swarm/node.ts in
// the image images/crackbox.ts builds). The manager owns the policy: it pushes a snapshot of the allowlists
// (snapshot.ts) as a Docker config named by its digest, and rolls the service onto it.
//
// Consistency rule: egressFor(tenant) returns only when EVERY ready node runs a crackbox task with the current
// snapshot and the tenant's overlay, so a task started after it is confined by the policy of that moment wherever it
// lands and wherever the service's virtual IP sends its traffic. An allowlist edit is pushed in the background as
// soon as the registry reports it; until the roll-out completes (seconds), a node may still answer with the previous
// snapshot, and a turn that starts meanwhile waits for it. A broken allowlist is in the snapshot as broken: deny all.
import type Docker from 'dockerode';
import type { Egress, EgressService, EgressStarter } from '../../core/egress.js';
import { componentLogger, silentLogger, type Logger } from '../../core/log.js';
import { tenantPathProblem, type TenantPath } from '../../core/tenant-path.js';
import { LABELS } from '../../core/container.js';
import type { EgressConfig } from '../egress-config.js';
import type { RegistryView } from '../policy-cache.js';
import { allowlistStateOf } from '../tenant-allowlists.js';
import { buildSnapshot, encodeSnapshot, gatedTarget, snapshotDigest, type InfrastructureTarget } from './snapshot.js';
import {
  ROLE,
  ROLE_LABEL,
  configName,
  convergence,
  crackboxServiceSpec,
  outNetworkCreateOptions,
  outNetworkName,
  overlayCreateOptions,
  overlayOf,
  serviceName,
  swarmEgressOf,
  type Overlay,
} from './spec.js';

export interface SwarmEgressOptions {
  instance: string;
  /** A client of a Swarm manager's daemon. */
  docker: Docker;
  registry: RegistryView;
  config: EgressConfig;
  /** The crackbox image (images/crackbox.ts), present on every node or pullable by every node. */
  image: string;
  /** gated's HTTPS endpoint as runs are given it: every tenant's tasks may CONNECT to exactly its address and port. */
  gatedUrl?: string;
  /** Environment of the node processes (WARREN_EGRESS_NODE_UPSTREAM, WARREN_LOG_LEVEL). */
  nodeEnv?: Record<string, string>;
  log?: Logger;
  /** How long a roll-out may take before egressFor fails (default 120 s). */
  convergeTimeoutMs?: number;
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SwarmEgress implements EgressService {
  private readonly log: Logger;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private outNetworkId = '';
  private pushTimer: NodeJS.Timeout | undefined;
  private readonly onChange = () => this.schedulePush();
  private readonly infrastructure: InfrastructureTarget[];

  private constructor(private readonly options: SwarmEgressOptions) {
    this.log = options.log ?? silentLogger();
    // Throws for a gated URL that names no IPv4 address: the tasks could not reach gated, so warren up stops.
    this.infrastructure = options.gatedUrl ? [gatedTarget(options.gatedUrl)] : [];
  }

  /** Checks the daemon is a Swarm manager, creates the way-out network and rolls out this instance's overlays. */
  static async start(options: SwarmEgressOptions): Promise<SwarmEgress> {
    const egress = new SwarmEgress(options);
    const info = (await options.docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    if (info.Swarm?.LocalNodeState !== 'active' || info.Swarm.ControlAvailable !== true) {
      throw new Error('the Swarm egress needs a Swarm manager (docker swarm init, or run warren on a manager node)');
    }
    egress.outNetworkId = await egress.ensureOutNetwork();
    const { overlays } = await egress.overlays();
    if (overlays.length > 0) await egress.serialised(() => egress.converge());
    options.registry.on('changed', egress.onChange);
    options.registry.on('removed', egress.onChange);
    return egress;
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** An allowlist edit goes out on its own, a moment after the last of a burst of changes. */
  private schedulePush(): void {
    if (this.stopped) return;
    clearTimeout(this.pushTimer);
    this.pushTimer = setTimeout(() => {
      this.serialised(async () => {
        if (!this.stopped && (await this.overlays()).overlays.length > 0) await this.converge();
      }).catch((error: Error) => this.log.error({ err: error }, 'could not push the egress policy to the nodes'));
    }, 200);
  }

  egressFor(tenant: TenantPath): Promise<Egress> {
    return this.serialised(async () => {
      if (this.stopped) throw new Error('the Swarm egress is stopped');
      const problem = tenantPathProblem(tenant);
      if (problem) throw new Error(`invalid tenant ${JSON.stringify(tenant)}: ${problem}`);
      const overlay = await this.ensureOverlay(tenant);
      const configName = await this.converge();
      const service = serviceName(this.options.instance);
      const tasks = await this.options.docker.listTasks({ filters: { service: [service] } });
      return swarmEgressOf(tasks as never, overlay, { configName, service, proxyPort: this.options.config.proxyPort });
    });
  }

  private async ensureOutNetwork(): Promise<string> {
    const name = outNetworkName(this.options.instance);
    const found = (await this.options.docker.listNetworks({ filters: { name: [name] } })).find((n) => n.Name === name);
    if (found) {
      if (found.Labels?.[LABELS.instance] !== this.options.instance || found.Driver !== 'overlay') {
        throw new Error(`a network named ${name} exists but is not this instance's crackbox network`);
      }
      return found.Id;
    }
    const created = await this.options.docker.createNetwork(outNetworkCreateOptions(this.options.instance));
    return created.id;
  }

  /** This instance's valid overlays, and the problems of labelled networks that must not be used. */
  private async overlays(): Promise<{ overlays: Overlay[]; problems: Map<TenantPath, string> }> {
    const { instance } = this.options;
    const infos = await this.options.docker.listNetworks({ filters: { label: [`${LABELS.instance}=${instance}`], driver: ['overlay'] } });
    const overlays: Overlay[] = [];
    const problems = new Map<TenantPath, string>();
    for (const info of infos) {
      const tenant = info.Labels?.[LABELS.tenant];
      if (!tenant) continue; // the way-out network
      const r = overlayOf(info, instance);
      if ('overlay' in r) {
        if (overlays.some((o) => o.tenant === tenant)) problems.set(tenant, `tenant ${tenant} has several overlays; remove the extra ones`);
        else overlays.push(r.overlay);
      } else {
        problems.set(tenant, r.problem);
        this.log.error(`unusable tenant overlay: ${r.problem}`);
      }
    }
    return { overlays: overlays.filter((o) => !problems.has(o.tenant)), problems };
  }

  private async ensureOverlay(tenant: TenantPath): Promise<Overlay> {
    const find = async () => {
      const { overlays, problems } = await this.overlays();
      const problem = problems.get(tenant);
      if (problem) throw new Error(problem);
      return overlays.find((o) => o.tenant === tenant) ?? null;
    };
    const existing = await find();
    if (existing) return existing;
    try {
      await this.options.docker.createNetwork(overlayCreateOptions(this.options.instance, tenant));
    } catch (error) {
      if (statusCode(error) !== 409) throw new Error(`could not create the overlay of tenant ${tenant}: ${(error as Error).message}`);
    }
    // The manager lists a new overlay (with its subnet) a moment after creating it.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const created = await find();
      if (created) {
        this.log.info({ tenant, network: created.name, subnet: created.subnet }, 'tenant overlay created');
        return created;
      }
      if (Date.now() > deadline) throw new Error(`the overlay of tenant ${tenant} is missing right after it was created`);
      await sleep(100);
    }
  }

  /** Pushes the current snapshot and overlays to the service and waits until every ready node runs them. */
  private async converge(): Promise<string> {
    const { docker, instance, config, registry } = this.options;
    const { overlays } = await this.overlays();
    const nodes = await docker.listNodes();
    const snapshot = buildSnapshot({
      instance,
      dnsPort: config.dnsPort,
      proxyPort: config.proxyPort,
      base: config.base,
      networks: overlays.map((o) => ({ tenant: o.tenant, network: o.name, subnet: o.subnet })),
      allowedRanges: config.allowedRanges,
      nodeAddresses: nodes.map((n) => n.Status?.Addr ?? '').filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a)),
      infrastructure: this.infrastructure,
      stateOf: (t) => allowlistStateOf(registry.get(t)),
    });
    const text = encodeSnapshot(snapshot);
    const name = configName(instance, snapshotDigest(text));
    const cfg = await this.ensureConfig(name, text);
    const networks = overlays.map((o) => o.id).sort();
    const spec = crackboxServiceSpec({
      instance,
      image: this.options.image,
      outNetwork: this.outNetworkId,
      overlays: networks,
      config: { id: cfg, name },
      lowestPort: Math.min(config.dnsPort, config.proxyPort),
      env: this.options.nodeEnv ?? {},
    });
    const service = docker.getService(serviceName(instance));
    let current: { Spec?: unknown; Version: { Index: number } } | null = null;
    try {
      current = await service.inspect();
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
    if (!current) {
      await docker.createService(spec as unknown as Docker.CreateServiceOptions);
      this.log.info({ service: spec.Name, config: name, overlays: networks.length }, 'crackbox service created');
    } else if (JSON.stringify(this.comparable(current.Spec)) !== JSON.stringify(this.comparable(spec))) {
      await service.update({ _query: { version: current.Version.Index }, _body: spec } as never);
      this.log.info({ service: spec.Name, config: name, overlays: networks.length }, 'crackbox service updated');
    }
    await this.waitForConvergence(name, [this.outNetworkId, ...networks]);
    await this.removeStaleConfigs(name);
    return name;
  }

  /** The parts of a service spec that matter for the policy: a difference means a roll-out. */
  private comparable(spec: unknown) {
    const s = spec as ReturnType<typeof crackboxServiceSpec> | undefined;
    const c = s?.TaskTemplate?.ContainerSpec;
    return {
      image: c?.Image,
      env: c?.Env,
      config: c?.Configs?.map((x) => x.ConfigName),
      networks: (s?.TaskTemplate?.Networks ?? []).map((n) => n.Target).sort(),
    };
  }

  private async ensureConfig(name: string, text: string): Promise<string> {
    const { docker, instance } = this.options;
    const found = (await docker.listConfigs({ filters: { name: [name] } })).find((c) => c.Spec?.Name === name);
    if (found) return found.ID;
    const created = (await docker.createConfig({
      Name: name,
      Labels: { [LABELS.instance]: instance, [ROLE_LABEL]: ROLE },
      Data: Buffer.from(text).toString('base64'),
    })) as { id?: string; ID?: string };
    const id = created.id ?? created.ID;
    if (!id) throw new Error(`docker did not return the id of config ${name}`);
    return id;
  }

  private async waitForConvergence(config: string, networks: string[]): Promise<void> {
    const { docker, instance } = this.options;
    const deadline = Date.now() + (this.options.convergeTimeoutMs ?? 120_000);
    let waiting: string[] = [];
    while (Date.now() < deadline) {
      const [nodes, tasks] = await Promise.all([
        docker.listNodes(),
        docker.listTasks({ filters: { service: [serviceName(instance)] } }),
      ]);
      const r = convergence(nodes as never, tasks as never, { configName: config, networks });
      if (r.done) return;
      waiting = r.waiting;
      await sleep(250);
    }
    throw new Error(`crackbox is not running the current egress policy on every node yet (waiting for ${waiting.join(', ')})`);
  }

  private async removeStaleConfigs(keep: string): Promise<void> {
    const { docker, instance } = this.options;
    const configs = await docker.listConfigs({ filters: { label: [`${LABELS.instance}=${instance}`, `${ROLE_LABEL}=${ROLE}`] } });
    for (const c of configs) {
      if (c.Spec?.Name === keep) continue;
      // Still mounted by a task that is shutting down: it goes with the next push.
      await docker.getConfig(c.ID).remove().catch(() => undefined);
    }
  }

  /** Removes the service, its configs and (unless networks are kept) the overlays. Call after every task is gone. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.pushTimer);
    this.options.registry.off('changed', this.onChange);
    this.options.registry.off('removed', this.onChange);
    await this.queue.catch(() => undefined);
    const { docker, instance } = this.options;
    await docker.getService(serviceName(instance)).remove().catch((error) => {
      if (statusCode(error) !== 404) this.log.warn({ err: error }, 'could not remove the crackbox service');
    });
    // The service's tasks leave the networks a moment after the service is gone.
    const deadline = Date.now() + 30_000;
    const tasksLeft = () =>
      docker.listTasks({ filters: { service: [serviceName(instance)] } }).then(
        (tasks) => tasks.length,
        (error) => {
          if (statusCode(error) === 404) return 0; // the service (and with it the filter's subject) is gone
          throw error;
        },
      );
    while (Date.now() < deadline && (await tasksLeft()) > 0) await sleep(250);
    await this.removeStaleConfigs('');
    const networks = this.options.config.keepNetworks ? [] : (await this.overlays()).overlays.map((o) => o.id);
    // The manager accepts a removal while the service's tasks still release the network, and may keep it a while:
    // removals are repeated until the networks are gone (bounded).
    let left = [...networks, this.outNetworkId];
    const until = Date.now() + 60_000;
    while (left.length > 0) {
      for (const id of left) await docker.getNetwork(id).remove().catch(() => undefined);
      const present = new Set((await docker.listNetworks()).map((n) => n.Id));
      left = left.filter((id) => present.has(id));
      if (left.length === 0) break;
      if (Date.now() > until) {
        this.log.warn({ networks: left }, 'could not remove these crackbox networks (still in use?)');
        break;
      }
      await sleep(500);
    }
    this.log.info('swarm egress stopped');
  }
}

/**
 * The core/egress.ts starter `warren up` uses with the Swarm runtime (WARREN_RUNTIME=swarm): its `egressFor` returns
 * `{ network: <tenant overlay>, dns: [<crackbox VIP on it>], env: <proxy at that VIP>, scope: 'swarm' }`.
 */
export function swarmEgressStarter(
  config: EgressConfig,
  opts: { image: string | ((docker: Docker) => Promise<string>); nodeEnv?: Record<string, string> },
): EgressStarter {
  return async ({ instance, docker, registry, log, gatedUrl }) =>
    (async () => {
      const image = typeof opts.image === 'string' ? opts.image : await opts.image(docker);
      return SwarmEgress.start({ instance, docker, registry, config, image, gatedUrl, nodeEnv: opts.nodeEnv, log: componentLogger(log, 'crackbox') });
    })().catch(
      (error: Error) => {
        throw new Error(`the Swarm egress could not start (${error.message})`);
      },
    );
}

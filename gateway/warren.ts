// `warren up` as a library: gated and the gateway in one process, sharing one database. Egress arrives as an
// EgressStarter (core/egress.ts): cli/start-warren.ts supplies crackbox's, so the gateway never imports crackbox. The
// entry point and the tests both start warren through cli/start-warren.ts.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import Docker from 'dockerode';
import type { Db } from '../core/db.js';
import type { EgressService, EgressStarter } from '../core/egress.js';
import { componentLogger, logger as makeLogger, type Logger } from '../core/log.js';
import { openWarrenDb } from '../core/warren-db.js';
import { Gated } from '../gated/broker.js';
import { ensureAgentImage } from '../images/build.js';
import { gatewayConfig, type GatewayConfig } from './config.js';
import { LiveOutput } from './live/capture.js';
import { outputBounds } from './live/chunks.js';
import { LiveHub } from './live/hub.js';
import { RunOutputStore } from './live/output-store.js';
import { createHttpApi, listen, type HttpDeps } from './http.js';
import { createWebServer } from './web/server.js';
import { ApiTokens } from './http/api-tokens.js';
import { Metrics } from './http/metrics.js';
import { ReadFacade } from './read/facade.js';
import { TenantFiles } from './read/tenant-files.js';
import { GATEWAY_MIGRATIONS } from './migrations.js';
import { ensureOperatorToken } from './operator-token.js';
import { gatewaySecrets, type GatewaySecrets } from './secrets.js';
import { OutboxView } from './outbox-view.js';
import { RunStore } from './run-store.js';
import { DockerRuntime } from './runtime/docker.js';
import type { AgentRuntime } from './runtime/runtime.js';
import { SwarmRuntime } from './runtime/swarm.js';
import { httpOptionsFromEnv } from '../gated/http/open.js';
import type { TenantPath } from '../core/tenant-path.js';
import { subtreePlacement } from '../core/tree/persona.js';
import { TurnLoop, type TurnLoopDeps } from './turns.js';
import type { AdapterFactory } from './channels/adapter.js';
import { Delivery } from './channels/delivery.js';
import type { RetryPolicy } from './channels/delivery-plan.js';
import { ChannelHub } from './channels/hub.js';
import { ChannelInbound, type CommandsHook } from './channels/inbound-sink.js';
import { ADAPTER_FACTORIES } from './channels/index.js';
import { classroomCommands } from './channels/commands.js';
import { ClassroomStore } from './channels/users.js';
import { channelCredentials } from './channels/credentials.js';
import { webChannels } from './channels/http-routes.js';
import { withDashboard } from './dashboard/routes.js';
import { DashboardSessions } from './dashboard/sessions.js';
import { forConversation, statusReport } from './status.js';

export interface WarrenOptions {
  tenantsDir: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  log?: Logger;
  docker?: Docker;
  /** Serve the HTTP API (default true). */
  http?: boolean;
  /** More routes on the HTTP server (web chat, webhooks). */
  extraRoutes?: HttpDeps['extraRoutes'];
  onRunEnd?: TurnLoopDeps['onRunEnd'];
  /** Tests force coordinator races through these. */
  coordinatorHooks?: TurnLoopDeps['coordinatorHooks'];
  /** Where a cluster runtime placed each run. */
  onPlaced?: TurnLoopDeps['onPlaced'];
  /** Replaces the engine WARREN_RUNTIME picks (tests bring their own). */
  runtime?: AgentRuntime;
  secretsFor?: TurnLoopDeps['secretsFor'];
  /** Starts egress once gated is up; omitted: containers get no network at all. */
  egress?: EgressStarter;
  redactorFor?: (tenant: string) => ((text: string) => string) | undefined;
  /** The channel adapters to start (default ADAPTER_FACTORIES); tests add their own. */
  adapterFactories?: readonly AdapterFactory[];
  /** A world's channel credential (the sealed store of `warren channels token`); default: none. */
  credentialFor?: (world: string, name: string) => string | null;
  /** Admin chat commands (classroom roles), asked before routing. */
  commands?: CommandsHook;
  /** Delivery retries (tests shorten them). */
  deliveryRetry?: RetryPolicy;
}

export interface GatewayInfo {
  pid: number;
  url: string | null;
  /** The web listener's base URL (published sites), when it runs. */
  webUrl?: string | null;
  instance: string;
}

export function gatewayInfoPath(dataDir: string): string {
  return join(dataDir, 'gateway.json');
}

/** What a started Warren holds (the parts it stops again, and what callers read). */
interface WarrenParts {
  config: GatewayConfig;
  db: Db;
  gated: Gated;
  runs: RunStore;
  loop: TurnLoop;
  outbox: OutboxView;
  url: string | null;
  http: Server | null;
  dataDir: string;
  log: Logger;
  /** Egress (crackbox) when it was started, else null. */
  egress: EgressService | null;
  secrets: GatewaySecrets | null;
  inbound: ChannelInbound | null;
  channels: ChannelHub | null;
  delivery: Delivery | null;
  /** Runs' live output: the capture (its store and hub inside). */
  output: LiveOutput | null;
  outputRetention: NodeJS.Timeout | null;
  dashboard: DashboardSessions | null;
  /** The web listener (published sites), when the HTTP side runs. */
  web: Server | null;
  /** Its base URL, e.g. http://127.0.0.1:7381 */
  webUrl: string | null;
}

/**
 * What runs the containers (WARREN_RUNTIME): the local daemon, or the Swarm this host manages. A Swarm run reaches
 * gated over HTTPS from another node, so swarm needs gated's HTTPS listener (WARREN_GATED_HTTP).
 */
async function startRuntime(config: GatewayConfig, docker: Docker, gated: Gated): Promise<AgentRuntime> {
  if (config.runtime === 'docker') return new DockerRuntime(docker);
  if (!gated.httpListener) {
    throw new Error('WARREN_RUNTIME=swarm needs gated over HTTPS: set WARREN_GATED_HTTP=host:port (an address the nodes reach)');
  }
  const runtime = new SwarmRuntime({
    docker,
    placementFor: (tenant: TenantPath) =>
      subtreePlacement(tenant, (path) => {
        const state = gated.registry.get(path);
        if (!state) return undefined;
        return state.config ? (state.config.persona.frontmatter.placement ?? []) : 'broken';
      }),
  });
  await runtime.assertManager();
  return runtime;
}

export class Warren {
  readonly config: GatewayConfig;
  readonly db: Db;
  readonly gated: Gated;
  readonly runs: RunStore;
  readonly loop: TurnLoop;
  readonly outbox: OutboxView;
  readonly url: string | null;
  readonly egress: EgressService | null;
  readonly inbound: ChannelInbound | null;
  readonly channels: ChannelHub | null;
  readonly delivery: Delivery | null;
  readonly output: LiveOutput | null;
  readonly webUrl: string | null;
  private readonly http: Server | null;
  private readonly dataDir: string;
  private readonly log: Logger;
  private readonly secrets: GatewaySecrets | null;
  private readonly outputRetention: NodeJS.Timeout | null;
  private readonly dashboard: DashboardSessions | null;
  private readonly web: Server | null;

  private constructor(parts: WarrenParts) {
    this.config = parts.config;
    this.db = parts.db;
    this.gated = parts.gated;
    this.runs = parts.runs;
    this.loop = parts.loop;
    this.outbox = parts.outbox;
    this.url = parts.url;
    this.egress = parts.egress;
    this.inbound = parts.inbound;
    this.channels = parts.channels;
    this.delivery = parts.delivery;
    this.output = parts.output;
    this.webUrl = parts.webUrl;
    this.http = parts.http;
    this.dataDir = parts.dataDir;
    this.log = parts.log;
    this.secrets = parts.secrets;
    this.outputRetention = parts.outputRetention;
    this.dashboard = parts.dashboard;
    this.web = parts.web;
  }

  /** A one-time link that logs the operator into the dashboard (null without the HTTP server). */
  loginLink(): string | null {
    return this.url && this.dashboard ? `${this.url}/login/${this.dashboard.loginCode({ kind: 'operator' })}` : null;
  }

  static async start(options: WarrenOptions): Promise<Warren> {
    const log = options.log ?? makeLogger('warren');
    const config = gatewayConfig(options.dataDir, options.env);
    const docker = options.docker ?? new Docker();
    try {
      await docker.ping();
    } catch (error) {
      throw new Error(`Docker is not reachable (${(error as Error).message}); run scripts/ensure-docker, or start dockerd`);
    }
    if (!existsSync(join(config.runnerDir, 'runner', 'main.js'))) {
      throw new Error(`the agent runner is not built (${config.runnerDir}/runner/main.js is missing); run "npm run build"`);
    }
    const imagesLog = componentLogger(log, 'images');
    const image = config.image ?? (await ensureAgentImage({ docker, progress: (m: string) => imagesLog.info(m) })).tag;

    // Each part that starts registers how to undo it, so a failure half-way leaves nothing running.
    const undo: (() => unknown)[] = [];
    try {
      const db = openWarrenDb(options.dataDir, GATEWAY_MIGRATIONS);
      undo.push(() => db.close());
      const token = ensureOperatorToken(options.dataDir);
      // Channel credentials (a world's bot token) are the gateway's own; the key may come from the environment, which
      // gatewaySecrets clears from process.env, so they take their copy first.
      const credentials = channelCredentials(options.dataDir, componentLogger(log, 'channels'), { env: { ...(options.env ?? process.env) } });
      undo.push(() => credentials.close());
      const secrets = gatewaySecrets(options.dataDir, componentLogger(log, 'secrets'), options.env ?? process.env);
      undo.push(() => secrets.close());
      const redactorFor = options.redactorFor ?? ((tenant: string) => secrets.redactorFor(tenant));
      const bounds = outputBounds(options.env ?? process.env);
      const outputLog = componentLogger(log, 'live-output');
      const outputStore = new RunOutputStore(db, bounds);
      const output = new LiveOutput(outputStore, new LiveHub(outputStore, { log: outputLog }), redactorFor, outputLog);
      undo.push(() => output.hub.closeAll());
      const pruneOutput = () => {
        try {
          const n = outputStore.pruneEndedBefore(new Date(Date.now() - bounds.retentionMs));
          if (n > 0) outputLog.info({ runs: n }, 'pruned the live output of runs past its retention');
        } catch (error) {
          outputLog.error({ err: error }, 'could not prune live output');
        }
      };
      pruneOutput();
      const outputRetention = setInterval(pruneOutput, Math.min(bounds.retentionMs, 3600_000));
      outputRetention.unref();
      undo.push(() => clearInterval(outputRetention));
      let wakeLoop = () => undefined as void;
      const gated = await Gated.start({
        tenantsDir: options.tenantsDir,
        dataDir: options.dataDir,
        db,
        log: componentLogger(log, 'gated'),
        redactorFor,
        onRunCall: (call) => {
          output.toolCall(call); // through the gateway: run_output has one writer
          // A worker spawned or cancelled: the pool looks at once rather than at its next poll.
          if (call.outcome === 'ok' && (call.tool === 'spawn_worker' || call.tool === 'cancel_worker')) wakeLoop();
        },
        http: httpOptionsFromEnv(options.env ?? process.env),
      });
      undo.push(() => gated.stop());
      // Containers only ever get a network that egress has locked down (or none at all without egress).
      const egress = options.egress
        ? await options.egress({ instance: config.instance, docker, registry: gated.registry, db, dataDir: options.dataDir, log, gatedUrl: gated.httpUrl ?? undefined })
        : null;
      if (egress) undo.push(() => egress.stop());
      const runs = new RunStore(db, config.instance, gated.store);
      const runtime = options.runtime ?? (await startRuntime(config, docker, gated));
      let delivery: Delivery | null = null;
      const loop = new TurnLoop({
        gated,
        runtime,
        runs,
        config,
        image,
        tenantsDir: options.tenantsDir,
        dataDir: options.dataDir,
        log: componentLogger(log, 'turns'),
        onRunEnd: (run, outcome) => {
          delivery?.wake(); // its rows are visible now
          options.onRunEnd?.(run, outcome);
        },
        secretsFor: options.secretsFor ?? ((tenant, only) => secrets.forRun(tenant, only)),
        redactorFor,
        egressFor: egress ? (tenant) => egress.egressFor(tenant) : undefined,
        output,
        coordinatorHooks: options.coordinatorHooks,
        onPlaced: (runId, placement) => {
          runs.setPlacement(runId, placement); // `warren runs` shows it
          options.onPlaced?.(runId, placement);
        },
      });
      wakeLoop = () => loop.wake();
      const outbox = new OutboxView(db);
      const read = ReadFacade.forGated(db, gated, outbox);
      // The web-facing channels (webhooks, web chat): their routes on the HTTP server, their adapters in the hub.
      const web = webChannels({ store: gated.store, outbox, log: componentLogger(log, 'channels') });
      let http: Server | null = null;
      let url: string | null = null;
      let dashboard: DashboardSessions | null = null;
      let webServer: Server | null = null;
      let webUrl: string | null = null;
      if (options.http !== false) {
        const activeRuns = () => loop.activeRuns().length;
        dashboard = new DashboardSessions();
        const server = createHttpApi(withDashboard({
          token,
          tokens: new ApiTokens(db),
          store: gated.store,
          registry: gated.registry,
          outbox,
          read,
          files: new TenantFiles(options.tenantsDir),
          metrics: new Metrics(db, activeRuns, gated.audit.db),
          secrets,
          log: componentLogger(log, 'http'),
          onAccepted: () => loop.wake(),
          activeRuns,
          liveOutput: output.hub,
          coordinatorView: (tenant) => loop.coordinatorView(tenant),
          extraRoutes: (app) => {
            app.route('/', web.routes); // the public channel routes, /hook/* and /chat/*: their own credentials
            options.extraRoutes?.(app);
          },
        }, dashboard));
        const address = await listen(server, config.http.host, config.http.port);
        undo.push(() => new Promise((resolve) => server.close(resolve)));
        http = server;
        url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
        // Published sites get their own listener: never the API's origin (docs/web.md).
        webServer = createWebServer({
          sites: {
            vhost: (host) => gated.store.vhost(host),
            publishes: (tenant) => gated.registry.get(tenant)?.config?.persona.frontmatter.web === true,
            tenantDir: (tenant) => {
              const config = gated.registry.get(tenant)?.config;
              return config?.persona.frontmatter.web === true ? config.dir : undefined;
            },
          },
          quotaBytes: config.web.quotaBytes,
          log: componentLogger(log, 'web'),
        });
        const webAddress = await listen(webServer, config.web.host, config.web.port);
        const started = webServer;
        undo.push(() => new Promise((resolve) => started.close(resolve)));
        webUrl = `http://${webAddress.family === 'IPv6' ? `[${webAddress.address}]` : webAddress.address}:${webAddress.port}`;
      }
      await loop.start();
      undo.push(() => loop.stop());
      // Channels start after the turn loop and stop before it: an inbound message always finds a loop to wake.
      const channelsLog = componentLogger(log, 'channels');
      // The classroom's admin commands, unless the caller brings its own; /new resets the topic the router would use.
      const commands: CommandsHook = options.commands ?? classroomCommands({
        classroom: new ClassroomStore(db, gated.store),
        groupExists: (tenant) => gated.registry.get(tenant) !== undefined,
        topicFor: (event, tenant) => inbound.topicOf(event, tenant),
        wake: () => loop.wake(),
        workStatus: (tenant, topic) => {
          const snapshot = read.status(tenant, loop.coordinatorView(tenant));
          return statusReport(topic === null ? snapshot : forConversation(snapshot, topic)).text;
        },
        log: channelsLog,
      });
      const inbound: ChannelInbound = new ChannelInbound({
        db, store: gated.store, registry: gated.registry, log: channelsLog, onStored: () => loop.wake(), commands,
      });
      const hub = new ChannelHub({
        factories: options.adapterFactories ?? [...ADAPTER_FACTORIES, ...web.factories],
        worlds: () => gated.registry.list().map((t) => t.path).filter((p) => !p.includes('/')),
        credentialFor: options.credentialFor ?? ((world, name) => credentials.credentialFor(world, name)),
        sink: inbound,
        env: options.env ?? process.env,
        dataDir: options.dataDir,
        log: channelsLog,
      });
      await hub.start();
      undo.push(() => hub.stop());
      credentials.close(); // adapters are made at start; a later look-up opens the store again
      delivery = new Delivery({
        db, store: gated.store, adapterFor: (chat, tenant) => hub.adapterFor(chat, tenant), log: channelsLog, policy: options.deliveryRetry,
      });
      delivery.start();
      undo.push(() => delivery?.stop());
      const info: GatewayInfo = { pid: process.pid, url, webUrl, instance: config.instance };
      writeFileSync(gatewayInfoPath(options.dataDir), JSON.stringify(info) + '\n', { mode: 0o600 });
      log.info({ url, instance: config.instance, runtime: runtime.kind, image, tenants: gated.sockets().size }, 'warren is up');
      return new Warren({
        config, db, gated, runs, loop, outbox, url, http, dataDir: options.dataDir, log, egress, secrets, inbound, channels: hub, delivery, output,
        outputRetention, dashboard, web: webServer, webUrl,
      });
    } catch (error) {
      for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => undefined);
      throw error;
    }
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    const webClosed = new Promise<void>((resolve) => (this.web ? this.web.close(() => resolve()) : resolve()));
    this.web?.closeAllConnections();
    this.output?.hub.closeAll();
    this.http?.closeAllConnections(); // SSE streams would otherwise hold close() open
    await closed;
    await webClosed;
    await this.delivery?.stop();
    await this.channels?.stop();
    await this.loop.stop();
    if (this.outputRetention) clearInterval(this.outputRetention);
    await this.egress?.stop(); // after the loop: no container is left on a network when its rules go
    await this.gated.stop();
    this.secrets?.close();
    this.db.close();
    rmSync(gatewayInfoPath(this.dataDir), { force: true });
    this.log.info('warren stopped');
  }
}

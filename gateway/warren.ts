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
import { createHttpApi, listen, type HttpDeps } from './http.js';
import { ApiTokens } from './http/api-tokens.js';
import { Metrics } from './http/metrics.js';
import { ReadFacade } from './read/facade.js';
import { TenantFiles } from './read/tenant-files.js';
import { GATEWAY_MIGRATIONS } from './migrations.js';
import { ensureOperatorToken } from './operator-token.js';
import { gatewaySecrets, type GatewaySecrets } from './secrets.js';
import { OutboxView } from './outbox-view.js';
import { RunStore } from './run-store.js';
import { TurnLoop, type TurnLoopDeps } from './turns.js';

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
  secretsFor?: TurnLoopDeps['secretsFor'];
  /** Starts egress once gated is up; omitted: containers get no network at all. */
  egress?: EgressStarter;
  redactorFor?: (tenant: string) => ((text: string) => string) | undefined;
}

export interface GatewayInfo {
  pid: number;
  url: string | null;
  instance: string;
}

export function gatewayInfoPath(dataDir: string): string {
  return join(dataDir, 'gateway.json');
}

export class Warren {
  private constructor(
    readonly config: GatewayConfig,
    readonly db: Db,
    readonly gated: Gated,
    readonly runs: RunStore,
    readonly loop: TurnLoop,
    readonly outbox: OutboxView,
    readonly url: string | null,
    private readonly http: Server | null,
    private readonly dataDir: string,
    private readonly log: Logger,
    /** Egress (crackbox) when it was started, else null. */
    readonly egress: EgressService | null = null,
    private readonly secrets: GatewaySecrets | null = null,
  ) {}

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
      const secrets = gatewaySecrets(options.dataDir, componentLogger(log, 'secrets'), options.env ?? process.env);
      undo.push(() => secrets.close());
      const redactorFor = options.redactorFor ?? ((tenant: string) => secrets.redactorFor(tenant));
      const gated = await Gated.start({
        tenantsDir: options.tenantsDir,
        dataDir: options.dataDir,
        db,
        log: componentLogger(log, 'gated'),
        redactorFor,
      });
      undo.push(() => gated.stop());
      // Containers only ever get a network that egress has locked down (or none at all without egress).
      const egress = options.egress
        ? await options.egress({ instance: config.instance, docker, registry: gated.registry, db, dataDir: options.dataDir, log })
        : null;
      if (egress) undo.push(() => egress.stop());
      const runs = new RunStore(db, config.instance, gated.store);
      const loop = new TurnLoop({
        gated,
        docker,
        runs,
        config,
        image,
        tenantsDir: options.tenantsDir,
        dataDir: options.dataDir,
        log: componentLogger(log, 'turns'),
        onRunEnd: options.onRunEnd,
        secretsFor: options.secretsFor ?? ((tenant, only) => secrets.forRun(tenant, only)),
        redactorFor,
        egressFor: egress ? (tenant) => egress.egressFor(tenant) : undefined,
      });
      const outbox = new OutboxView(db);
      let http: Server | null = null;
      let url: string | null = null;
      if (options.http !== false) {
        const activeRuns = () => loop.activeRuns().length;
        const server = createHttpApi({
          token,
          tokens: new ApiTokens(db),
          store: gated.store,
          registry: gated.registry,
          outbox,
          read: new ReadFacade({
            db,
            outbox,
            tenants: () => gated.describeTenants(),
            explain: (tenant, tool, args) => gated.explainCall(tenant, tool, args),
          }),
          files: new TenantFiles(options.tenantsDir),
          metrics: new Metrics(db, activeRuns),
          secrets,
          log: componentLogger(log, 'http'),
          onAccepted: () => loop.wake(),
          activeRuns,
          extraRoutes: options.extraRoutes,
        });
        const address = await listen(server, config.http.host, config.http.port);
        undo.push(() => new Promise((resolve) => server.close(resolve)));
        http = server;
        url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      }
      await loop.start();
      const info: GatewayInfo = { pid: process.pid, url, instance: config.instance };
      writeFileSync(gatewayInfoPath(options.dataDir), JSON.stringify(info) + '\n', { mode: 0o600 });
      log.info({ url, instance: config.instance, image, tenants: gated.sockets().size }, 'warren is up');
      return new Warren(config, db, gated, runs, loop, outbox, url, http, options.dataDir, log, egress, secrets);
    } catch (error) {
      for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => undefined);
      throw error;
    }
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    this.http?.closeAllConnections(); // SSE streams would otherwise hold close() open
    await closed;
    await this.loop.stop();
    await this.egress?.stop(); // after the loop: no container is left on a network when its rules go
    await this.gated.stop();
    this.secrets?.close();
    this.db.close();
    rmSync(gatewayInfoPath(this.dataDir), { force: true });
    this.log.info('warren stopped');
  }
}
